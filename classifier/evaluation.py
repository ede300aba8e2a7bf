"""Scoring the classifier: the held-out split, a keyword baseline, per-source cross-validation, the dev set."""

from __future__ import annotations

import importlib.util
import os
from collections import Counter
from pathlib import Path

from classifier.data import PROJECT_ROOT, Example
from classifier.types import CATEGORIES

DEFAULT_SCORER = PROJECT_ROOT.parent / "shared" / "tools" / "score_triage.py"
DEFAULT_DEV_SET = PROJECT_ROOT.parent / "shared" / "dev_set" / "dev.jsonl"


def scorer_path() -> Path:
    return Path(os.environ.get("TRIAGE_SCORER", DEFAULT_SCORER))


def load_scorer(path: Path | None = None):
    """The shared score_triage.py module (one scorer for every project), imported from its file."""
    path = Path(path or scorer_path())
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("score_triage", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def prediction_row(example_id: str, triage) -> dict:
    """What `triage classify` writes for one message (the shape score_triage.py reads)."""
    # Built by hand rather than with dataclasses.asdict, which deep-copies and costs more than classifying.
    return {
        "id": example_id,
        "category": triage.category,
        "confidence": triage.confidence,
        "exclusion_reason": triage.exclusion_reason,
        "urgent": triage.urgent,
        "advocate": triage.advocate,
        "adjustments": list(triage.adjustments),
        "needs_review": triage.needs_review,
        "evidence": [
            {"start": e.start, "end": e.end, "label": e.label, "text": e.text} for e in triage.evidence
        ],
    }


def predict(model, examples: list[Example]) -> dict[str, dict]:
    from classifier.decide import decide

    return {ex.id: prediction_row(ex.id, decide(model, ex.text, ex.received_at)) for ex in examples}


def score(gold: dict[str, dict], pred: dict[str, dict], scorer=None) -> dict:
    scorer = scorer or load_scorer()
    if scorer is None:
        raise FileNotFoundError(f"score_triage.py not found at {scorer_path()} (set TRIAGE_SCORER)")
    return scorer.score(gold, pred)


def quick_metrics(model, examples: list[Example]) -> dict:
    """The scorer's summary on `examples` (recorded in the model file at training time)."""
    gold = {ex.id: ex.gold() for ex in examples}
    pred = predict(model, examples)
    try:
        result = score(gold, pred)
    except FileNotFoundError:
        correct = sum(1 for i in gold if gold[i]["category"] == pred[i]["category"])
        return {"n": len(gold), "accuracy": round(correct / len(gold), 4)}
    return {k: v for k, v in result.items() if k not in ("per_class", "confusion")}


def confusion_counts(gold: dict[str, dict], pred: dict[str, dict]) -> Counter:
    return Counter((gold[i]["category"], pred.get(i, {}).get("category", "other")) for i in gold)


def write_confusion_png(counts: Counter, path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    matrix = np.array([[counts[(g, p)] for p in CATEGORIES] for g in CATEGORIES])
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(CATEGORIES)), CATEGORIES, rotation=35, ha="right")
    ax.set_yticks(range(len(CATEGORIES)), CATEGORIES)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title)
    top = matrix.max() or 1
    for g in range(len(CATEGORIES)):
        for p in range(len(CATEGORIES)):
            ax.text(
                p,
                g,
                str(matrix[g, p]),
                ha="center",
                va="center",
                color="white" if matrix[g, p] > top / 2 else "black",
            )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def load_dev_set(path: Path | None = None) -> list[Example]:
    """The shared dev set: scored only, never trained on."""
    from classifier.data import load_file

    path = Path(path or os.environ.get("TRIAGE_DEV_SET", DEFAULT_DEV_SET))
    if not path.exists():
        return []
    return load_file(path, path.parent, strict=False)


def summary_line(result: dict) -> str:
    keys = ("n", "accuracy", "macro_f1", "complaint_recall", "complaint_precision", "exclusion_reason_accuracy",
            "urgent_recall", "urgent_precision", "advocate_f1", "adjustments_f1")  # fmt: skip
    return " ".join(f"{k}={result.get(k)}" for k in keys)

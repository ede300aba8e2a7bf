"""`triage evaluate`: the held-out report beside a keyword baseline, per-source cross-validation, the dev set."""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from collections import defaultdict
from pathlib import Path

from classifier.baseline import baseline_predict
from classifier.data import Example, load_dataset
from classifier.decide import REVIEW_THRESHOLD
from classifier.evaluation import (
    confusion_counts,
    load_dev_set,
    load_scorer,
    predict,
    scorer_path,
    summary_line,
    write_confusion_png,
)
from classifier.training import MODEL_DIR

TARGETS = {
    "macro_f1": 0.92,
    "complaint_recall": 0.97,
    "urgent_recall": 0.98,
    "exclusion_reason_accuracy": 0.85,
    "advocate_f1": 0.90,
    "adjustments_f1": 0.85,
}


def _scorer_report(scorer, gold: dict, pred: dict) -> str:
    """The scorer's own printed report, run on temporary files exactly as on the command line."""
    with tempfile.TemporaryDirectory() as tmp:
        gold_path, pred_path = Path(tmp) / "gold.jsonl", Path(tmp) / "pred.jsonl"
        gold_path.write_text("".join(json.dumps(r) + "\n" for r in gold.values()), encoding="utf-8")
        pred_path.write_text("".join(json.dumps(r) + "\n" for r in pred.values()), encoding="utf-8")
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            scorer.main([str(gold_path), str(pred_path)])
        return buffer.getvalue()


def _targets_line(result: dict) -> str:
    parts = []
    for key, target in TARGETS.items():
        value = result.get(key)
        mark = "ok" if value is not None and value >= target else "BELOW"
        parts.append(f"{key} {value} (target {target}: {mark})")
    return "; ".join(parts)


def calibration_table(
    model, examples: list[Example], bins=(0.0, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01)
) -> list[tuple]:
    """Per confidence bin: how many messages and how many the model got right."""
    from classifier.decide import decide

    rows = defaultdict(lambda: [0, 0])
    for ex in examples:
        triage = decide(model, ex.text, ex.received_at)
        for lo, hi in zip(bins, bins[1:], strict=False):
            if lo <= triage.confidence < hi:
                rows[(lo, hi)][0] += 1
                rows[(lo, hi)][1] += triage.category == ex.category
    return [(lo, min(hi, 1.0), *rows[(lo, hi)]) for lo, hi in zip(bins, bins[1:], strict=False)]


def cross_validate(train: list[Example], folds: int) -> tuple[dict, dict, list[str]]:
    """Grouped by batch file: every fold's test batches were written by a voice the fold never saw."""
    from sklearn.model_selection import GroupKFold

    from classifier.model import compile_models
    from classifier.training import fit_examples

    groups = [ex.batch for ex in train]
    n_groups = len(set(groups))
    folds = min(folds, n_groups)
    pred: dict[str, dict] = {}
    lines = []
    for fold, (fit_idx, test_idx) in enumerate(GroupKFold(n_splits=folds).split(train, groups=groups), 1):
        fit_set = [train[i] for i in fit_idx]
        test_set = [train[i] for i in test_idx]
        models, _ = fit_examples(fit_set)
        compiled = compile_models(models, {"version": f"cv-{fold}"})
        fold_pred = predict(compiled, test_set)
        pred.update(fold_pred)
        batches = sorted({Path(ex.batch).stem for ex in test_set})
        correct = sum(fold_pred[ex.id]["category"] == ex.category for ex in test_set)
        lines.append(
            f"  fold {fold}: {len(test_set):>4} held out, accuracy {correct / len(test_set):.3f}  [{', '.join(batches)}]"
        )
    gold = {ex.id: ex.gold() for ex in train}
    return gold, pred, lines


def run_evaluation(model, scorer=None, dev_set=None, png=None, folds: int = 5, out=print) -> dict:
    scorer_module = load_scorer(scorer)
    if scorer_module is None:
        raise FileNotFoundError(
            f"score_triage.py not found at {scorer or scorer_path()} (use --scorer or TRIAGE_SCORER)"
        )
    dataset = load_dataset()
    meta = model.metadata
    out(f"Model {meta.get('version')} trained {meta.get('trained_at')} on {meta.get('n_train')} examples")
    corrections = sum(1 for ex in dataset.train if ex.is_correction)
    out(f"Staff corrections used in training: {corrections}")
    out(f"Held-out split: {len(dataset.test)} examples from {len(meta.get('test_files', []))} files: "
        + ", ".join(Path(f).stem for f in meta.get("test_files", [])))  # fmt: skip
    results: dict = {}
    if dataset.test:
        gold = {ex.id: ex.gold() for ex in dataset.test}
        pred = predict(model, dataset.test)
        out("\n=== Held-out split: model (score_triage.py) ===")
        out(_scorer_report(scorer_module, gold, pred).rstrip())
        results["held_out"] = scorer_module.score(gold, pred)
        out("\ntargets: " + _targets_line(results["held_out"]))
        base_pred = {ex.id: {"id": ex.id, **baseline_predict(ex.text)} for ex in dataset.test}
        results["baseline"] = scorer_module.score(gold, base_pred)
        out("\n=== Held-out split: keyword-rule baseline ===")
        out(summary_line(results["baseline"]))
        out(f"\n=== Calibration on the held-out split (review threshold {REVIEW_THRESHOLD:.2f}) ===")
        out("  confidence    n  accuracy")
        for lo, hi, n, right in calibration_table(model, dataset.test):
            out(f"  {lo:.2f}-{hi:.2f} {n:>5}  {right / n:.3f}" if n else f"  {lo:.2f}-{hi:.2f} {n:>5}  -")
        review = sum(1 for p in pred.values() if p["needs_review"])
        out(f"  needs_review: {review} of {len(pred)} ({review / len(pred):.1%})")
        png = Path(png or MODEL_DIR / "confusion_heldout.png")
        write_confusion_png(confusion_counts(gold, pred), png, f"Held-out split ({len(gold)} messages)")
        out(f"\nConfusion matrix written to {png}")
    if folds and len(dataset.train) >= 50:
        out(
            f"\n=== Per-source cross-validation ({folds} folds grouped by batch file, training split only) ==="
        )
        gold, pred, lines = cross_validate(dataset.train, folds)
        for line in lines:
            out(line)
        results["cross_validation"] = scorer_module.score(gold, pred)
        out("  overall: " + summary_line(results["cross_validation"]))
    dev = load_dev_set(dev_set)
    if dev:
        gold = {ex.id: ex.gold() for ex in dev}
        pred = predict(model, dev)
        results["dev"] = scorer_module.score(gold, pred)
        out(f"\n=== Dev set ({len(dev)} messages by other authors; scored only, never trained on) ===")
        out(_scorer_report(scorer_module, gold, pred).rstrip())
        dev_texts = {" ".join(ex.text.lower().split()) for ex in dev}
        leaked = sum(1 for ex in dataset.train if " ".join(ex.text.lower().split()) in dev_texts)
        if leaked:
            out(f"WARNING: {leaked} training example(s) repeat a dev-set message word for word")
    return results

"""`triage train`: build the model file from training_data/, and keep it fresh.

The model file (classifier/model/triage.joblib, not in git) records the
training-data hash, the date, the version, the held-out metrics and the
counts it was built from. `ensure_model()` rebuilds it when it is missing, when the hash of
training_data/**/*.jsonl (and splits.toml) has changed, or when the code that
turns text into features (cleaning, rules, dates) has changed.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from classifier.data import TRAINING_DIR, Dataset, Example, data_hash, held_out_files, load_dataset
from classifier.errors import HeldOutDataError, ModelNotTrainedError, TrainingDataError
from classifier.model import FORMAT_VERSION, CompiledModel, check_compiled, compile_models, fit, timestamp

MODEL_DIR = Path(__file__).resolve().parent / "model"
MODEL_PATH = Path(os.environ.get("TRIAGE_MODEL_PATH", MODEL_DIR / "triage.joblib"))
MIN_EXAMPLES = 30
# The model reads what these modules produce, so a change to them makes the model stale too.
_FEATURE_SOURCES = ("textclean.py", "rules.py", "dates.py", "features.py", "model.py")


def features_digest() -> str:
    digest = hashlib.sha256()
    for name in _FEATURE_SOURCES:
        digest.update((Path(__file__).resolve().parent / name).read_bytes())
    return digest.hexdigest()


def prepare_examples(examples: list[Example]):
    from classifier.decide import prepare

    return [prepare(ex.text, ex.received_at)[0] for ex in examples]


def fit_examples(examples: list[Example]):
    docs = prepare_examples(examples)
    models = fit(
        docs,
        [ex.category for ex in examples],
        [ex.exclusion_reason for ex in examples],
        [ex.urgent for ex in examples],
        [ex.advocate for ex in examples],
    )
    return models, docs


def guard_held_out(train: list[Example], training_dir: Path = TRAINING_DIR) -> None:
    """Refuse, loudly, to fit on any example from a held-out file."""
    held_out = set(held_out_files(training_dir))
    leaked = sorted({ex.batch for ex in train if ex.batch in held_out})
    if leaked:
        raise HeldOutDataError(f"refusing to train on held-out test file(s): {', '.join(leaked)}")


def train(training_dir: Path = TRAINING_DIR, model_path: Path | None = None, dataset: Dataset | None = None,
          log=print) -> CompiledModel:  # fmt: skip
    """Fit on every example outside the held-out split, check, score the split, save."""
    model_path = Path(model_path or MODEL_PATH)
    digest = data_hash(training_dir)
    dataset = dataset or load_dataset(training_dir)
    guard_held_out(dataset.train, training_dir)
    if len(dataset.train) < MIN_EXAMPLES:
        raise TrainingDataError(
            f"only {len(dataset.train)} training examples under {training_dir} (need {MIN_EXAMPLES})"
        )
    started = timestamp()
    models, docs = fit_examples(dataset.train)
    metadata = {
        "format": FORMAT_VERSION,
        "version": f"triage-{FORMAT_VERSION}+{digest[:12]}",
        "data_hash": digest,
        "features_digest": features_digest(),
        "trained_at": started,
        "n_train": len(dataset.train),
        "n_test": len(dataset.test),
        "test_files": held_out_files(training_dir),
        "corrections_used": sum(1 for ex in dataset.train if ex.is_correction),
        "dropped_duplicates_of_test": dataset.dropped_duplicates,
    }
    compiled = compile_models(models, metadata)
    worst = check_compiled(models, compiled, docs)
    if worst > 1e-6:
        raise TrainingDataError(f"compiled model disagrees with scikit-learn by {worst:.2e}")
    if dataset.test:
        from classifier.evaluation import quick_metrics

        metadata["metrics"] = quick_metrics(compiled, dataset.test)
    save(compiled, model_path)
    log(
        f"Trained {metadata['version']} on {metadata['n_train']} examples "
        f"({metadata['corrections_used']} staff corrections); held out {metadata['n_test']}."
    )
    if metadata.get("metrics"):
        log("Held-out: " + " ".join(f"{k}={v}" for k, v in metadata["metrics"].items()))
    return compiled


def save(model: CompiledModel, path: Path) -> None:
    """Write atomically, so a process loading the model never reads half a file."""
    import joblib

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        joblib.dump(model, tmp, compress=0)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read_model(path: Path | None = None) -> CompiledModel:
    import joblib

    path = Path(path or MODEL_PATH)
    if not path.exists():
        raise ModelNotTrainedError(path)
    return joblib.load(path)


def is_stale(path: Path | None = None, training_dir: Path = TRAINING_DIR) -> bool:
    path = Path(path or MODEL_PATH)
    if not path.exists():
        return True
    try:
        model = read_model(path)
    except Exception:  # an unreadable or older-format file is simply rebuilt
        return True
    return (
        model.metadata.get("data_hash") != data_hash(training_dir)
        or model.metadata.get("format") != FORMAT_VERSION
        or model.metadata.get("features_digest") != features_digest()
    )

"""Training: deterministic, never on the held-out split, rebuilt when the data changes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from classifier import ADJUSTMENT_CODES, CATEGORIES, EXCLUSION_REASONS, HeldOutDataError
from classifier.data import TRAINING_DIR, data_hash, held_out_files, load_dataset
from classifier.decide import decide
from classifier.model import check_compiled, compile_models
from classifier.training import fit_examples, guard_held_out, is_stale, read_model, train


@pytest.fixture(scope="module")
def dataset():
    return load_dataset()


def small_sample(examples, per_batch=25):
    """A few examples from every batch: enough for every category, fast to train."""
    seen: dict[str, int] = {}
    out = []
    for ex in examples:
        if seen.get(ex.batch, 0) < per_batch:
            seen[ex.batch] = seen.get(ex.batch, 0) + 1
            out.append(ex)
    return out


def test_the_held_out_split_is_whole_files_and_big_enough(dataset):
    files = held_out_files()
    assert files, "training_data/splits.toml names no test files"
    assert all((TRAINING_DIR / f).exists() for f in files)
    total = len(dataset.train) + len(dataset.test)
    assert len(dataset.test) >= 0.2 * total
    assert not {ex.batch for ex in dataset.train} & set(files)
    assert {ex.category for ex in dataset.test} == set(CATEGORIES)
    assert {ex.exclusion_reason for ex in dataset.test if ex.exclusion_reason} == set(EXCLUSION_REASONS)
    assert any(ex.urgent for ex in dataset.test) and any(ex.advocate for ex in dataset.test)
    codes = {
        "interpreter" if c.startswith("interpreter:") else c for ex in dataset.test for c in ex.adjustments
    }
    assert codes == set(ADJUSTMENT_CODES) | {"interpreter"}


def test_training_refuses_held_out_files(dataset):
    with pytest.raises(HeldOutDataError):
        guard_held_out(dataset.train[:5] + dataset.test[:1])


def test_same_data_gives_the_same_model_and_the_same_predictions(dataset):
    sample = small_sample(dataset.train)
    first_models, docs = fit_examples(sample)
    second_models, _ = fit_examples(sample)
    first = compile_models(first_models, {"version": "a"})
    second = compile_models(second_models, {"version": "b"})
    assert first.word_vocab == second.word_vocab and first.char_vocab == second.char_vocab
    assert np.array_equal(first.weights, second.weights)
    assert np.array_equal(first.sigmoid_a, second.sigmoid_a) and np.array_equal(
        first.sigmoid_b, second.sigmoid_b
    )
    for ex in dataset.test[:40]:
        a, b = decide(first, ex.text, ex.received_at), decide(second, ex.text, ex.received_at)
        assert (a.category, a.confidence, a.urgent, a.advocate, a.adjustments) == (
            b.category,
            b.confidence,
            b.urgent,
            b.advocate,
            b.adjustments,
        )
    # and the compiled model reproduces scikit-learn's calibrated probabilities
    assert check_compiled(first_models, first, docs, limit=50) < 1e-9


def test_model_file_records_its_data_and_is_rebuilt_when_stale(tmp_path, dataset):
    data_dir = tmp_path / "training_data"
    (data_dir / "batches").mkdir(parents=True)
    sample = small_sample(dataset.train, per_batch=12)
    by_file: dict[str, list] = {}
    for ex in sample:
        by_file.setdefault(Path(ex.batch).name, []).append(ex)
    for name, examples in by_file.items():
        with (data_dir / "batches" / name).open("w", encoding="utf-8") as fh:
            for ex in examples:
                fh.write(
                    json.dumps(
                        {
                            **ex.gold(),
                            "text": ex.text,
                            "received_at": str(ex.received_at),
                            "source": ex.source,
                        }
                    )
                    + "\n"
                )
    held_out = sorted(by_file)[0]
    (data_dir / "splits.toml").write_text(f'[test]\nfiles = ["batches/{held_out}"]\n', encoding="utf-8")
    model_path = tmp_path / "model" / "triage.joblib"

    assert is_stale(model_path, data_dir)
    train(data_dir, model_path, log=lambda *_: None)
    saved = read_model(model_path)
    assert saved.metadata["data_hash"] == data_hash(data_dir)
    assert saved.metadata["n_test"] == len(by_file[held_out])
    assert {"trained_at", "version", "metrics", "corrections_used"} <= set(saved.metadata)
    assert not is_stale(model_path, data_dir)

    with (data_dir / "batches" / "corrections_staff.jsonl").open("w", encoding="utf-8") as fh:
        ex = sample[0]
        fh.write(
            json.dumps({**ex.gold(), "id": "c-1", "text": ex.text + " (again)", "source": "correction:jo"})
            + "\n"
        )
    assert is_stale(model_path, data_dir)
    train(data_dir, model_path, log=lambda *_: None)
    assert read_model(model_path).metadata["corrections_used"] == 1
    shutil.rmtree(tmp_path / "model")

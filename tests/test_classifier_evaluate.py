"""`triage evaluate`: the shared scorer's report on the held-out split, a baseline, CV, the dev set, a PNG."""

from __future__ import annotations

import pytest

import classifier
from classifier.data import load_dataset
from classifier.evaluation import load_scorer
from classifier.report import cross_validate, run_evaluation


@pytest.fixture(scope="module")
def model():
    return classifier.ensure_model()


def test_evaluate_prints_the_scorer_report_baseline_and_dev_set_and_writes_the_confusion_png(model, tmp_path):
    if load_scorer() is None:
        pytest.skip("../shared/tools/score_triage.py is not here")
    lines: list[str] = []
    png = tmp_path / "confusion.png"
    results = run_evaluation(model, png=png, folds=0, out=lines.append)
    text = "\n".join(lines)
    assert "=== Held-out split: model (score_triage.py) ===" in text
    assert "confusion (gold->predicted):" in text  # the scorer's own report
    assert "keyword-rule baseline" in text
    assert "Staff corrections used in training:" in text
    assert "targets: macro_f1" in text
    assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert results["held_out"]["macro_f1"] > results["baseline"]["macro_f1"]
    if "dev" in results:
        assert "Dev set" in text


def test_cross_validation_is_grouped_by_batch_file():
    train = load_dataset().train
    sample = [ex for i, ex in enumerate(train) if i % 5 == 0]
    gold, pred, lines = cross_validate(sample, folds=2)
    assert set(gold) == set(pred) == {ex.id for ex in sample}
    assert len(lines) == 2
    batches = [set(line.split("[")[1].rstrip("]").split(", ")) for line in lines]
    assert not batches[0] & batches[1]  # no batch on both sides

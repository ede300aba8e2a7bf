"""`classify_many` (the batch path `triage classify` uses) gives exactly what `classify` gives."""

from __future__ import annotations

import io
import json
import random

import pytest

import classifier
from bot.commands.classifier_cmds import classify_stream
from classifier import classify, classify_many
from classifier.data import load_dataset


@pytest.fixture(scope="module", autouse=True)
def model():
    return classifier.ensure_model()


@pytest.fixture(scope="module")
def held_out() -> list[tuple[str, str | None]]:
    return [(ex.text, ex.received_at.isoformat() if ex.received_at else None) for ex in load_dataset().test]


def test_classify_many_over_the_held_out_texts_equals_classify_one_by_one(held_out):
    one_by_one = [classify(text, received_at) for text, received_at in held_out]
    assert classify_many(held_out) == one_by_one  # every field: category, probabilities, evidence...


def test_the_result_does_not_depend_on_the_batch_it_is_in(held_out, monkeypatch):
    sample = random.Random(7).sample(held_out, 300)
    expected = [classify(text, received_at) for text, received_at in sample]
    monkeypatch.setattr(classifier, "BATCH_SIZE", 7)
    assert classify_many(sample) == expected
    monkeypatch.setattr(classifier, "BATCH_SIZE", 1000)
    assert classify_many(list(reversed(sample))) == list(reversed(expected))


def test_odd_texts_in_a_batch_match_classify():
    texts = ["", "   ", "ok", "gas!!", "🙂🔥 boiler", "x" * 100_000, "a\n> quoted\nOn Mon, Bob wrote:\nold"]
    texts += ["Dw i ddim yn hapus gyda'r gwres", "nie jest dobrze, mieszkanie bardzo zimno, proszę o pomoc"]
    assert classify_many(texts) == [classify(t) for t in texts]


def test_a_bad_item_gets_its_exception_in_its_place_and_the_rest_are_classified():
    items = [("boiler broken", "2025-01-06"), (42, None), ("leak in the hall", "not a date"), "thank you Sue"]
    results = classify_many(items, return_exceptions=True)
    assert isinstance(results[1], TypeError) and isinstance(results[2], ValueError)
    assert results[0] == classify("boiler broken", "2025-01-06")
    assert results[3] == classify("thank you Sue")
    with pytest.raises(TypeError):
        classify_many(items)


def test_the_command_gives_the_same_rows_in_batches_as_one_at_a_time(held_out):
    lines = [json.dumps({"id": i, "text": t, "received_at": r}) for i, (t, r) in enumerate(held_out[:60])]
    lines[5] = "not json"
    lines[17] = json.dumps({"id": "bad-date", "text": "hello", "received_at": "last tuesday"})
    payload = ("\n".join(lines) + "\n").encode()
    outputs = []
    for batch_size in (1, 8, 1000):
        stdout, stderr = io.StringIO(), io.StringIO()
        assert classify_stream(io.BytesIO(payload), stdout, stderr, batch_size=batch_size) == (58, 2)
        outputs.append(stdout.getvalue())
        assert stderr.getvalue().count("\n") == 2
    assert outputs[0] == outputs[1] == outputs[2]
    rows = [json.loads(line) for line in outputs[0].splitlines()]
    assert [r.get("id") for r in rows] == [
        None if i == 5 else ("bad-date" if i == 17 else i) for i in range(60)
    ]


def test_the_date_phrase_finders_agree_with_their_patterns():
    import re

    from classifier import dates
    from classifier.rules import normalise

    texts = [normalise(ex.text) for ex in load_dataset().train]
    texts += ["it's still leaking", "distilled", "it hasnt been fixed", "we moved out", "just found out", ""]
    for find, pattern in (
        (dates._finder(dates._ONGOING), dates._ONGOING),
        (dates._has_ended, dates._ENDED),
        (dates._has_recent, dates._RECENT),
    ):
        assert find.literals  # the cheap look-up is in use
        assert [find(t) for t in texts] == [bool(pattern.search(t)) for t in texts]
    unreadable = dates._finder(re.compile(r"\b(?:[ab]c|d)"))
    assert not hasattr(unreadable, "literals") and unreadable("x ac") and not unreadable("xac")


def test_prefix_words_still_match_after_the_rule_pipeline_is_rebuilt():
    from classifier import rules

    text = "my neighbour threatened me and harassed my kids, I am complaining"
    before = rules.analyse(text).tokens
    assert {"cue:asb", "cue:complaint"} <= set(before)
    rules._pipeline.cache_clear()  # what a long-running worker does when the vocabulary is full
    assert rules.analyse(text).tokens == before

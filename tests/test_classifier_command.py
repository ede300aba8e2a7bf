"""`triage classify`: JSON Lines in, JSON Lines out, in order; a bad line never stops the batch."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import classifier
from bot.commands.classifier_cmds import OUTPUT_KEYS, classify_stream

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def model():
    return classifier.ensure_model()


def run(lines: list[bytes]) -> tuple[list[dict], str]:
    stdin = io.BytesIO(b"".join(line + b"\n" for line in lines))
    stdout, stderr = io.StringIO(), io.StringIO()
    classify_stream(stdin, stdout, stderr)
    return [json.loads(line) for line in stdout.getvalue().splitlines()], stderr.getvalue()


def record(**fields) -> bytes:
    return json.dumps(fields).encode()


def test_one_output_line_per_input_line_in_order_with_exactly_the_contract_keys():
    rows, stderr = run(
        [
            record(
                id="a",
                text="My boiler has stopped, can someone come out?",
                received_at="2025-01-06",
                channel="sms",
            ),
            record(id="b", text="Thank you to Sue in the rent team, she was so helpful."),
            record(id=3, text="The man next door plays drum and bass until 4am every night."),
        ]
    )
    assert [r["id"] for r in rows] == ["a", "b", 3]
    for row in rows:
        assert set(row) == set(OUTPUT_KEYS)
        assert row["category"] in classifier.CATEGORIES
        assert isinstance(row["confidence"], float)
        assert isinstance(row["adjustments"], list) and isinstance(row["evidence"], list)
        for evidence in row["evidence"]:
            assert set(evidence) == {"start", "end", "label", "text"}
    assert stderr == ""


def test_bad_lines_get_an_error_row_and_a_message_on_stderr_and_the_batch_goes_on():
    rows, stderr = run(
        [
            b"this is not json",
            record(id="no-text"),
            record(id="number-text", text=42),
            record(id="bad-date", text="hello", received_at="last tuesday"),
            b"[1, 2, 3]",
            record(id="fine", text="My front door lock is stiff, could someone look at it?"),
        ]
    )
    assert [r.get("id") for r in rows] == [None, "no-text", "number-text", "bad-date", None, "fine"]
    assert all(set(r) == {"id", "error"} for r in rows[:5])
    assert rows[5]["category"] in classifier.CATEGORIES
    assert stderr.count("\n") == 5
    assert "line 1" in stderr and "line 2" in stderr


def test_empty_huge_emoji_and_invalid_utf8_texts_are_all_classified():
    huge = ("The damp in my flat is unbearable and nobody has come. " * 2000)[:100_000]
    rows, stderr = run(
        [
            record(id="empty", text=""),
            record(id="huge", text=huge),
            json.dumps(
                {"id": "emoji", "text": "boiler broke again 😡😡 3rd time!!! 🔥"}, ensure_ascii=False
            ).encode(),
            b'{"id": "bad-bytes", "text": "leak in the hall \xff\xfe please help"}',
        ]
    )
    assert [r["id"] for r in rows] == ["empty", "huge", "emoji", "bad-bytes"]
    assert all("category" in r for r in rows), rows
    assert rows[0]["category"] == "other"
    assert stderr == ""


def test_blank_lines_are_skipped():
    rows, _ = run([b"", record(id="x", text="hi"), b"   "])
    assert [r["id"] for r in rows] == ["x"]


def test_the_command_end_to_end_writes_json_lines_and_no_progress_bar_when_not_a_terminal():
    payload = (
        record(id=1, text="Water is pouring through my ceiling light, the electrics have tripped!")
        + b"\n"
        + b"oops\n"
        + record(id=2, text="On behalf of my nan: her front gate hinge is broken.")
        + b"\n"
    )
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "classify"],
        input=payload,
        capture_output=True,
        cwd=PROJECT_ROOT,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert [r.get("id") for r in rows] == [1, None, 2]
    assert rows[0]["urgent"] is True
    assert rows[2]["advocate"] is True
    assert b"line 2" in done.stderr
    assert b"\x1b[" not in done.stderr  # no progress bar escape codes on a pipe


def test_a_long_running_worker_keeps_spacy_vocabulary_bounded(monkeypatch):
    import random
    import string

    from classifier import rules

    monkeypatch.setattr(rules, "_MAX_VOCABULARY", len(rules._pipeline()[0].vocab.strings) + 500)
    rng = random.Random(4)
    for _ in range(200):
        rules.analyse(" ".join("".join(rng.choices(string.ascii_lowercase, k=9)) for _ in range(30)))
    assert len(rules._pipeline()[0].vocab.strings) <= rules._MAX_VOCABULARY + 100
    assert "interpreter:polish" in rules.analyse("she needs a Polish interpreter").adjustments

"""`triage user add` and `triage export-corrections`."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from bot.cli import app as cli
from classifier.data import load_file
from intake import case_actions
from intake.console.demo import DEMO_CASES, seed_case
from intake.models import StaffUser
from intake.settings import get_settings
from intake.staff_users import authenticate, create_user

runner = CliRunner()


@pytest.fixture(autouse=True)
def environment(monkeypatch, database_url, engine, tmp_path):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_user_add_reads_the_password_from_stdin(session):
    result = runner.invoke(
        cli,
        ["user", "add", "Jo.Smith", "--role", "complaints_officer", "--password-stdin"],
        input="a-strong-password\n",
    )
    assert result.exit_code == 0, result.output
    assert "Added jo.smith (complaints officer)." in result.output
    user = session.exec(select(StaffUser).where(StaffUser.username == "jo.smith")).one()
    assert user.role == "complaints_officer" and "a-strong-password" not in user.password_hash
    assert authenticate(session, "jo.smith", "a-strong-password") is not None


def test_user_add_prompts_for_the_password_twice(session):
    result = runner.invoke(
        cli, ["user", "add", "sam", "--role", "agent"], input="another-password\nanother-password\n"
    )
    assert result.exit_code == 0, result.output
    assert session.exec(select(StaffUser).where(StaffUser.username == "sam")).one().role == "agent"


@pytest.mark.parametrize(
    "args,stdin,message",
    [
        (
            ["user", "add", "x", "--role", "boss", "--password-stdin"],
            "a-strong-password\n",
            "Unknown role 'boss'",
        ),
        (["user", "add", "x", "--role", "agent", "--password-stdin"], "short\n", "at least 10 characters"),
        (
            ["user", "add", "bad name!", "--role", "agent", "--password-stdin"],
            "a-strong-password\n",
            "letters, numbers",
        ),
    ],
)
def test_user_add_explains_bad_input_without_a_traceback(args, stdin, message):
    result = runner.invoke(cli, args, input=stdin)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_user_add_refuses_a_duplicate(session):
    create_user(session, "dup", "a-strong-password", "agent")
    session.commit()
    result = runner.invoke(
        cli, ["user", "add", "dup", "--role", "agent", "--password-stdin"], input="a-strong-password\n"
    )
    assert result.exit_code == 2 and "already a user called 'dup'" in result.output


def test_export_corrections_writes_training_data_the_trainer_reads(session, policy, tmp_path):
    officer = create_user(session, "olu", "a-strong-password", "complaints_officer")
    boiler = seed_case(session, policy, DEMO_CASES[3])
    exclusion = seed_case(session, policy, DEMO_CASES[2])
    session.commit()
    case_actions.reclassify(session, policy, boiler, officer, category="asb_report", reason="first go")
    case_actions.reclassify(
        session, policy, boiler, officer, category="complaint", reason="Second report,\nnot fixed"
    )
    case_actions.overturn_exclusion(session, policy, exclusion, officer, reason="No claim has been filed")
    session.commit()

    output = tmp_path / "training_data" / "corrections" / "staff.jsonl"
    result = runner.invoke(cli, ["export-corrections", "--output", str(output)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(rows) == 2  # the boiler case once: the latest correction wins
    boiler_row = next(r for r in rows if r["text"] == DEMO_CASES[3].text)
    assert boiler_row["category"] == "complaint" and boiler_row["exclusion_reason"] is None
    assert boiler_row["source"] == "correction:olu" and boiler_row["channel"] == "sms"
    assert "\n" not in boiler_row["note"] and "Second report, not fixed" in boiler_row["note"]
    assert set(boiler_row) == {
        "id",
        "text",
        "received_at",
        "channel",
        "category",
        "exclusion_reason",
        "urgent",
        "advocate",
        "adjustments",
        "source",
        "note",
    }
    examples = load_file(output, tmp_path / "training_data", strict=True)
    assert {e.category for e in examples} == {"complaint"} and all(e.is_correction for e in examples)


def test_export_corrections_to_stdout(session):
    result = runner.invoke(cli, ["export-corrections", "--output", "-"])
    assert result.exit_code == 0 and result.output == ""

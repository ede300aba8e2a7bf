"""Landlord policy files: shipped profiles true to their documents; bad files refused clearly."""

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from intake.errors import PolicyError
from intake.policy import available_policies, load_policy, parse_policy

MINIMAL = """
name = "test"
landlord = "Test Homes"
[office]
phone = "0100 000 000"
email = "a@example.org"
"""


def triage(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, timeout=60
    )


def test_every_shipped_profile_loads():
    assert set(available_policies()) >= {"code-default", "connect", "connexus", "saha"}
    for name in available_policies():
        assert load_policy(name).name == name


def test_profiles_are_true_to_their_landlords_documents():
    saha, connect, connexus = load_policy("saha"), load_policy("connect"), load_policy("connexus")
    assert saha.timescales.first_contact_days == 1
    assert saha.timescales.stage2_first_contact_days == 2
    assert saha.ombudsman.address == "PO Box 152, Liverpool, L33 7WQ"
    assert (connect.escalation.amount, connect.escalation.unit) == (3, "weeks")
    assert connect.timescales.acknowledge_days == 2
    assert {e.reason for e in connect.exclusions} == {"insurance_claim", "elected_representative"}
    assert connexus.timescales.out_of_time_months == 12
    assert (connexus.escalation.amount, connexus.escalation.unit, connexus.escalation.counted_from) == (
        1,
        "calendar_months",
        "actions_completed",
    )
    assert connexus.office.phone == "03332 31 32 33"
    assert {e.reason for e in connexus.exclusions} >= {
        "out_of_time",
        "legal_proceedings",
        "criminal_allegation",
    }


def test_a_minimal_policy_takes_the_code_defaults():
    policy = parse_policy(MINIMAL)
    assert policy.timescales.acknowledge_days == 5
    assert policy.timescales.stage1_response_days == 10
    assert policy.timescales.stage2_response_days == 20
    assert policy.deadlines(date(2026, 11, 26))["acknowledge_by"] == date(2026, 12, 3)


@pytest.mark.parametrize(
    "key, value",
    [
        ("acknowledge_days", 6),
        ("stage1_response_days", 11),
        ("stage1_extension_max_days", 15),
        ("stage2_response_days", 25),
        ("stage2_extension_max_days", 21),
    ],
)
def test_a_policy_looser_than_the_code_is_refused_naming_the_key(key, value):
    with pytest.raises(PolicyError, match=f"timescales.{key}"):
        parse_policy(MINIMAL + f"[timescales]\n{key} = {value}\n")


def test_a_stricter_policy_is_accepted():
    policy = parse_policy(MINIMAL + "[timescales]\nacknowledge_days = 1\nstage1_response_days = 7\n")
    assert policy.stage_due(1, date(2026, 11, 26)) == date(2026, 12, 7)


@pytest.mark.parametrize(
    "extra, message",
    [
        ('nation = "france"\n', "nation"),
        ('[[exclusions]]\nreason = "too_hard"\nwording = "x"\n', "unknown exclusion reason"),
        ("[timescales]\nacknowledge_days = -1\n", "timescales.acknowledge_days"),
        ('[timescales]\nacknowledge_days = "soon"\n', "timescales.acknowledge_days"),
        ("colour = 3\n", "colour"),
        ("[timescales]\nout_of_time_months = 6\n", "out_of_time_months"),
    ],
)
def test_every_bad_value_gets_a_clear_message(extra, message):
    text = extra + MINIMAL if not extra.startswith("[") else MINIMAL + extra
    with pytest.raises(PolicyError, match=message):
        parse_policy(text)


def test_a_missing_required_setting_is_named():
    with pytest.raises(PolicyError, match="office: is required"):
        parse_policy('name = "x"\nlandlord = "y"\n')


def test_broken_toml_is_reported_as_such():
    with pytest.raises(PolicyError, match="not valid TOML"):
        parse_policy("name = ")


def test_an_extension_beyond_the_limit_is_refused():
    policy = load_policy("code-default")
    with pytest.raises(PolicyError, match="at most 10 working days"):
        policy.extended_due(1, date(2026, 11, 26), 11)


def test_deadlines_command_prints_json(tmp_path):
    result = triage("deadlines", "--received", "2026-11-26", "--policy", "saha")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data == {
        "acknowledge_by": "2026-12-03",
        "stage1_due": "2026-12-17",
        "stage2_due": "2027-01-05",
        "stage1_extension_limit": "2027-01-05",
        "stage2_extension_limit": "2027-02-02",
    }


def test_deadlines_counted_from_the_acknowledgement_date_when_given():
    data = json.loads(triage("deadlines", "--received", "2026-11-26", "--acknowledged", "2026-11-27").stdout)
    assert data["stage1_due"] == "2026-12-11"
    assert data["acknowledge_by"] == "2026-12-03"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--received", "26/11/2026"], "YYYY-MM-DD"),
        (["--received", "2026-02-30"], "YYYY-MM-DD"),
        (["--received", "2026-11-26", "--policy", "nonesuch"], "no policy called 'nonesuch'"),
        (["--received", "2026-11-26", "--acknowledged", "2026-11-01"], "cannot be before"),
    ],
)
def test_deadlines_command_bad_input_is_a_clear_error_not_a_traceback(args, message):
    result = triage("deadlines", *args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_deadlines_command_with_a_looser_policy_file(tmp_path: Path):
    loose = tmp_path / "loose.toml"
    loose.write_text(MINIMAL + "[timescales]\nstage1_response_days = 15\n")
    result = triage("deadlines", "--received", "2026-11-26", "--policy", str(loose))
    assert result.returncode == 2
    assert "timescales.stage1_response_days" in result.stderr
    assert "Traceback" not in result.stderr

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


# The last day to ask for Stage 2 (Policy.escalation_by) ----------------------------------------


@pytest.mark.parametrize("name", ["code-default", "saha"])
def test_a_policy_with_no_escalation_limit_gives_no_date(name):
    # The Code sets no time limit for asking for Stage 2, and neither does saha's procedure.
    policy = load_policy(name)
    assert policy.escalation.amount is None
    for day in (date(2026, 11, 26), date(2026, 12, 24), date(2027, 2, 28)):
        assert policy.escalation_by(day) is None


@pytest.mark.parametrize(
    "responded, last_day",
    [
        (date(2026, 11, 26), date(2026, 12, 17)),  # Thursday: 3 weeks on is a Thursday
        (date(2026, 11, 28), date(2026, 12, 21)),  # 3 weeks on is a Saturday: the next Monday
        # 3 weeks on is Christmas Day; the Monday after is the Boxing Day bank holiday.
        (date(2026, 12, 4), date(2026, 12, 29)),
        (date(2027, 3, 5), date(2027, 3, 30)),  # lands on Good Friday 26 Mar 2027; Easter Monday too
        (date(2027, 2, 7), date(2027, 3, 1)),  # across the end of February
    ],
)
def test_connect_gives_3_weeks_from_the_response_letter(responded, last_day):
    # Connect Complaints Policy 1.8: "within 3 weeks of the date of the previous stage's response letter".
    policy = load_policy("connect")
    assert policy.escalation.counts_from_response
    assert policy.escalation_by(responded) == last_day


@pytest.mark.parametrize(
    "responded, last_day",
    [
        (date(2027, 3, 31), date(2027, 4, 30)),  # 31 March: the last day of April
        (date(2027, 1, 31), date(2027, 3, 1)),  # 28 Feb 2027 is a Sunday
        (date(2028, 1, 31), date(2028, 2, 29)),  # a leap year
        (date(2027, 1, 29), date(2027, 3, 1)),  # 29 Jan: no 29 Feb in 2027, so 28 Feb (Sunday)
        (date(2027, 12, 31), date(2028, 1, 31)),  # across the year
        (date(2026, 7, 31), date(2026, 9, 1)),  # 31 August 2026 is a bank holiday
        (date(2026, 11, 26), date(2026, 12, 29)),  # Saturday 26 Dec, then the Boxing Day holiday
        (date(2027, 11, 27), date(2027, 12, 29)),  # 27 and 28 Dec 2027 are the Christmas holidays
        (date(2026, 11, 16), date(2026, 12, 16)),  # an ordinary weekday
    ],
)
def test_connexus_gives_a_calendar_month_counted_from_the_response(responded, last_day):
    # Connexus 2.8 counts a calendar month from when agreed actions are completed, which we do
    # not record: counted from the response, the date is the earliest the window can end.
    policy = load_policy("connexus")
    assert not policy.escalation.counts_from_response
    assert policy.escalation.window_words == "a calendar month"
    assert policy.escalation_by(responded) == last_day


def test_the_last_day_is_always_a_working_day_and_never_inside_the_window():
    for name in ("connect", "connexus"):
        policy = load_policy(name)
        day = date(2026, 1, 1)
        while day < date(2028, 1, 1):
            last_day = policy.escalation_by(day)
            assert policy.calendar.is_working_day(last_day), (name, day)
            minimum = 21 if name == "connect" else 28
            assert (last_day - day).days >= minimum, (name, day)
            assert (last_day - day).days <= minimum + 7, (name, day)  # at most a Christmas later
            day = date.fromordinal(day.toordinal() + 1)


def test_an_escalation_window_in_working_days_counts_bank_holidays_out():
    policy = parse_policy(MINIMAL + '[escalation]\namount = 20\nunit = "working_days"\n')
    assert policy.escalation.window_words == "20 working days"
    # From Friday 18 Dec 2026: Christmas, Boxing Day (observed 28th) and New Year's Day are skipped.
    assert policy.escalation_by(date(2026, 12, 18)) == date(2027, 1, 20)
    assert policy.escalation_by(date(2026, 11, 26)) == date(2026, 12, 24)


def test_an_escalation_window_in_calendar_days_moves_off_a_bank_holiday():
    policy = parse_policy(MINIMAL + '[escalation]\namount = 28\nunit = "calendar_days"\n')
    assert policy.escalation_by(date(2026, 11, 27)) == date(2026, 12, 29)  # 25 Dec, then the weekend
    assert policy.escalation_by(date(2026, 11, 26)) == date(2026, 12, 24)


def test_the_escalation_date_uses_the_landlords_nation():
    text = '[escalation]\namount = 3\nunit = "weeks"\n'
    england = parse_policy(MINIMAL + text)
    scotland = parse_policy('nation = "scotland"\n' + MINIMAL + text)
    # Saturday 2 Jan 2027 is a Scottish bank holiday, moved to Monday 4 Jan; not in England.
    assert england.escalation_by(date(2026, 12, 12)) == date(2027, 1, 4)
    assert scotland.escalation_by(date(2026, 12, 12)) == date(2027, 1, 5)

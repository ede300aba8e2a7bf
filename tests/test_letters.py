"""Every letter carries what the Complaint Handling Code requires; SMS versions fit two segments."""

from datetime import UTC, date, datetime

import pytest

from intake.cases import NewCase, acknowledge, add_adjustment, open_case, record_advocate
from intake.contacts import find_or_create_contact
from intake.letters import KINDS, long_date, short_date
from intake.notify import send_letter
from intake.policy import load_policy
from intake.sms_text import sms_segments

RECEIVED = datetime(2026, 11, 26, 10, 30, tzinfo=UTC)
SUMMARY = "Your contractor has failed to fix the leaking kitchen roof after three visits since September"
OUTCOME = "the roof repaired properly and the damaged ceiling redecorated"

EXTRA = {
    "exclusion_review": lambda p, c: {
        "reason_words": p.exclusions[0].wording,
        "decision_by": p.exclusion_decision_by(c.received_on),
    },
    "exclusion_decision": lambda p, c: {"reason_words": p.exclusions[0].wording, "decision_note": None},
    "extension_notice": lambda p, c: {
        "stage": 1,
        "extension_reason": "we are waiting for a roofer's report",
        "old_due": date(2026, 12, 10),
        "new_due": date(2026, 12, 24),
    },
    "stage1_decision": lambda p, c: {
        "outcome_words": "upheld",
        "response_text": "We are sorry.",
        "escalation_by": date(2027, 1, 20),
    },
    "stage2_decision": lambda p, c: {
        "outcome_words": "partly upheld",
        "response_text": "We have reviewed it.",
    },
    "stage2_acknowledgement": lambda p, c: {
        "stage2_due": date(2027, 1, 28),
        "escalation_reason": "The roof still leaks.",
    },
}


@pytest.fixture
def complaint(session):
    policy = load_policy("code-default")
    contact = find_or_create_contact(
        session, phone="07700 900123", email="resident@example.org", name="Sam Jones"
    )
    case = open_case(
        session,
        policy,
        contact,
        NewCase(
            category="complaint",
            channel="email",
            received_at=RECEIVED,
            summary=SUMMARY,
            outcome_sought=OUTCOME,
        ),
    )
    acknowledge(session, policy, case, case.received_on, "bot")
    return policy, case


def letter(session, policy, case, kind, channel):
    extra = EXTRA.get(kind, lambda p, c: {})(policy, case)
    rendered, row = send_letter(session, policy, case, kind, channel=channel, to="x", **extra)
    return rendered.body


def test_the_acknowledgement_carries_what_the_code_requires(session, complaint):
    policy, case = complaint
    body = letter(session, policy, case, "acknowledgement", "email")
    assert case.reference in body
    assert SUMMARY in body  # our understanding of the complaint
    assert OUTCOME in body  # the outcome sought
    assert long_date(date(2026, 12, 10)) in body  # stage 1 due, as a date
    assert "support or changes to how we contact you" in body  # proactive adjustments question
    assert policy.office.phone in body and policy.office.email in body
    assert "What happens next" in body
    assert policy.ombudsman.phone in body


def test_the_acknowledgement_lists_adjustments_and_advocate_recorded(session, complaint):
    policy, case = complaint
    add_adjustment(session, case, None, "interpreter:polish", None, source="resident")
    add_adjustment(session, case, None, "sight_loss", None, source="resident")
    record_advocate(
        session,
        case,
        name="Ola Nowak",
        relationship="daughter",
        consent="given",
        consent_method="confirmed by text from the resident's number",
    )
    body = letter(session, policy, case, "acknowledgement", "email")
    assert "an interpreter (Polish)" in body
    assert "large print" in body
    assert "Ola Nowak (daughter)" in body
    assert "recorded your consent" in body


def test_the_exclusion_decision_explains_and_gives_the_ombudsman_right(session, complaint):
    policy, case = complaint
    body = letter(session, policy, case, "exclusion_decision", "email")
    assert policy.exclusions[0].wording in body
    assert "right to ask the Housing Ombudsman" in body
    assert (
        policy.ombudsman.phone in body and policy.ombudsman.email in body and policy.ombudsman.website in body
    )


def test_stage_decisions_say_how_to_escalate_and_give_ombudsman_rights(session, complaint):
    policy, case = complaint
    stage1 = letter(session, policy, case, "stage1_decision", "email")
    assert policy.escalation.wording in stage1
    assert long_date(date(2027, 1, 20)) in stage1
    assert policy.ombudsman.phone in stage1
    stage2 = letter(session, policy, case, "stage2_decision", "email")
    assert "refer your complaint to the Housing Ombudsman now" in stage2
    assert policy.ombudsman.address in stage2


def test_the_extension_notice_gives_the_reason_and_the_new_date(session, complaint):
    policy, case = complaint
    body = letter(session, policy, case, "extension_notice", "sms")
    assert "roofer's report" in body
    assert short_date(date(2026, 12, 24)) in body


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("policy_name", ["code-default", "connect", "connexus", "saha"])
def test_every_sms_letter_fits_in_two_segments(session, complaint, kind, policy_name):
    _, case = complaint
    policy = load_policy(policy_name)
    if kind in ("exclusion_review", "exclusion_decision") and not policy.exclusions:
        pytest.skip("no exclusions in this policy")
    body = letter(session, policy, case, kind, "sms")
    assert case.reference in body
    assert sms_segments(body) <= 2, (len(body), body)


def test_an_sms_acknowledgement_keeps_the_essentials_when_shortened(session, complaint):
    policy, case = complaint
    case.summary = "word " * 200
    add_adjustment(session, case, None, "deaf", None, source="resident")
    body = letter(session, policy, case, "acknowledgement", "sms")
    assert sms_segments(body) <= 2
    assert case.reference in body and short_date(date(2026, 12, 10)) in body and "deaf/BSL" in body


def test_segments_are_counted_like_a_carrier_would():
    assert sms_segments("a" * 160) == 1
    assert sms_segments("a" * 161) == 2
    assert sms_segments("a" * 306) == 2
    assert sms_segments("a" * 307) == 3
    assert sms_segments("€" * 80) == 1  # extension characters take two septets
    assert sms_segments("ł" * 70) == 1  # not GSM-7: UCS-2
    assert sms_segments("ł" * 71) == 2


def test_an_sms_acknowledgement_with_many_adjustments_and_a_representative_fits(session, complaint):
    policy, case = complaint
    for code in (
        "deaf",
        "sight_loss",
        "dyslexia",
        "learning_disability",
        "cognitive",
        "mental_health",
        "mobility",
        "interpreter:tigrinya",
        "written_only",
    ):
        add_adjustment(session, case, None, code, None, source="resident")
    record_advocate(session, case, name="Abel Tesfay", relationship="support worker")
    body = letter(session, policy, case, "acknowledgement", "sms")
    assert sms_segments(body) <= 2, body
    assert case.reference in body and "deaf/BSL" in body and "resident's OK" in body


def test_an_sms_sentence_never_ends_with_two_full_stops(session, complaint):
    policy, case = complaint
    case.summary = "Nobody came last Tuesday."
    body = letter(session, policy, case, "acknowledgement", "sms")
    assert "Nobody came last Tuesday." in body and ".." not in body.replace("...", "")


RESPONDED = date(2026, 12, 4)


@pytest.mark.parametrize("channel", ["sms", "email"])
def test_the_stage1_decision_gives_the_last_day_to_ask_for_stage2(session, complaint, channel):
    _, case = complaint
    policy = load_policy("connect")  # 3 weeks from the letter: Christmas, then Boxing Day
    escalation_by = policy.escalation_by(RESPONDED)
    assert escalation_by == date(2026, 12, 29)
    body = letter_with(session, policy, case, channel, escalation_by)
    if channel == "sms":
        assert f"(by {short_date(escalation_by)})" in body
        assert sms_segments(body) <= 2, body
    else:
        assert f"Please ask by {long_date(escalation_by)}." in body
        assert policy.escalation.wording in body
    assert "at least" not in body


@pytest.mark.parametrize("channel", ["sms", "email"])
def test_a_window_counted_from_agreed_actions_is_given_as_at_least(session, complaint, channel):
    # Connexus counts a calendar month from when agreed actions are completed, which we do not
    # record: the letter must not claim the window ends on the date we count from the response.
    _, case = complaint
    policy = load_policy("connexus")
    escalation_by = policy.escalation_by(RESPONDED)
    assert escalation_by == date(2027, 1, 4)
    body = letter_with(session, policy, case, channel, escalation_by)
    if channel == "sms":
        assert f"(at least until {short_date(escalation_by)})" in body
        assert sms_segments(body) <= 2, body
    else:
        assert f"You can ask at least until {long_date(escalation_by)}" in body
        assert "later if anything we agreed to do is still to be done" in body
    assert "ask by" not in body.lower()


@pytest.mark.parametrize("channel", ["sms", "email"])
@pytest.mark.parametrize("policy_name", ["code-default", "saha"])
def test_no_date_is_given_when_the_policy_sets_no_limit(session, complaint, channel, policy_name):
    _, case = complaint
    policy = load_policy(policy_name)
    body = letter_with(session, policy, case, channel, policy.escalation_by(RESPONDED))
    assert "ask by" not in body.lower() and "at least until" not in body
    assert "Stage 2" in body


def letter_with(session, policy, case, channel, escalation_by):
    rendered, _ = send_letter(
        session,
        policy,
        case,
        "stage1_decision",
        channel=channel,
        to="x",
        outcome_words="partly upheld",
        response_text="We will replace the roof felt.",
        escalation_by=escalation_by,
    )
    return rendered.body

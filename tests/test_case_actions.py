"""Case actions staff take in the console, on the real database (SQLite or PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlmodel import Session, select

from intake import case_actions as actions
from intake.cases import current_stage
from intake.console.demo import DEMO_CASES, DemoCase, seed_case
from intake.errors import CaseActionError, ConflictError
from intake.letters import long_date, short_date
from intake.models import AuditEvent, Case, CaseStage, Correction, Message, Outbox
from intake.policy import load_policy
from intake.staff_users import create_user


@pytest.fixture
def staff(session):
    users = {
        key: create_user(session, name, "a-long-password", role)
        for key, name, role in (
            ("agent", "ann", "agent"),
            ("agent2", "bob", "agent"),
            ("complaints_officer", "olu", "complaints_officer"),
        )
    }
    session.commit()
    return users


def _complaint(session, policy) -> Case:
    case = seed_case(session, policy, DEMO_CASES[0])
    session.commit()
    return case


def _exclusion(session, policy) -> Case:
    case = seed_case(session, policy, DEMO_CASES[2])
    session.commit()
    return case


def _actions(session, case) -> list[str]:
    return session.exec(
        select(AuditEvent.action).where(AuditEvent.case_id == case.id).order_by(AuditEvent.id)
    ).all()


def test_two_agents_claiming_at_once_one_wins_and_the_other_is_told(engine, session, policy, staff):
    case = _complaint(session, policy)
    version = case.version
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def attempt(role_user):
        with Session(engine, expire_on_commit=False) as own:
            own_case = own.get(Case, case.id)
            user = own.merge(role_user)
            barrier.wait()
            try:
                actions.claim(own, own_case, user, version=version)
                own.commit()
                outcomes[user.username] = "won"
            except ConflictError as exc:
                own.rollback()
                outcomes[user.username] = str(exc)

    threads = [threading.Thread(target=attempt, args=(staff[r],)) for r in ("agent", "agent2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes.values()).count("won") == 1
    loser_message = next(v for v in outcomes.values() if v != "won")
    assert case.reference in loser_message
    session.expire_all()
    fresh = session.get(Case, case.id)
    winner = next(k for k, v in outcomes.items() if v == "won")
    assert fresh.assigned_to_id == {u.username: u.id for u in staff.values()}[winner]
    assert _actions(session, fresh).count("case.claimed") == 1


def test_claiming_a_case_someone_already_has_names_them(session, policy, staff):
    case = _complaint(session, policy)
    actions.claim(session, case, staff["agent"])
    session.commit()
    with pytest.raises(ConflictError, match="ann has already claimed"):
        actions.claim(session, case, staff["complaints_officer"])


def test_a_stale_version_is_refused(session, policy, staff):
    case = _complaint(session, policy)
    old = case.version
    actions.add_note(session, case, staff["agent"], "called the resident")
    actions.acknowledge_case(session, policy, case, staff["agent"], version=old)
    session.commit()
    with pytest.raises(ConflictError, match="Someone else changed"):
        actions.extend(
            session,
            policy,
            case,
            staff["complaints_officer"],
            days=5,
            reason="contractor report",
            version=old,
        )


def test_reclassify_records_a_correction_and_moves_the_case(session, policy, staff):
    case = seed_case(session, policy, DEMO_CASES[3])  # low-confidence service request
    session.commit()
    assert case.needs_review
    actions.reclassify(
        session,
        policy,
        case,
        staff["agent"],
        category="complaint",
        reason="Third report of the same fault",
        version=case.version,
    )
    session.commit()
    assert case.category == "complaint" and case.stage == 1 and case.status == "awaiting_acknowledgement"
    assert not case.needs_review
    assert session.exec(select(CaseStage).where(CaseStage.case_id == case.id)).one().stage == 1
    correction = session.exec(select(Correction)).one()
    assert (correction.from_category, correction.to_category) == ("service_request", "complaint")
    assert correction.text == DEMO_CASES[3].text and correction.staff_username == "ann"
    assert "case.reclassified" in _actions(session, case)


def test_reclassify_needs_a_reason(session, policy, staff):
    case = _complaint(session, policy)
    with pytest.raises(CaseActionError, match="reason"):
        actions.reclassify(session, policy, case, staff["agent"], category="service_request", reason="  ")


def test_an_agent_cannot_confirm_an_exclusion(session, policy, staff):
    case = _exclusion(session, policy)
    with pytest.raises(actions.NotAllowed):
        actions.confirm_exclusion(session, policy, case, staff["agent"])


def test_confirming_an_exclusion_sends_the_decision_letter_with_ombudsman_rights(session, policy, staff):
    case = _exclusion(session, policy)
    actions.confirm_exclusion(session, policy, case, staff["complaints_officer"], version=case.version)
    session.commit()
    letter = session.exec(
        select(Outbox).where(Outbox.case_id == case.id, Outbox.kind == "exclusion_decision")
    ).one()
    assert letter.channel == "email" and letter.to_address == "grace.obi@example.org"
    assert policy.exclusion_wording("legal_proceedings") in letter.body
    assert "Housing Ombudsman" in letter.body
    assert case.status == "excluded" and case.exclusion_decision == "confirmed"
    assert "exclusion.confirmed" in _actions(session, case)


def test_overturning_an_exclusion_makes_a_stage1_complaint(session, policy, staff):
    case = _exclusion(session, policy)
    actions.overturn_exclusion(
        session, policy, case, staff["complaints_officer"], reason="Claim is about other works"
    )
    session.commit()
    assert case.category == "complaint" and case.stage == 1 and case.exclusion_decision == "overturned"
    assert session.exec(select(Correction)).one().to_category == "complaint"
    assert session.exec(select(Outbox).where(Outbox.case_id == case.id)).all() == []


def test_the_whole_complaint_journey_sends_each_letter(session, policy, staff):
    case = _complaint(session, policy)
    officer = staff["complaints_officer"]
    actions.acknowledge_case(session, policy, case, staff["agent"])
    assert case.status == "stage1_in_progress" and case.response_due is not None
    due = case.response_due
    actions.extend(session, policy, case, officer, days=5, reason="Waiting for the contractor's report")
    assert case.response_due > due and case.extension_days == 5
    with pytest.raises(CaseActionError, match="at most 10 working days"):
        actions.extend(session, policy, case, officer, days=6, reason="again")
    actions.record_response(
        session, policy, case, officer, outcome="partly_upheld", response_text="We will fix it."
    )
    assert case.status == "stage1_responded"
    actions.escalate(session, policy, case, officer, reason="The repair failed again")
    assert case.stage == 2 and case.status == "stage2_in_progress" and case.response_due is not None
    actions.record_response(session, policy, case, officer, outcome="upheld", response_text="We are sorry.")
    actions.close(session, case, officer, reason="Final response sent")
    session.commit()
    kinds = session.exec(select(Outbox.kind).where(Outbox.case_id == case.id).order_by(Outbox.id)).all()
    assert kinds == [
        "acknowledgement",
        "extension_notice",
        "stage1_decision",
        "stage2_acknowledgement",
        "stage2_decision",
    ]
    assert all(o.channel == "sms" for o in session.exec(select(Outbox)).all())
    assert case.status == "closed"
    assert _actions(session, case)[-6:] == [
        "case.acknowledged",
        "case.extended",
        "stage1.responded",
        "case.escalated",
        "stage2.responded",
        "case.closed",
    ]


def test_message_to_the_resident_goes_on_their_own_channel(session, policy, staff):
    case = seed_case(session, policy, DEMO_CASES[5])  # email
    session.commit()
    actions.message_resident(session, policy, case, staff["agent"], "Could you send us a photo?")
    actions.add_note(session, case, staff["agent"], "Private: resident sounded upset")
    session.commit()
    out = session.exec(select(Outbox).where(Outbox.case_id == case.id)).one()
    assert out.channel == "email" and out.to_address == "maria.silva@example.org" and "photo" in out.body
    assert session.exec(select(Message).where(Message.case_id == case.id, Message.direction == "out")).one()
    assert _actions(session, case)[-2:] == ["message.sent", "note.added"]


def test_extension_and_response_need_an_officer(session, policy, staff):
    case = _complaint(session, policy)
    actions.acknowledge_case(session, policy, case, staff["agent"])
    for call in (
        lambda: actions.extend(session, policy, case, staff["agent"], days=2, reason="x"),
        lambda: actions.record_response(
            session, policy, case, staff["agent"], outcome="upheld", response_text="x"
        ),
        lambda: actions.close(session, case, staff["agent"], reason="x"),
    ):
        with pytest.raises(actions.NotAllowed):
            call()


def test_an_sms_case_without_a_phone_falls_back_to_email(session, policy, staff):
    case = seed_case(session, policy, DemoCase("hello", "complaint", "sms", "X", email="x@example.org"))
    session.commit()
    actions.message_resident(session, policy, case, staff["agent"], "Hi")
    assert session.exec(select(Outbox)).one().channel == "email"


def test_two_officers_confirming_the_same_exclusion_send_one_letter(engine, session, policy):
    officers = [
        create_user(session, name, "a-long-password", "complaints_officer") for name in ("olu", "pat")
    ]
    session.commit()
    case = _exclusion(session, policy)
    barrier = threading.Barrier(2)
    results: list[str] = []

    def attempt(officer):
        with Session(engine, expire_on_commit=False) as own:
            own_case = own.get(Case, case.id)
            me = own.merge(officer)
            barrier.wait()
            try:
                actions.confirm_exclusion(own, policy, own_case, me)
                own.commit()
                results.append("confirmed")
            except ConflictError:
                own.rollback()
                results.append("conflict")

    threads = [threading.Thread(target=attempt, args=(o,)) for o in officers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["confirmed", "conflict"]
    assert len(session.exec(select(Outbox).where(Outbox.kind == "exclusion_decision")).all()) == 1


# The last day to ask for Stage 2, and a request that comes after it ---------------------------


def _on(monkeypatch, day: date) -> None:
    """Staff act on `day` (the case actions' idea of today)."""
    monkeypatch.setattr(actions, "today", lambda: day)


def _answered_at_stage1(session, policy, staff, monkeypatch, demo=DEMO_CASES[0], on=date(2026, 12, 4)):
    case = seed_case(session, policy, demo)
    session.commit()
    _on(monkeypatch, on)
    actions.acknowledge_case(session, policy, case, staff["agent"], on=on)
    actions.record_response(
        session, policy, case, staff["complaints_officer"], outcome="not_upheld", response_text="We checked."
    )
    session.commit()
    return case


EMAIL_COMPLAINT = DemoCase(
    "Third time the heating has failed and nobody came", "complaint", "email", "Eve", email="eve@example.org"
)


@pytest.mark.parametrize("demo", [DEMO_CASES[0], EMAIL_COMPLAINT], ids=["sms", "email"])
def test_the_stage1_response_keeps_and_sends_the_last_day_to_ask_for_stage2(
    session, staff, monkeypatch, demo
):
    policy = load_policy("connect")
    case = _answered_at_stage1(session, policy, staff, monkeypatch, demo=demo)
    stage = current_stage(session, case)
    assert stage.escalation_by == date(2026, 12, 29)  # 3 weeks is Christmas Day; then Boxing Day
    letter = session.exec(select(Outbox).where(Outbox.kind == "stage1_decision")).one()
    if letter.channel == "sms":
        assert short_date(date(2026, 12, 29)) in letter.body
    else:
        assert letter.channel == "email" and f"Please ask by {long_date(date(2026, 12, 29))}" in letter.body
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "stage1.responded")).one()
    assert "until Tue 29 Dec 2026" in event.detail


def test_a_policy_with_no_limit_keeps_no_date(session, staff, monkeypatch):
    policy = load_policy("code-default")
    case = _answered_at_stage1(session, policy, staff, monkeypatch)
    assert current_stage(session, case).escalation_by is None
    _on(monkeypatch, date(2027, 11, 1))  # a year later is never "late" under the Code
    actions.escalate(session, policy, case, staff["complaints_officer"], reason="Still leaking")
    assert "escalation.late" not in _actions(session, case)


def test_a_stage2_request_in_time_is_not_marked_late(session, staff, monkeypatch):
    policy = load_policy("connect")
    case = _answered_at_stage1(session, policy, staff, monkeypatch)
    _on(monkeypatch, date(2026, 12, 29))  # the last day
    actions.escalate(session, policy, case, staff["complaints_officer"], reason="Still leaking")
    session.commit()
    assert case.stage == 2
    assert "escalation.late" not in _actions(session, case)


def test_a_late_stage2_request_is_escalated_and_recorded_as_late(session, staff, monkeypatch):
    policy = load_policy("connect")
    case = _answered_at_stage1(session, policy, staff, monkeypatch)
    _on(monkeypatch, date(2027, 1, 8))
    actions.escalate(session, policy, case, staff["complaints_officer"], reason="The leak came back")
    session.commit()
    # Not refused: Stage 2 is open, acknowledged and the resident has the letter.
    assert case.stage == 2 and case.status == "stage2_in_progress"
    kinds = session.exec(select(Outbox.kind).where(Outbox.case_id == case.id).order_by(Outbox.id)).all()
    assert kinds[-1] == "stage2_acknowledgement"
    assert _actions(session, case)[-2:] == ["case.escalated", "escalation.late"]
    late = session.exec(select(AuditEvent).where(AuditEvent.action == "escalation.late")).one()
    assert late.actor == "staff:olu"
    assert late.after == {"requested_on": "2027-01-08", "escalation_by": "2026-12-29", "days_late": 10}
    assert "10 days after the last day to ask under the policy (Tue 29 Dec 2026)" in late.detail
    assert "must not unreasonably refuse" in late.detail


def test_a_late_request_under_connexus_says_what_to_check(session, staff, monkeypatch):
    policy = load_policy("connexus")
    case = _answered_at_stage1(session, policy, staff, monkeypatch)
    assert current_stage(session, case).escalation_by == date(2027, 1, 4)
    _on(monkeypatch, date(2027, 1, 5))
    actions.escalate(session, policy, case, staff["complaints_officer"], reason="Repairs not done")
    late = session.exec(select(AuditEvent).where(AuditEvent.action == "escalation.late")).one()
    assert "1 day after Mon 4 Jan 2027, a calendar month after the Stage 1 response" in late.detail
    assert "after any agreed actions are completed, which is not recorded here" in late.detail


def test_the_date_the_resident_asked_decides_lateness_not_the_date_it_was_recorded(
    session, staff, monkeypatch
):
    policy = load_policy("connect")
    case = _answered_at_stage1(session, policy, staff, monkeypatch)
    _on(monkeypatch, date(2027, 1, 4))  # recorded after the window, asked within it
    actions.escalate(
        session,
        policy,
        case,
        staff["complaints_officer"],
        reason="Email of 23 December",
        requested_on=date(2026, 12, 23),
    )
    session.commit()
    assert "escalation.late" not in _actions(session, case)
    stage2 = current_stage(session, case)
    assert stage2.opened_on == date(2026, 12, 23) and stage2.acknowledged_on == date(2027, 1, 4)
    assert stage2.acknowledge_by == policy.stage_acknowledge_by(2, date(2026, 12, 23))
    assert stage2.due == policy.stage_due(2, date(2027, 1, 4))  # 20 working days from acknowledgement


@pytest.mark.parametrize(
    "asked, message",
    [(date(2027, 1, 5), "cannot be in the future"), (date(2026, 12, 3), "before the Stage 1 response")],
)
def test_the_date_the_resident_asked_must_make_sense(session, staff, monkeypatch, asked, message):
    policy = load_policy("connect")
    case = _answered_at_stage1(session, policy, staff, monkeypatch)
    _on(monkeypatch, date(2027, 1, 4))
    with pytest.raises(CaseActionError, match=message):
        actions.escalate(session, policy, case, staff["complaints_officer"], reason="x", requested_on=asked)


def test_a_response_recorded_before_the_date_was_kept_counts_it_from_the_policy(session, staff, monkeypatch):
    policy = load_policy("connect")
    case = _answered_at_stage1(session, policy, staff, monkeypatch)
    stage = current_stage(session, case)
    stage.escalation_by = None  # as a row answered before migration 0004 would be
    session.add(stage)
    session.commit()
    _on(monkeypatch, date(2027, 1, 8))
    actions.escalate(session, policy, case, staff["complaints_officer"], reason="Still leaking")
    assert "escalation.late" in _actions(session, case)


# Releasing a claimed case ----------------------------------------------------------------------


def test_an_agent_releases_their_own_claim_and_the_case_is_unclaimed_again(session, policy, staff):
    case = _complaint(session, policy)
    actions.claim(session, case, staff["agent"])
    session.commit()
    assert actions.can_release(staff["agent"], case)
    actions.release(session, case, staff["agent"], version=case.version)
    session.commit()
    assert case.assigned_to_id is None
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "case.released")).one()
    assert event.actor == "staff:ann" and "their own claim" in event.detail
    assert event.before["assigned_to_id"] == staff["agent"].id and event.after["assigned_to_id"] is None
    actions.claim(session, case, staff["agent2"])  # anyone can claim it now
    assert case.assigned_to_id == staff["agent2"].id


def test_an_agent_cannot_release_someone_elses_claim_but_an_officer_can(session, policy, staff):
    case = _complaint(session, policy)
    actions.claim(session, case, staff["agent"])
    session.commit()
    assert not actions.can_release(staff["agent2"], case)
    with pytest.raises(actions.NotAllowed, match="Only the person who claimed this case"):
        actions.release(session, case, staff["agent2"])
    session.rollback()
    assert actions.can_release(staff["complaints_officer"], case)
    actions.release(session, case, staff["complaints_officer"])
    session.commit()
    assert case.assigned_to_id is None
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "case.released")).one()
    assert event.actor == "staff:olu" and "ann's claim" in event.detail


def test_releasing_an_unclaimed_case_or_from_a_stale_page_is_refused(session, policy, staff):
    case = _complaint(session, policy)
    with pytest.raises(CaseActionError, match="not claimed by anyone"):
        actions.release(session, case, staff["agent"])
    actions.claim(session, case, staff["agent"])
    session.commit()
    stale = case.version
    actions.add_note(session, case, staff["agent"], "called")
    actions.acknowledge_case(session, policy, case, staff["agent"])
    session.commit()
    with pytest.raises(ConflictError, match="Someone else changed"):
        actions.release(session, case, staff["agent"], version=stale)

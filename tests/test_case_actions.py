"""Case actions staff take in the console, on the real database (SQLite or PostgreSQL)."""

from __future__ import annotations

import threading

import pytest
from sqlmodel import Session, select

from intake import case_actions as actions
from intake.console.demo import DEMO_CASES, DemoCase, seed_case
from intake.errors import CaseActionError, ConflictError
from intake.models import AuditEvent, Case, CaseStage, Correction, Message, Outbox
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

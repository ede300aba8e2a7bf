"""Opening cases: every category recorded and routed, references, deadlines, exclusions never refused."""

import threading
from datetime import UTC, date, datetime

import pytest
from sqlmodel import Session, select

from classifier.types import Evidence, Triage
from intake.cases import QUEUE_OF_CATEGORY, NewCase, acknowledge, current_stage, open_case
from intake.contacts import InvalidPhoneNumber, find_or_create_contact, normalise_phone
from intake.db import make_engine
from intake.models import AuditEvent, Case, CaseStage
from intake.policy import load_policy

THURSDAY = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def new(category, **kwargs):
    return NewCase(
        category=category,
        channel=kwargs.pop("channel", "sms"),
        received_at=kwargs.pop("received_at", THURSDAY),
        **kwargs,
    )


@pytest.mark.parametrize("category", sorted(QUEUE_OF_CATEGORY))
def test_every_category_is_recorded_never_lost(session, policy, category):
    case = open_case(
        session,
        policy,
        None,
        new(category, exclusion_reason="out_of_time" if category == "exclusion" else None),
    )
    session.commit()
    stored = session.exec(select(Case).where(Case.public_id == case.public_id)).one()
    assert stored.category == category
    assert (
        session.exec(select(AuditEvent).where(AuditEvent.case_id == stored.id)).one().action == "case.opened"
    )


def test_a_complaint_opens_at_stage_1_with_its_acknowledgement_deadline(session, policy):
    case = open_case(session, policy, None, new("complaint"))
    assert (case.stage, case.status) == (1, "awaiting_acknowledgement")
    assert case.acknowledge_by == date(2026, 12, 3)
    stage = current_stage(session, case)
    assert stage.opened_on == date(2026, 11, 26) and stage.acknowledge_by == date(2026, 12, 3)


def test_acknowledging_sets_the_stage_1_response_date_from_the_acknowledgement(session, policy):
    case = open_case(session, policy, None, new("complaint"))
    acknowledge(session, policy, case, date(2026, 11, 27), "staff:alex")
    assert case.response_due == date(2026, 12, 11)
    assert case.status == "stage1_in_progress"
    assert session.exec(select(CaseStage)).one().due == date(2026, 12, 11)


def test_a_late_evening_message_in_summer_is_dated_by_the_uk_calendar(session, policy):
    case = open_case(
        session, policy, None, new("complaint", received_at=datetime(2026, 7, 2, 23, 30, tzinfo=UTC))
    )
    assert case.received_on == date(2026, 7, 3)  # 00:30 BST on Friday


def test_a_possible_exclusion_goes_to_staff_review_with_its_reason(session, policy):
    triage = Triage(
        category="exclusion",
        confidence=0.91,
        exclusion_reason="legal_proceedings",
        evidence=(Evidence(10, 30, "exclusion:legal_proceedings", "issued a claim at court"),),
        model_version="test-1",
    )
    case = open_case(
        session, policy, None, new("exclusion", exclusion_reason="legal_proceedings", triage=triage)
    )
    assert case.category == "exclusion" and case.status == "exclusion_review"
    assert case.needs_review and "legal_proceedings" in case.review_reason
    assert case.response_due == date(2026, 12, 10)  # written decision within the policy's time
    assert case.triage_evidence[0]["label"] == "exclusion:legal_proceedings"


def test_an_exclusion_the_policy_does_not_use_stays_a_complaint(session):
    connect = load_policy("connect")  # Connect does not use the 12-month limit
    case = open_case(session, connect, None, new("exclusion", exclusion_reason="out_of_time"))
    assert case.category == "complaint" and case.stage == 1
    assert case.exclusion_reason is None
    assert case.needs_review and "not in this landlord's policy" in case.review_reason


def test_references_count_up_per_type_and_year(session, policy):
    first = open_case(session, policy, None, new("complaint"))
    second = open_case(session, policy, None, new("complaint"))
    request = open_case(session, policy, None, new("service_request"))
    next_year = open_case(
        session, policy, None, new("complaint", received_at=datetime(2027, 1, 4, 9, tzinfo=UTC))
    )
    assert (first.reference, second.reference) == ("CMP-2026-000001", "CMP-2026-000002")
    assert request.reference == "SR-2026-000001"
    assert next_year.reference == "CMP-2027-000001"


def test_case_urls_use_an_unguessable_id(session, policy):
    ids = {open_case(session, policy, None, new("complaint")).public_id for _ in range(20)}
    assert len(ids) == 20
    assert all(len(i) >= 22 and not i.isdigit() for i in ids)


def test_concurrent_writers_never_share_a_reference(engine, database_url, policy):
    references = []
    lock = threading.Lock()

    def writer():
        own = make_engine(database_url)
        for _ in range(10):
            with Session(own) as session:
                case = open_case(session, policy, None, new("complaint"))
                session.commit()
                with lock:
                    references.append(case.reference)
        own.dispose()

    threads = [threading.Thread(target=writer) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(references) == 30 and len(set(references)) == 30


def test_phone_numbers_are_stored_in_e164_and_matched(session):
    first = find_or_create_contact(session, phone="07700 900123")
    again = find_or_create_contact(session, phone="+44 7700 900123", name="Sam")
    assert first.id == again.id and first.phone == "+447700900123" and again.name == "Sam"
    assert normalise_phone("(0113) 496 0000") == "+441134960000"
    with pytest.raises(InvalidPhoneNumber):
        normalise_phone("not a number")

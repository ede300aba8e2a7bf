"""Opening cases, references, deadlines and the audit log: the one way a case comes into being.

Every category is recorded (complaints, service requests, ASB reports, compliments, excluded
matters, enquiries), each routed to its own queue. The bot never refuses a complaint: a possible
exclusion is opened as a case that needs staff review, with the reason and the evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, select

from classifier.types import Triage
from intake.db import increment
from intake.models import (
    Adjustment,
    Advocate,
    AuditEvent,
    Case,
    CaseStage,
    Contact,
    ReferenceCounter,
    as_utc,
    uk_date,
    utcnow,
)
from intake.policy import Policy

REFERENCE_PREFIX = {
    "complaint": "CMP",
    "exclusion": "CMP",
    "service_request": "SR",
    "asb_report": "ASB",
    "compliment": "CPL",
    "other": "ENQ",
}

QUEUE_OF_CATEGORY = {
    "complaint": "complaints",
    "exclusion": "needs_review",
    "service_request": "service_requests",
    "asb_report": "asb",
    "compliment": "compliments",
    "other": "enquiries",
}


def next_reference(session: Session, category: str, year: int) -> str:
    """CMP-2026-000123: a per-prefix, per-year counter that is safe under concurrent writers."""
    prefix = REFERENCE_PREFIX[category]
    number = increment(session, ReferenceCounter.__table__, {"prefix": prefix, "year": year}, "last_number")
    return f"{prefix}-{year}-{number:06d}"


def audit(
    session: Session,
    case: Case | None,
    actor: str,
    action: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    detail: str | None = None,
) -> AuditEvent:
    event = AuditEvent(
        case_id=case.id if case is not None else None,
        actor=actor,
        action=action,
        before=before,
        after=after,
        detail=detail,
    )
    session.add(event)
    return event


@dataclass
class NewCase:
    """What the engine (or an import) knows when it opens a case."""

    category: str
    channel: str
    received_at: datetime
    triage: Triage | None = None
    summary: str | None = None
    outcome_sought: str | None = None
    exclusion_reason: str | None = None
    urgent: bool = False
    urgent_kind: str | None = None
    adjustments: list[tuple[str, str | None]] = field(default_factory=list)  # (code, detail)
    needs_review: bool = False
    review_reason: str | None = None


def open_case(
    session: Session, policy: Policy, contact: Contact | None, new: NewCase, actor: str = "bot"
) -> Case:
    """Create the case with its deadlines and record it in the audit log.

    A possible exclusion that the landlord's policy does not use is opened as a complaint:
    doubt goes to the resident. Every exclusion needs a member of staff to decide.
    """
    category = new.category
    exclusion_reason = new.exclusion_reason
    needs_review = new.needs_review
    review_reasons = [new.review_reason] if new.review_reason else []
    if category == "exclusion":
        if policy.uses_exclusion(exclusion_reason):
            needs_review = True
            review_reasons.append(f"possible exclusion: {exclusion_reason}")
        else:
            review_reasons.append(f"possible exclusion {exclusion_reason} is not in this landlord's policy")
            category, exclusion_reason = "complaint", None
            needs_review = True
    received_at = as_utc(new.received_at)
    received_on = uk_date(received_at)
    triage = new.triage
    case = Case(
        reference=next_reference(session, category, received_on.year),
        contact_id=contact.id if contact is not None else None,
        category=category,
        status="open",
        channel=new.channel,
        received_at=received_at,
        received_on=received_on,
        summary=new.summary,
        outcome_sought=new.outcome_sought,
        exclusion_reason=exclusion_reason,
        needs_review=needs_review,
        review_reason="; ".join(review_reasons)[:200] or None,
        urgent=new.urgent,
        urgent_kind=new.urgent_kind,
        triage_category=triage.category if triage else None,
        triage_confidence=triage.confidence if triage else None,
        triage_exclusion_reason=triage.exclusion_reason if triage else None,
        triage_evidence=[vars(e) if not isinstance(e, dict) else e for e in triage.evidence]
        if triage
        else [],
        model_version=triage.model_version if triage else None,
    )
    if category in ("complaint", "exclusion"):
        case.acknowledge_by = policy.acknowledge_by(received_on)
    if category == "complaint":
        case.stage = 1
        case.status = "awaiting_acknowledgement"
    elif category == "exclusion":
        case.status = "exclusion_review"
        case.response_due = policy.exclusion_decision_by(received_on)
    session.add(case)
    session.flush()
    if category == "complaint":
        session.add(
            CaseStage(case_id=case.id, stage=1, opened_on=received_on, acknowledge_by=case.acknowledge_by)
        )
    for code, detail in new.adjustments:
        add_adjustment(session, case, contact, code, detail, source="classifier" if triage else "resident")
    audit(session, case, actor, "case.opened", after=case_snapshot(case))
    return case


def add_adjustment(
    session: Session, case: Case | None, contact: Contact | None, code: str, detail: str | None, source: str
) -> Adjustment:
    existing = session.exec(
        select(Adjustment).where(Adjustment.case_id == (case.id if case else None), Adjustment.code == code)
    ).first()
    if existing is not None:
        return existing
    adjustment = Adjustment(
        case_id=case.id if case else None,
        contact_id=contact.id if contact else None,
        code=code,
        detail=detail,
        source=source,
    )
    session.add(adjustment)
    return adjustment


def record_advocate(
    session: Session,
    case: Case,
    *,
    name: str | None,
    relationship: str | None,
    contact: str | None = None,
    consent: str = "to_obtain",
    consent_method: str | None = None,
    actor: str = "bot",
) -> Advocate:
    """Record someone acting for the resident. Consent is 'given' only with how it was given."""
    if consent == "given" and not consent_method:
        raise ValueError("consent_method is required when consent is given")
    advocate = Advocate(
        case_id=case.id,
        name=name,
        relationship=relationship,
        contact=contact,
        consent=consent,
        consent_method=consent_method,
        consent_at=utcnow() if consent == "given" else None,
    )
    session.add(advocate)
    audit(
        session,
        case,
        actor,
        "advocate.recorded",
        after={"name": name, "relationship": relationship, "consent": consent},
    )
    return advocate


def acknowledge(session: Session, policy: Policy, case: Case, on: date, actor: str) -> Case:
    """Mark the complaint acknowledged on `on` and set the stage's response deadline from it."""
    stage = current_stage(session, case)
    before = case_snapshot(case)
    case.acknowledged_on = on
    if stage is not None:
        stage.acknowledged_on = on
        stage.due = policy.stage_due(stage.stage, on)
        case.response_due = stage.due
        session.add(stage)
    case.status = f"stage{case.stage}_in_progress" if case.stage else case.status
    touch(case)
    session.add(case)
    audit(session, case, actor, "case.acknowledged", before=before, after=case_snapshot(case))
    return case


def current_stage(session: Session, case: Case) -> CaseStage | None:
    if case.stage is None or case.id is None:
        return None
    return session.exec(
        select(CaseStage).where(CaseStage.case_id == case.id, CaseStage.stage == case.stage)
    ).first()


def touch(case: Case) -> None:
    case.updated_at = utcnow()
    case.version += 1


SNAPSHOT_FIELDS = (
    "category",
    "status",
    "stage",
    "exclusion_reason",
    "needs_review",
    "urgent",
    "acknowledge_by",
    "acknowledged_on",
    "response_due",
    "responded_on",
    "extension_days",
    "assigned_to_id",
)


def case_snapshot(case: Case) -> dict[str, Any]:
    """The fields the audit log records before and after a change, as JSON-safe values."""
    snapshot = {}
    for name in SNAPSHOT_FIELDS:
        value = getattr(case, name)
        snapshot[name] = value.isoformat() if isinstance(value, date | datetime) else value
    return snapshot

"""Every staff action on a case, as a plain function the console routes (and tests) call.

Each function checks the member of staff's role, checks the case is in a state where the
action makes sense, applies the change, puts any letter to the resident in the outbox through
`intake.notify` and writes an audit event, all in the caller's transaction: the caller commits.

Changes that could clash take the version of the case the member of staff was looking at.
The version is compared and bumped in one UPDATE, so when two people act on the same case at
once exactly one succeeds and the other gets a ConflictError that says what happened.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, select

from classifier.types import CATEGORIES, EXCLUSION_REASONS
from intake.cases import acknowledge, audit, case_snapshot, current_stage
from intake.errors import CaseActionError, ConflictError, IntakeError
from intake.letters import short_date
from intake.models import (
    Adjustment,
    Advocate,
    Case,
    CaseStage,
    Correction,
    Message,
    Outbox,
    StaffUser,
    uk_date,
    utcnow,
)
from intake.notify import resident_route, send_letter
from intake.outbox import FAILED, PARKED, PENDING, enqueue
from intake.policy import Policy
from intake.staff_users import has_role

OUTCOMES = {
    "upheld": "upheld",
    "partly_upheld": "partly upheld",
    "not_upheld": "not upheld",
    "resolved": "resolved",
}
MAX_NOTE_CHARS = 5_000
MAX_MESSAGE_CHARS = 2_000

# Which role each action needs (agent < complaints_officer < admin).
REQUIRED_ROLE = {
    "view": "agent",
    "claim": "agent",
    "release": "agent",  # their own claim; a complaints officer or admin can release anyone's
    "note": "agent",
    "reclassify": "agent",
    "message": "agent",
    "retry_message": "agent",
    "acknowledge": "agent",
    "consent": "agent",
    "assign": "complaints_officer",
    "confirm_exclusion": "complaints_officer",
    "overturn_exclusion": "complaints_officer",
    "extend": "complaints_officer",
    "record_response": "complaints_officer",
    "escalate": "complaints_officer",
    "close": "complaints_officer",
    "manage_users": "admin",
}


class NotAllowed(IntakeError):
    """The member of staff's role does not include this action."""


def can(user: StaffUser, action: str) -> bool:
    return has_role(user, REQUIRED_ROLE[action])


def _require(user: StaffUser, action: str) -> None:
    if not can(user, action):
        needed = REQUIRED_ROLE[action].replace("_", " ")
        raise NotAllowed(f"Only a {needed} (or above) can do this.")


def actor_name(user: StaffUser) -> str:
    return f"staff:{user.username}"


def today() -> date:
    return uk_date(utcnow())


def _text(value: str | None, what: str, limit: int = MAX_NOTE_CHARS) -> str:
    value = (value or "").strip()
    if not value:
        raise CaseActionError(f"Please give {what}.")
    if len(value) > limit:
        raise CaseActionError(f"{what[0].upper()}{what[1:]} is too long (at most {limit} characters).")
    return value


def _claim_version(session: Session, case: Case, version: int | None) -> None:
    """Compare-and-set the case's version, then reload it. ConflictError if someone got there first."""
    table = Case.__table__
    # Without a version from the form, compare with the version this session loaded: two
    # requests that both decided from the same state can never both act on it.
    expected = version if version is not None else case.version
    condition = [table.c.id == case.id, table.c.version == expected]
    result = session.execute(
        update(table).where(*condition).values(version=table.c.version + 1, updated_at=utcnow())
    )
    if result.rowcount != 1:
        raise ConflictError(
            f"Someone else changed case {case.reference} while you were looking at it. "
            "The page now shows the latest details: please check them and try again."
        )
    session.refresh(case)


def _finish(
    session: Session,
    case: Case,
    user: StaffUser,
    action: str,
    before: dict[str, Any],
    detail: str | None = None,
) -> Case:
    case.updated_at = utcnow()
    session.add(case)
    audit(session, case, actor_name(user), action, before=before, after=case_snapshot(case), detail=detail)
    session.flush()
    return case


def _complaint_stage(session: Session, case: Case) -> CaseStage:
    if case.category != "complaint" or case.stage is None:
        raise CaseActionError(f"Case {case.reference} is not a complaint in progress.")
    if case.status == "closed":
        raise CaseActionError(f"Case {case.reference} is closed.")
    stage = current_stage(session, case)
    if stage is None:
        raise CaseActionError(f"Case {case.reference} has no Stage {case.stage} record.")
    return stage


def resident_text(session: Session, case: Case) -> str:
    """The text the classifier judged: the first inbound message, else the summary."""
    first = session.exec(
        select(Message.body).where(Message.case_id == case.id, Message.direction == "in").order_by(Message.id)
    ).first()
    return first if first is not None else (case.summary or "")


# Claiming and assigning ----------------------------------------------------------------------


def claim(session: Session, case: Case, user: StaffUser, *, version: int | None = None) -> Case:
    """Take the case. If two people claim at once, one wins and the other gets ConflictError."""
    _require(user, "claim")
    if case.assigned_to_id == user.id:
        return case
    before = case_snapshot(case)
    table = Case.__table__
    condition = [table.c.id == case.id, table.c.assigned_to_id.is_(None)]
    if version is not None:
        condition.append(table.c.version == version)
    result = session.execute(
        update(table)
        .where(*condition)
        .values(assigned_to_id=user.id, version=table.c.version + 1, updated_at=utcnow())
    )
    if result.rowcount != 1:
        session.refresh(case)
        holder = session.get(StaffUser, case.assigned_to_id) if case.assigned_to_id else None
        if holder is not None and holder.id != user.id:
            raise ConflictError(
                f"{holder.display_name or holder.username} has already claimed case {case.reference}."
            )
        raise ConflictError(
            f"Someone else changed case {case.reference} while you were looking at it. Please check it and try again."
        )
    session.refresh(case)
    return _finish(session, case, user, "case.claimed", before)


def can_release(user: StaffUser, case: Case) -> bool:
    """The person who claimed the case can let it go; a complaints officer or admin can release
    anyone's claim (someone off sick, or on leave)."""
    if case.assigned_to_id is None or not can(user, "release"):
        return False
    return case.assigned_to_id == user.id or has_role(user, "complaints_officer")


def release(session: Session, case: Case, user: StaffUser, *, version: int | None = None) -> Case:
    """Un-claim the case: it goes back in the queue, unassigned, for anyone to claim."""
    _require(user, "release")
    if case.assigned_to_id is None:
        raise CaseActionError(f"Case {case.reference} is not claimed by anyone.")
    if not can_release(user, case):
        raise NotAllowed(
            "Only the person who claimed this case, or a complaints officer or admin, can release it."
        )
    holder = session.get(StaffUser, case.assigned_to_id)
    before = case_snapshot(case)
    _claim_version(session, case, version)
    case.assigned_to_id = None
    whose = "their own claim" if holder is None or holder.id == user.id else f"{holder.username}'s claim"
    return _finish(session, case, user, "case.released", before, f"released {whose}; back in the queue")


def assign(
    session: Session, case: Case, user: StaffUser, to_user: StaffUser | None, *, version: int | None = None
) -> Case:
    """Give the case to someone (or to nobody). Needs a complaints officer."""
    _require(user, "assign")
    if to_user is not None and not to_user.active:
        raise CaseActionError(f"{to_user.username} is not an active user.")
    before = case_snapshot(case)
    _claim_version(session, case, version)
    case.assigned_to_id = to_user.id if to_user else None
    detail = f"assigned to {to_user.username}" if to_user else "unassigned"
    return _finish(session, case, user, "case.assigned", before, detail)


# Triage: reclassify and exclusions -------------------------------------------------------------


def _correction(
    session: Session, case: Case, user: StaffUser, to_category: str, to_reason: str | None, reason: str
) -> Correction:
    codes = session.exec(
        select(Adjustment.code).where(Adjustment.case_id == case.id).order_by(Adjustment.id)
    ).all()
    has_advocate = session.exec(select(Advocate.id).where(Advocate.case_id == case.id)).first() is not None
    correction = Correction(
        case_id=case.id,
        staff_username=user.username,
        text=resident_text(session, case),
        channel=case.channel,
        received_on=case.received_on,
        from_category=case.category,
        to_category=to_category,
        from_exclusion_reason=case.exclusion_reason,
        to_exclusion_reason=to_reason,
        urgent=case.urgent,
        advocate=has_advocate,
        adjustments=list(dict.fromkeys(codes)),
        reason=reason,
    )
    session.add(correction)
    return correction


def _open_stage1(session: Session, policy: Policy, case: Case) -> None:
    """Make the case a Stage 1 complaint with its clock running from when it was received."""
    case.category = "complaint"
    case.exclusion_reason = None
    case.stage = 1
    case.acknowledge_by = case.acknowledge_by or policy.acknowledge_by(case.received_on)
    case.response_due = None
    case.status = "awaiting_acknowledgement"
    if current_stage(session, case) is None:
        session.add(
            CaseStage(
                case_id=case.id, stage=1, opened_on=case.received_on, acknowledge_by=case.acknowledge_by
            )
        )


def reclassify(
    session: Session,
    policy: Policy,
    case: Case,
    user: StaffUser,
    *,
    category: str,
    reason: str,
    exclusion_reason: str | None = None,
    version: int | None = None,
) -> Case:
    """Change the category (with a reason). Records a Correction that teaches the classifier."""
    _require(user, "reclassify")
    reason = _text(reason, "a reason for the change")
    if category not in CATEGORIES:
        raise CaseActionError(f"Unknown category {category!r}.")
    if category == "exclusion":
        if exclusion_reason not in EXCLUSION_REASONS:
            raise CaseActionError("Choose the exclusion reason.")
        if not policy.uses_exclusion(exclusion_reason):
            raise CaseActionError(
                f"{policy.landlord}'s policy does not use the exclusion {exclusion_reason!r}."
            )
    else:
        exclusion_reason = None
    if case.status == "closed":
        raise CaseActionError(f"Case {case.reference} is closed.")
    if category == case.category and exclusion_reason == case.exclusion_reason:
        raise CaseActionError(f"Case {case.reference} is already in that category.")
    if case.category == "complaint" and (case.responded_on is not None or (case.stage or 0) > 1):
        raise CaseActionError("A complaint that already has a response cannot be reclassified.")
    before = case_snapshot(case)
    _claim_version(session, case, version)
    _correction(session, case, user, category, exclusion_reason, reason)
    if category == "complaint":
        _open_stage1(session, policy, case)
    else:
        if case.category == "complaint":
            # Not a complaint after all: it leaves the complaint figures (nothing was answered yet).
            for stage in session.exec(select(CaseStage).where(CaseStage.case_id == case.id)).all():
                session.delete(stage)
        case.category = category
        case.exclusion_reason = exclusion_reason
        case.stage = None
        case.acknowledged_on = None
        if category == "exclusion":
            case.status = "exclusion_review"
            case.acknowledge_by = case.acknowledge_by or policy.acknowledge_by(case.received_on)
            case.response_due = policy.exclusion_decision_by(case.received_on)
        else:
            case.status = "open"
            case.acknowledge_by = None
            case.response_due = None
    case.needs_review = category == "exclusion"
    case.review_reason = f"possible exclusion: {exclusion_reason}" if category == "exclusion" else None
    return _finish(session, case, user, "case.reclassified", before, reason)


def confirm_exclusion(
    session: Session,
    policy: Policy,
    case: Case,
    user: StaffUser,
    *,
    note: str | None = None,
    version: int | None = None,
) -> Case:
    """Decide the matter is excluded: the resident gets the decision letter with the Ombudsman rights."""
    _require(user, "confirm_exclusion")
    if case.category != "exclusion" or case.exclusion_decision is not None or not case.exclusion_reason:
        raise CaseActionError(f"Case {case.reference} has no possible exclusion waiting for a decision.")
    reason_words = policy.exclusion_wording(case.exclusion_reason)
    note = (note or "").strip() or None
    if note and len(note) > MAX_NOTE_CHARS:
        raise CaseActionError(f"The note to the resident is too long (at most {MAX_NOTE_CHARS} characters).")
    before = case_snapshot(case)
    _claim_version(session, case, version)
    case.exclusion_decision = "confirmed"
    case.needs_review = False
    case.review_reason = None
    case.status = "excluded"
    case.responded_on = today()
    send_letter(session, policy, case, "exclusion_decision", reason_words=reason_words, decision_note=note)
    return _finish(session, case, user, "exclusion.confirmed", before, note)


def overturn_exclusion(
    session: Session, policy: Policy, case: Case, user: StaffUser, *, reason: str, version: int | None = None
) -> Case:
    """Decide the matter is a complaint after all: it goes to Stage 1 (and teaches the classifier)."""
    _require(user, "overturn_exclusion")
    reason = _text(reason, "a reason for overturning the exclusion")
    if case.category != "exclusion" or case.exclusion_decision is not None:
        raise CaseActionError(f"Case {case.reference} has no possible exclusion waiting for a decision.")
    before = case_snapshot(case)
    _claim_version(session, case, version)
    _correction(session, case, user, "complaint", None, reason)
    _open_stage1(session, policy, case)
    case.exclusion_decision = "overturned"
    case.needs_review = False
    case.review_reason = None
    return _finish(session, case, user, "exclusion.overturned", before, reason)


# The complaint's stages ------------------------------------------------------------------------


def acknowledge_case(
    session: Session,
    policy: Policy,
    case: Case,
    user: StaffUser,
    *,
    version: int | None = None,
    on: date | None = None,
) -> Case:
    """Acknowledge a Stage 1 complaint: starts the response clock and sends the acknowledgement."""
    _require(user, "acknowledge")
    stage = _complaint_stage(session, case)
    if stage.acknowledged_on is not None:
        raise CaseActionError(f"Case {case.reference} has already been acknowledged.")
    _claim_version(session, case, version)
    acknowledge(session, policy, case, on or today(), actor_name(user))
    send_letter(session, policy, case, "acknowledgement")
    session.flush()
    return case


def extend(
    session: Session,
    policy: Policy,
    case: Case,
    user: StaffUser,
    *,
    days: int,
    reason: str,
    version: int | None = None,
) -> Case:
    """Give the stage more time, within the policy's limit; the resident is told why and the new date."""
    _require(user, "extend")
    reason = _text(reason, "a reason for the extension", 1_000)
    stage = _complaint_stage(session, case)
    if stage.acknowledged_on is None or stage.due is None:
        raise CaseActionError("Acknowledge the complaint before extending it.")
    if stage.responded_on is not None:
        raise CaseActionError(f"The Stage {stage.stage} response has already been sent.")
    if days < 1:
        raise CaseActionError("An extension must be at least 1 working day.")
    total = stage.extension_days + days
    limit = policy.extension_limit(stage.stage)
    if total > limit:
        left = limit - stage.extension_days
        raise CaseActionError(
            f"A Stage {stage.stage} extension can be at most {limit} working days in total"
            + (f"; {left} more at most." if left > 0 else "; the limit has been reached.")
        )
    before = case_snapshot(case)
    _claim_version(session, case, version)
    old_due = stage.due
    new_due = policy.extended_due(stage.stage, stage.acknowledged_on, total)
    stage.extension_days = total
    stage.extension_reason = reason
    stage.due = new_due
    session.add(stage)
    case.extension_days = total
    case.extension_reason = reason
    case.response_due = new_due
    send_letter(
        session,
        policy,
        case,
        "extension_notice",
        stage=stage.stage,
        extension_reason=reason,
        new_due=new_due,
        old_due=old_due,
    )
    return _finish(session, case, user, "case.extended", before, f"{days} working days: {reason}")


def record_response(
    session: Session,
    policy: Policy,
    case: Case,
    user: StaffUser,
    *,
    outcome: str,
    response_text: str,
    version: int | None = None,
) -> Case:
    """Record the Stage 1 or Stage 2 response and send the decision letter."""
    _require(user, "record_response")
    if outcome not in OUTCOMES:
        raise CaseActionError("Choose the outcome.")
    response_text = _text(response_text, "the response to send", 10_000)
    stage = _complaint_stage(session, case)
    if stage.acknowledged_on is None:
        raise CaseActionError("Acknowledge the complaint before recording the response.")
    if stage.responded_on is not None:
        raise CaseActionError(f"The Stage {stage.stage} response has already been recorded.")
    before = case_snapshot(case)
    _claim_version(session, case, version)
    stage.responded_on = today()
    stage.outcome = outcome
    stage.response_summary = response_text
    detail = OUTCOMES[outcome]
    if stage.stage == 1:
        stage.escalation_by = policy.escalation_by(stage.responded_on)
        if stage.escalation_by is not None:
            detail += f"; {escalation_window_words(policy, stage.escalation_by)}"
    session.add(stage)
    case.responded_on = stage.responded_on
    case.status = f"stage{stage.stage}_responded"
    kind = "stage1_decision" if stage.stage == 1 else "stage2_decision"
    send_letter(
        session,
        policy,
        case,
        kind,
        outcome_words=OUTCOMES[outcome],
        response_text=response_text,
        escalation_by=stage.escalation_by if stage.stage == 1 else None,
    )
    return _finish(session, case, user, f"stage{stage.stage}.responded", before, detail)


def escalation_window_end(policy: Policy, stage1: CaseStage) -> date | None:
    """The last day to ask for Stage 2: as the decision letter gave it, or (for a response
    recorded before the date was kept) counted now from the policy and the response date."""
    if stage1.escalation_by is not None:
        return stage1.escalation_by
    if stage1.stage != 1 or stage1.responded_on is None:
        return None
    return policy.escalation_by(stage1.responded_on)


def escalation_window_words(policy: Policy, window_end: date) -> str:
    if policy.escalation.counts_from_response:
        return f"Stage 2 can be asked for until {short_date(window_end)}"
    return f"Stage 2 can be asked for at least until {short_date(window_end)}"


def late_escalation_warning(policy: Policy, window_end: date, asked_on: date) -> str:
    """What staff need to know when a Stage 2 request comes after the window: never a refusal."""
    days = (asked_on - window_end).days
    when = f"{days} day{'s' if days != 1 else ''} after"
    if policy.escalation.counts_from_response:
        limit = f"the last day to ask under the policy ({short_date(window_end)})"
        check = "Ask why it is late (for example, waiting for repairs we promised)."
    else:
        limit = f"{short_date(window_end)}, {policy.escalation.window_words} after the Stage 1 response"
        check = (
            f"The policy allows {policy.escalation.window_words} after any agreed actions are "
            "completed, which is not recorded here: check whether they were still outstanding."
        )
    return (
        f"Stage 2 was asked for on {short_date(asked_on)}, {when} {limit}. {check} "
        "The Code says a landlord must not unreasonably refuse to escalate; if you refuse, "
        "explain why in writing and tell the resident about the Housing Ombudsman."
    )


def escalate(
    session: Session,
    policy: Policy,
    case: Case,
    user: StaffUser,
    *,
    reason: str,
    requested_on: date | None = None,
    version: int | None = None,
) -> Case:
    """Open Stage 2 at the resident's request, acknowledge it and tell the resident the due date.

    `requested_on` is when the resident asked (default today). A request after the policy's
    window is never refused here: it is escalated, and the audit log records that it came late
    so the decision is on the record with the facts."""
    _require(user, "escalate")
    reason = _text(reason, "why the resident is not satisfied", 2_000)
    stage = _complaint_stage(session, case)
    if stage.stage != 1:
        raise CaseActionError(f"Case {case.reference} is already at Stage 2.")
    if stage.responded_on is None:
        raise CaseActionError("Record the Stage 1 response before escalating to Stage 2.")
    acknowledged = today()
    asked = requested_on or acknowledged
    if asked > acknowledged:
        raise CaseActionError("The date the resident asked for Stage 2 cannot be in the future.")
    if asked < stage.responded_on:
        raise CaseActionError(
            f"The date the resident asked for Stage 2 cannot be before the Stage 1 response "
            f"({short_date(stage.responded_on)})."
        )
    window_end = escalation_window_end(policy, stage)
    before = case_snapshot(case)
    _claim_version(session, case, version)
    # The Stage 2 acknowledgement is due from the request; the response from the acknowledgement.
    stage2 = CaseStage(
        case_id=case.id,
        stage=2,
        opened_on=asked,
        acknowledge_by=policy.stage_acknowledge_by(2, asked),
        acknowledged_on=acknowledged,
        due=policy.stage_due(2, acknowledged),
    )
    session.add(stage2)
    case.stage = 2
    case.status = "stage2_in_progress"
    case.acknowledge_by = stage2.acknowledge_by
    case.acknowledged_on = acknowledged
    case.response_due = stage2.due
    case.responded_on = None
    case.extension_days = 0
    case.extension_reason = None
    session.flush()
    send_letter(
        session, policy, case, "stage2_acknowledgement", stage2_due=stage2.due, escalation_reason=reason
    )
    _finish(session, case, user, "case.escalated", before, reason)
    if window_end is not None and asked > window_end:
        audit(
            session,
            case,
            actor_name(user),
            "escalation.late",
            after={
                "requested_on": asked.isoformat(),
                "escalation_by": window_end.isoformat(),
                "days_late": (asked - window_end).days,
            },
            detail=late_escalation_warning(policy, window_end, asked),
        )
        session.flush()
    return case


def close(session: Session, case: Case, user: StaffUser, *, reason: str, version: int | None = None) -> Case:
    _require(user, "close")
    reason = _text(reason, "a reason for closing the case", 1_000)
    if case.status == "closed":
        raise CaseActionError(f"Case {case.reference} is already closed.")
    before = case_snapshot(case)
    _claim_version(session, case, version)
    case.status = "closed"
    case.closed_at = utcnow()
    case.needs_review = False
    return _finish(session, case, user, "case.closed", before, reason)


# Advocates -------------------------------------------------------------------------------------

CONSENT_CHOICES = ("given", "refused")


def record_consent(
    session: Session, case: Case, user: StaffUser, *, advocate_id: int | None, consent: str, how: str
) -> Advocate:
    """Record the resident's answer about someone acting for them, and how it was given
    (e.g. "by phone to the contact centre, 26 Nov"). The Code lets a representative act
    throughout, with the resident's consent recorded."""
    _require(user, "consent")
    advocate = session.get(Advocate, advocate_id) if advocate_id else None
    if advocate is None or advocate.case_id != case.id:
        raise CaseActionError("Choose the person acting for the resident.")
    if consent not in CONSENT_CHOICES:
        raise CaseActionError("Say whether the resident gave or refused consent.")
    if not (how or "").strip():
        raise CaseActionError("Please say how the resident told us (for example, by phone or in a letter).")
    how = _text(how, "how the resident told us", 200)
    before = {"consent": advocate.consent, "consent_method": advocate.consent_method}
    advocate.consent = consent
    advocate.consent_method = how
    advocate.consent_at = utcnow()
    session.add(advocate)
    audit(
        session,
        case,
        actor_name(user),
        "advocate.consent",
        before=before,
        after={"consent": consent, "consent_method": how},
        detail=advocate.name,
    )
    session.flush()
    return advocate


# Notes and messages ----------------------------------------------------------------------------


def add_note(session: Session, case: Case, user: StaffUser, text: str) -> None:
    """A private note for staff: never shown to the resident. Notes never clash, so no version."""
    _require(user, "note")
    text = _text(text, "the note")
    audit(session, case, actor_name(user), "note.added", detail=text)
    session.flush()


def message_resident(session: Session, policy: Policy, case: Case, user: StaffUser, text: str) -> Message:
    """Send the resident a message on their own channel, through the outbox."""
    _require(user, "message")
    text = _text(text, "the message", MAX_MESSAGE_CHARS)
    channel, address, conversation_id = resident_route(session, case)
    subject = f"About your case [{case.reference}]" if channel == "email" else None
    body = text
    if channel == "email":
        body = f"{text}\n\n{policy.office.hours}. Phone {policy.office.phone}.\nComplaints Team, {policy.landlord}\n"
    enqueue(
        session,
        channel=channel,
        to=address,
        body=body,
        subject=subject,
        kind="staff_message",
        case=case,
        conversation_id=conversation_id,
    )
    message = Message(
        case_id=case.id,
        conversation_id=conversation_id,
        contact_id=case.contact_id,
        direction="out",
        channel=channel,
        sender=actor_name(user),
        recipient=address,
        subject=subject,
        body=text,
        processed=True,
    )
    session.add(message)
    audit(session, case, actor_name(user), "message.sent", detail=f"by {channel}: {text[:200]}")
    session.flush()
    return message


def retry_message(session: Session, user: StaffUser, outbox_id: int) -> Outbox:
    """Put a message that could not be sent back in the outbox for another round of attempts
    (after the address has been corrected, or the provider's fault has cleared)."""
    _require(user, "retry_message")
    table = Outbox.__table__
    result = session.execute(
        update(table)
        .where(table.c.id == outbox_id, table.c.status.in_((PARKED, FAILED)))
        .values(status=PENDING, attempts=0, next_attempt_at=utcnow(), lease_until=None, claimed_by=None)
    )
    if result.rowcount != 1:
        raise ConflictError("That message is no longer waiting: someone may have retried it already.")
    row = session.get(Outbox, outbox_id)
    session.refresh(row)
    case = session.get(Case, row.case_id) if row.case_id else None
    audit(
        session,
        case,
        actor_name(user),
        "outbox.retried",
        detail=f"{row.kind.replace('_', ' ')} by {row.channel}",
    )
    session.flush()
    return row

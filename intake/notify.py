"""Sending a letter: render it for the resident's channel and put it in the outbox, in the
caller's transaction. The one path every resident-facing letter takes."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from intake.letters import Letter, render
from intake.models import Adjustment, Advocate, Case, Contact, Conversation, Outbox
from intake.outbox import enqueue
from intake.policy import Policy


class NoRouteToResident(Exception):
    """We have no address for the resident on any channel."""


def resident_route(session: Session, case: Case, channel: str | None = None) -> tuple[str, str, int | None]:
    """(channel, address, conversation_id) to reach the resident: their own channel first."""
    contact = session.get(Contact, case.contact_id) if case.contact_id else None
    wanted = channel or case.channel
    if wanted == "web":
        conversation = session.exec(
            select(Conversation).where(Conversation.case_id == case.id, Conversation.channel == "web")
        ).first()
        if conversation is not None:
            return "web", conversation.session_token, conversation.id
        wanted = "email"
    if wanted == "sms" and contact and contact.phone and not contact.sms_opted_out:
        return "sms", contact.phone, None
    if contact and contact.email:
        return "email", contact.email, None
    if contact and contact.phone and not contact.sms_opted_out:
        return "sms", contact.phone, None
    raise NoRouteToResident(f"No way to reach the resident on case {case.reference}.")


def letter_context(session: Session, policy: Policy, case: Case) -> dict[str, Any]:
    contact = session.get(Contact, case.contact_id) if case.contact_id else None
    adjustments = session.exec(
        select(Adjustment.code).where(Adjustment.case_id == case.id).order_by(Adjustment.id)
    ).all()
    advocate = session.exec(
        select(Advocate).where(Advocate.case_id == case.id).order_by(Advocate.id.desc())
    ).first()
    return {
        "policy": policy,
        "case": case,
        "contact": contact,
        "deadlines": policy.deadlines(case.received_on, case.acknowledged_on),
        "adjustments": list(dict.fromkeys(adjustments)),
        "advocate": advocate,
    }


def send_letter(
    session: Session,
    policy: Policy,
    case: Case,
    kind: str,
    *,
    channel: str | None = None,
    to: str | None = None,
    conversation_id: int | None = None,
    headers: dict[str, Any] | None = None,
    **extra: Any,
) -> tuple[Letter, Outbox]:
    """Render `kind` for the resident's channel (or the one given) and enqueue it."""
    if to is None:
        channel, to, conversation_id = resident_route(session, case, channel)
    assert channel is not None
    context = letter_context(session, policy, case) | extra
    letter = render(kind, channel, **context)
    row = enqueue(
        session,
        channel=channel,
        to=to,
        body=letter.body,
        subject=letter.subject if channel == "email" else None,
        kind=kind,
        case=case,
        conversation_id=conversation_id,
        headers=headers,
    )
    return letter, row

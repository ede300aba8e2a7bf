"""`triage shell`: talk to the real conversation engine from a terminal.

Same storage (DATABASE_URL or the data dir), outbox and templates as the running service, so a
conversation here leaves the same records a real resident's would. Interactive at a terminal;
with piped input, one resident message per line. `--json` prints one JSON object at the end.
"""

from __future__ import annotations

import json
import re
import secrets
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

import typer
from sqlmodel import Session, select

from bot.commands import fail, friendly_errors

CHANNELS = ("sms", "web", "email")
DEFAULT_FROM = {
    "sms": "+447700900001",
    "email": "resident@example.com",
}  # Ofcom drama range: never a real phone


def load_classify() -> Callable[..., Any]:
    """The real classifier, trained first only if it has no model yet."""
    try:
        import classifier
        from classifier import classify
    except ImportError:
        fail("The classifier is not available yet (classifier.classify could not be imported).")
    # Use the model as it is; train only when there is none (training rewrites the model file).
    try:
        classifier.load_model()
    except Exception as exc:
        ensure = getattr(classifier, "ensure_model", None)
        if ensure is None:
            fail(f"The classifier's model could not be loaded: {exc}")
        typer.echo("Training the classifier first (there is no model yet)...", err=True)
        ensure()
    return classify


def parse_now(value: str | None) -> date | None:
    if value is None:
        return None
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        fail(f"--now must be a date written YYYY-MM-DD, like 2026-03-02 (got {value!r}).")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        fail(f"--now {value!r} is not a real date.")
    return None


def check_address(channel: str, address: str | None) -> str:
    from intake.contacts import normalise_email, normalise_phone
    from intake.errors import IntakeError

    if channel == "web":
        if address is None:
            return secrets.token_urlsafe(16)
        if not re.fullmatch(r"[A-Za-z0-9_\-]{8,64}", address):
            fail("--from for the web channel is a chat session token: 8 to 64 letters, digits, '-' or '_'.")
        return address
    address = address or DEFAULT_FROM[channel]
    try:
        return normalise_phone(address) if channel == "sms" else normalise_email(address)
    except IntakeError as exc:
        kind = "a phone number" if channel == "sms" else "an email address"
        fail(f"--from must be {kind} for the {channel} channel: {exc}")
    return address


def received_times(now: date | None) -> Iterator[datetime]:
    """A minute apart, so piped lines are separate messages (not fragments of one text)."""
    if now is None:
        while True:
            yield datetime.now(UTC)
    from intake.models import UK

    moment = datetime.combine(now, time(9, 0), tzinfo=UK).astimezone(UTC)
    while True:
        yield moment
        moment += timedelta(minutes=1)


def resident_lines(stream) -> Iterable[str]:
    if stream.isatty():
        while True:
            try:
                line = input("You: ")
            except EOFError:
                typer.echo("")
                return
            if line.strip() in ("/quit", "/exit"):
                return
            yield line
    else:
        for line in stream:
            yield line.rstrip("\n")


def conversation_report(engine, conversation_id: int) -> dict[str, Any]:
    from intake.models import Adjustment, Advocate, Case, Conversation, Outbox

    with Session(engine) as session:
        conversation = session.get(Conversation, conversation_id)
        data = dict(conversation.data or {})
        data.pop("last_turn", None)
        case_ids = list(dict.fromkeys(data.get("case_ids") or []))
        cases = []
        for case_id in case_ids:
            case = session.get(Case, case_id)
            if case is None:
                continue
            codes = session.exec(
                select(Adjustment.code).where(Adjustment.case_id == case.id).order_by(Adjustment.id)
            ).all()
            advocate = session.exec(
                select(Advocate).where(Advocate.case_id == case.id).order_by(Advocate.id.desc())
            ).first()
            cases.append(
                {
                    "reference": case.reference,
                    "category": case.category,
                    "stage": case.stage,
                    "status": case.status,
                    "urgent": case.urgent,
                    "exclusion_reason": case.exclusion_reason,
                    "adjustments": list(dict.fromkeys(codes)),
                    "advocate": (
                        {
                            "name": advocate.name,
                            "relationship": advocate.relationship,
                            "consent": advocate.consent,
                        }
                        if advocate
                        else None
                    ),
                    "acknowledge_by": case.acknowledge_by.isoformat() if case.acknowledge_by else None,
                    "outcome_sought": case.outcome_sought,
                }
            )
        rows = session.exec(
            select(Outbox)
            .where(Outbox.conversation_id == conversation_id, Outbox.status != "cancelled")
            .order_by(Outbox.id)
        ).all()
        current = session.get(Case, conversation.case_id) if conversation.case_id else None
        return {
            "conversation": {
                "id": conversation.id,
                "channel": conversation.channel,
                "address": conversation.address,
                "state": conversation.state,
                "active": conversation.active,
                "version": conversation.version,
                "case_reference": current.reference if current else None,
                "data": data,
            },
            "cases": cases,
            "outbound": [{"channel": r.channel, "to": r.to_address, "body": r.body} for r in rows],
        }


def run_shell(
    *,
    channel: str,
    address: str | None,
    now: str | None,
    as_json: bool,
    classify: Callable[..., Any] | None = None,
    stream=None,
) -> dict[str, Any]:
    from bot.pipeline import make_inbound_handler
    from intake.db import make_engine, transaction
    from intake.inbound import InboundMessage
    from intake.migrate import upgrade
    from intake.policy import load_policy
    from intake.settings import Settings

    if channel not in CHANNELS:
        fail(f"--channel must be one of {', '.join(CHANNELS)} (got {channel!r}).")
    from email.utils import parseaddr

    sender_name = (parseaddr(address)[0] or None) if channel == "email" and address else None
    address = check_address(channel, address)
    fixed_date = parse_now(now)
    settings = Settings()
    policy = load_policy(settings.policy)
    engine = make_engine(settings.effective_database_url)
    upgrade(engine)
    classify = classify or load_classify()
    handler = make_inbound_handler(engine, settings, policy, classify)
    with transaction(engine) as session:  # a fresh conversation for this shell session
        conversation_id = handler.conversations.start_conversation(session, channel, address).id
    stream = stream or sys.stdin
    interactive = stream.isatty() and not as_json
    if interactive:
        typer.echo(f"Talking to the {policy.landlord} bot on {channel} as {address}. Ctrl-D to finish.")
    times = received_times(fixed_date)
    for number, line in enumerate(resident_lines(stream), start=1):
        if not line.strip():
            continue
        result = handler(
            InboundMessage(
                channel=channel,
                sender=address,
                body=line,
                provider_message_id=f"shell-{conversation_id}-{number}-{secrets.token_hex(4)}",
                received_at=next(times),
                sender_name=sender_name,
            )
        )
        if not as_json:
            if not interactive:
                typer.echo(f"You: {line}")
            for reply in result.replies:
                typer.echo(f"Bot: {reply}")
    report = conversation_report(engine, conversation_id)
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str))
    engine.dispose()
    return report


def register(app: typer.Typer) -> None:
    @app.command("shell")
    def shell(
        channel: Annotated[str, typer.Option("--channel", help="sms, web or email")] = "sms",
        address: Annotated[
            str | None, typer.Option("--from", help="Phone number, email address or web token")
        ] = None,
        now: Annotated[
            str | None, typer.Option("--now", help="Received date, YYYY-MM-DD (deadlines count from it)")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object at the end")] = False,
    ) -> None:
        """Talk to the conversation engine as a resident would (one message per line when piped)."""
        with friendly_errors():
            run_shell(channel=channel, address=address, now=now, as_json=as_json)

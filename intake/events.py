"""Case events for housing management systems (case.created, case.updated), queued in the
outbox (channel "webhook") in the same transaction as the change, one row per configured URL.

The HTTP side (signing with HMAC-SHA256, posting) is integrations/webhooks.py: intake only
writes the rows. The payload carries the case's status and dates, never the resident's words or
contact details: a receiving system that needs more fetches it with its own credentials.

Two ways in, both in the caller's transaction:
- `queue_case_event(session, case, "case.updated")`, called explicitly;
- `install_case_event_hooks(engine, urls)`, which queues case.created for every new Case row and
  case.updated whenever a Case's `version` or `status` changes, on any session bound to `engine`,
  so no code path that changes a case can forget to tell the housing system.
"""

from __future__ import annotations

import json
import uuid
import weakref
from datetime import date, datetime
from typing import Any

from sqlalchemy import event, insert, inspect, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from intake.models import Case, Outbox, utcnow

CHANNEL = "webhook"
EVENTS = ("case.created", "case.updated")
CASE_FIELDS = (
    "public_id",
    "reference",
    "category",
    "status",
    "stage",
    "channel",
    "urgent",
    "urgent_kind",
    "needs_review",
    "exclusion_reason",
    "received_on",
    "acknowledge_by",
    "acknowledged_on",
    "response_due",
    "responded_on",
    "extension_days",
    "version",
    "created_at",
    "updated_at",
    "closed_at",
)


def parse_urls(value: str | list[str] | tuple[str, ...] | None) -> list[str]:
    if not value:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [item.strip() for item in items if item and item.strip()]


def event_payload(case: Case, event_name: str, event_id: str | None = None) -> str:
    """The JSON body that is signed and posted. `id` is unique per event: receivers dedupe on it."""
    if event_name not in EVENTS:
        raise ValueError(f"unknown case event {event_name!r}")
    fields: dict[str, Any] = {}
    for name in CASE_FIELDS:
        value = getattr(case, name)
        fields[name] = value.isoformat() if isinstance(value, date | datetime) else value
    body = {
        "id": event_id or str(uuid.uuid4()),
        "event": event_name,
        "occurred_at": utcnow().isoformat(),
        "case": fields,
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True)


def _rows(case: Case, event_name: str, urls: list[str]) -> list[dict[str, Any]]:
    event_id = str(uuid.uuid4())
    body = event_payload(case, event_name, event_id)
    now = utcnow()
    return [
        {
            "case_id": case.id,
            "channel": CHANNEL,
            "kind": event_name,
            "to_address": url[:1000],
            "body": body,
            "headers": {"event_id": event_id},
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for url in urls
    ]


def queue_case_event(
    session: Session, case: Case, event_name: str, urls: list[str] | str | None = None
) -> list[Outbox]:
    """Queue `event_name` about `case` for every webhook URL (settings.webhook_urls by default)."""
    if urls is None:
        from intake.settings import get_settings

        urls = get_settings().webhook_urls
    rows = [Outbox(**values) for values in _rows(case, event_name, parse_urls(urls))]
    for row in rows:
        session.add(row)
    if rows:
        session.flush()
    return rows


_HOOKED: weakref.WeakKeyDictionary[Engine, list[str]] = weakref.WeakKeyDictionary()


def install_case_event_hooks(engine: Engine, urls: list[str] | str | None) -> None:
    """Queue case events automatically for sessions on `engine` (no-op when no URL is configured)."""
    parsed = parse_urls(urls)
    if parsed:
        _HOOKED[engine] = parsed
    else:
        _HOOKED.pop(engine, None)


def _engine_of(session: Session) -> Engine | None:
    try:
        bind = session.get_bind()
    except Exception:
        return None
    return getattr(bind, "engine", bind)


@event.listens_for(Session, "after_flush")
def _queue_on_flush(session: Session, _context) -> None:
    """Insert an event row at a case's first flush in a transaction; later flushes in the same
    transaction rewrite that row's body, so what is sent is the case as it was committed."""
    if not _HOOKED:
        return
    engine = _engine_of(session)
    urls = _HOOKED.get(engine) if engine is not None else None
    if not urls:
        return
    pending: dict[int, tuple[str, str, list[int]]] = session.info.setdefault("case_events", {})
    table = Outbox.__table__
    connection = session.connection()
    changed: list[tuple[Case, str | None]] = [
        (obj, "case.created") for obj in session.new if isinstance(obj, Case)
    ]
    for obj in session.dirty:
        if isinstance(obj, Case) and session.is_modified(obj, include_collections=False):
            state = inspect(obj)
            significant = any(state.attrs[name].history.has_changes() for name in ("version", "status"))
            changed.append((obj, "case.updated" if significant else None))
    for case, event_name in changed:
        if case.id is None:
            continue
        if case.id in pending:
            name, event_id, row_ids = pending[case.id]
            body = event_payload(case, name, event_id)
            connection.execute(update(table).where(table.c.id.in_(row_ids)).values(body=body))
        elif event_name is not None:
            rows = _rows(case, event_name, urls)
            row_ids = [
                connection.execute(insert(table).values(**row).returning(table.c.id)).scalar_one()
                for row in rows
            ]
            pending[case.id] = (event_name, rows[0]["headers"]["event_id"], row_ids)


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended (committed or rolled back)
        session.info.pop("case_events", None)

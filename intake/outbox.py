"""The outbox: every outbound message is a row written in the caller's transaction; the
dispatcher sends it later, through the channel's sender, exactly once.

Several dispatchers may run against one PostgreSQL: each claims rows with
`SELECT ... FOR UPDATE SKIP LOCKED` and a compare-and-set to `sending`, so no two send the
same row. A row left in `sending` by a crashed dispatcher is retried after its lease ends.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from intake.models import Case, Outbox, utcnow

log = logging.getLogger(__name__)

PENDING, SENDING, SENT, DELIVERED, FAILED, PARKED = (
    "pending",
    "sending",
    "sent",
    "delivered",
    "failed",
    "parked",
)


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str | None = None
    status: str = SENT  # a sender that knows the message arrived (web chat) may say DELIVERED


class SendError(Exception):
    """A send failed. `permanent` ones (a bad number, an opted-out recipient) are parked at once."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


Sender = Callable[[Outbox], SendResult]


def enqueue(
    session: Session,
    *,
    channel: str,
    to: str,
    body: str,
    kind: str,
    subject: str | None = None,
    case: Case | None = None,
    conversation_id: int | None = None,
    headers: Mapping[str, Any] | None = None,
) -> Outbox:
    """Add a message to the outbox inside the caller's transaction (nothing is sent yet)."""
    row = Outbox(
        case_id=case.id if case is not None else None,
        conversation_id=conversation_id,
        channel=channel,
        kind=kind,
        to_address=to,
        subject=subject,
        body=body,
        headers=dict(headers or {}),
    )
    session.add(row)
    session.flush()
    return row


def record_delivery(session: Session, channel: str, provider_message_id: str, status: str) -> bool:
    """Apply a provider's delivery report (e.g. Twilio's status callback). False if unknown."""
    row = session.exec(
        select(Outbox).where(Outbox.channel == channel, Outbox.provider_message_id == provider_message_id)
    ).first()
    if row is None:
        return False
    row.delivery_status = status
    if status in ("delivered", "read"):
        row.status = DELIVERED
        row.delivered_at = utcnow()
    elif status in ("failed", "undelivered"):
        row.status = FAILED
        row.last_error = f"provider reported {status}"
    session.add(row)
    return True


def backoff(attempt: int, base: timedelta, cap: timedelta) -> timedelta:
    """Exponential back-off with a cap: base, 2*base, 4*base, ..."""
    return min(cap, base * (2 ** max(0, attempt - 1)))


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        senders: Mapping[str, Sender],
        *,
        worker_id: str | None = None,
        max_attempts: int = 6,
        base_delay: timedelta = timedelta(seconds=30),
        max_delay: timedelta = timedelta(hours=1),
        lease: timedelta = timedelta(minutes=2),
        batch_size: int = 20,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.senders = dict(senders)
        self.worker_id = worker_id or f"dispatcher-{secrets.token_hex(4)}"
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.lease = lease
        self.batch_size = batch_size
        self.clock = clock

    def claim(self) -> list[int]:
        """Take up to batch_size due rows for this worker. Safe against other dispatchers."""
        now = self.clock()
        claimed: list[int] = []
        with Session(self.engine) as session:
            due = or_(
                (Outbox.status == PENDING) & (Outbox.next_attempt_at <= now),
                (Outbox.status == SENDING) & (Outbox.lease_until < now),
            )
            query = (
                select(Outbox.id, Outbox.status, Outbox.claimed_by)
                .where(due, Outbox.channel.in_(list(self.senders)))
                .order_by(Outbox.next_attempt_at, Outbox.id)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            )
            for row_id, status, claimed_by in session.exec(query).all():
                result = session.exec(
                    update(Outbox)
                    .where(Outbox.id == row_id, Outbox.status == status)
                    .where(Outbox.claimed_by == claimed_by if claimed_by else Outbox.claimed_by.is_(None))
                    .values(status=SENDING, claimed_by=self.worker_id, lease_until=now + self.lease)
                )
                if result.rowcount == 1:
                    claimed.append(row_id)
            session.commit()
        return claimed

    def send_one(self, row_id: int) -> str:
        with Session(self.engine, expire_on_commit=False) as session:
            row = session.get(Outbox, row_id)
            if row is None or row.status != SENDING or row.claimed_by != self.worker_id:
                return "skipped"
            sender = self.senders[row.channel]
            session.expunge(row)
        try:
            result = sender(row)
        except SendError as exc:
            return self._failed(row_id, str(exc), exc.permanent)
        except Exception as exc:  # a sender bug or network fault: retry, and keep the reason for staff
            log.exception("sending outbox message %s failed", row_id)
            return self._failed(row_id, f"{type(exc).__name__}: {exc}", permanent=False)
        with Session(self.engine) as session:
            row = session.get(Outbox, row_id)
            row.status = result.status
            row.attempts += 1
            row.provider_message_id = result.provider_message_id
            row.sent_at = self.clock()
            if result.status == DELIVERED:
                row.delivered_at = row.sent_at
            row.lease_until = None
            row.last_error = None
            session.add(row)
            session.commit()
        return result.status

    def _failed(self, row_id: int, error: str, permanent: bool) -> str:
        with Session(self.engine) as session:
            row = session.get(Outbox, row_id)
            row.attempts += 1
            row.last_error = error[:2000]
            row.lease_until = None
            if permanent or row.attempts >= self.max_attempts:
                row.status = PARKED
            else:
                row.status = PENDING
                row.next_attempt_at = self.clock() + backoff(row.attempts, self.base_delay, self.max_delay)
            session.add(row)
            session.commit()
            return row.status

    def run_once(self) -> int:
        """Claim and send one batch. Returns how many were attempted."""
        ids = self.claim()
        for row_id in ids:
            self.send_one(row_id)
        return len(ids)

    def run_forever(self, idle_sleep: float = 1.0, should_stop: Callable[[], bool] = lambda: False) -> None:
        while not should_stop():
            if not self.run_once():
                time.sleep(idle_sleep)


def requeue(session: Session, row: Outbox) -> None:
    """Staff action: try a parked or failed message again."""
    row.status = PENDING
    row.attempts = 0
    row.next_attempt_at = utcnow()
    row.claimed_by = None
    session.add(row)

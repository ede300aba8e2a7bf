"""Fixed-window rate limits kept in the database, so they hold across app processes."""

from __future__ import annotations

import logging
import random
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session

from intake.db import increment
from intake.inbound import InboundMessage
from intake.models import RateLimitBucket, utcnow

log = logging.getLogger(__name__)

SWEEP_CHANCE = 0.01  # share of first hits in a window that also delete everyone's ended windows


def hit(
    engine: Engine,
    key: str,
    limit: int,
    window: timedelta = timedelta(minutes=1),
    now: datetime | None = None,
) -> bool:
    """Count one request against `key` in its own transaction. True if it is within the limit."""
    with Session(engine) as session:
        allowed = count(session, key, limit, window, now)
        session.commit()
    return allowed


def count(
    session: Session,
    key: str,
    limit: int,
    window: timedelta = timedelta(minutes=1),
    now: datetime | None = None,
) -> bool:
    """Count one request against `key` inside the caller's transaction (one statement on
    PostgreSQL and SQLite). True if it is within the limit."""
    now = now or utcnow()
    seconds = int(window.total_seconds())
    window_start = datetime.fromtimestamp(int(now.timestamp()) // seconds * seconds, tz=now.tzinfo)
    table = RateLimitBucket.__table__
    number = increment(session, table, {"key": key[:200], "window_start": window_start}, "count")
    if number == 1 and random.random() < SWEEP_CHANCE:
        # Now and then, tidy away every window that has ended (a scan of a table that holds
        # about one window's worth of keys).
        session.execute(delete(table).where(table.c.window_start < window_start - window))
    return number <= limit


def limit_message(session: Session, message: InboundMessage) -> InboundMessage:
    """The message as it is to be stored, counted against its `rate_limit` in this transaction.

    Over the limit it is still kept (a resident's words are never lost) but marked automatic, so
    it is recorded without an answer: a flood is most often another machine's auto-responder,
    and answering it feeds the loop."""
    if message.rate_limit is None:
        return message
    key, per_minute = message.rate_limit
    if count(session, key, per_minute):
        return message
    log.warning(
        "%s message over the limit of %s a minute for its sender: stored, not answered",
        message.channel,
        per_minute,
    )
    return replace(message, automatic=True, meta={**message.meta, "rate_limited": True})

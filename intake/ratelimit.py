"""Fixed-window rate limits kept in the database, so they hold across app processes."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session

from intake.db import increment
from intake.models import RateLimitBucket, utcnow

SWEEP_CHANCE = 0.01


def hit(
    engine: Engine,
    key: str,
    limit: int,
    window: timedelta = timedelta(minutes=1),
    now: datetime | None = None,
) -> bool:
    """Count one request against `key`. True if it is within the limit."""
    now = now or utcnow()
    seconds = int(window.total_seconds())
    window_start = datetime.fromtimestamp(int(now.timestamp()) // seconds * seconds, tz=now.tzinfo)
    table = RateLimitBucket.__table__
    with Session(engine) as session:
        count = increment(session, table, {"key": key[:200], "window_start": window_start}, "count")
        if count == 1:  # first hit of a window: tidy away windows that have ended
            ended = table.c.window_start < window_start - window
            # This key's old windows by its primary key; everyone's only now and then (a full scan).
            session.execute(delete(table).where(table.c.key == key[:200], ended))
            if random.random() < SWEEP_CHANCE:
                session.execute(delete(table).where(ended))
        session.commit()
    return count <= limit

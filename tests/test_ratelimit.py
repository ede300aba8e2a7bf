"""Rate limits are counted in the database, so they hold across app processes."""

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from intake import ratelimit
from intake.db import make_engine
from intake.models import RateLimitBucket

NOW = datetime(2026, 11, 26, 10, 0, 5, tzinfo=UTC)


def test_requests_over_the_limit_in_a_window_are_refused(engine):
    assert all(ratelimit.hit(engine, "sms:+447700900001", 3, now=NOW) for _ in range(3))
    assert not ratelimit.hit(engine, "sms:+447700900001", 3, now=NOW)
    assert ratelimit.hit(engine, "sms:+447700900002", 3, now=NOW)  # another number has its own count
    assert ratelimit.hit(engine, "sms:+447700900001", 3, now=NOW + timedelta(minutes=1))  # a new window


def test_two_processes_share_one_count(engine, database_url):
    other = make_engine(database_url)  # as a second app process would have
    assert ratelimit.hit(engine, "login:1.2.3.4", 2, now=NOW)
    assert ratelimit.hit(other, "login:1.2.3.4", 2, now=NOW)
    assert not ratelimit.hit(engine, "login:1.2.3.4", 2, now=NOW)
    other.dispose()


def test_old_windows_are_tidied_away(engine, monkeypatch):
    monkeypatch.setattr(ratelimit, "SWEEP_CHANCE", 1.0)
    ratelimit.hit(engine, "a", 5, now=NOW)
    ratelimit.hit(engine, "b", 5, now=NOW)
    ratelimit.hit(engine, "a", 5, now=NOW + timedelta(minutes=5))
    with Session(engine) as session:
        assert [(r.key, r.count) for r in session.exec(select(RateLimitBucket)).all()] == [("a", 1)]

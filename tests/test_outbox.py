"""The outbox: written with the change that causes it, sent exactly once, retried, parked."""

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from intake.db import make_engine
from intake.models import Outbox, utcnow
from intake.outbox import (
    PARKED,
    PENDING,
    SENT,
    Dispatcher,
    SendError,
    SendResult,
    backoff,
    enqueue,
    record_delivery,
)


def add_messages(engine, count, channel="sms"):
    with Session(engine) as session:
        for n in range(count):
            enqueue(session, channel=channel, to=f"+4477009{n:05d}", body=f"message {n}", kind="test")
        session.commit()


def test_a_message_is_only_queued_if_the_change_that_caused_it_commits(engine):
    with Session(engine) as session:
        enqueue(session, channel="sms", to="+447700900001", body="hello", kind="test")
        session.rollback()
    with Session(engine) as session:
        assert session.exec(select(Outbox)).all() == []


def test_the_dispatcher_sends_and_records_the_provider_id(engine):
    add_messages(engine, 3)
    sent = []

    def sender(row):
        sent.append(row.body)
        return SendResult(provider_message_id=f"SM{row.id}")

    assert Dispatcher(engine, {"sms": sender}).run_once() == 3
    assert sorted(sent) == ["message 0", "message 1", "message 2"]
    with Session(engine) as session:
        rows = session.exec(select(Outbox)).all()
        assert {r.status for r in rows} == {SENT}
        assert {r.provider_message_id for r in rows} == {f"SM{r.id}" for r in rows}


def test_a_failed_send_is_retried_later_with_growing_delays(engine):
    add_messages(engine, 1)
    now = [utcnow()]
    calls = []

    def flaky(row):
        calls.append(now[0])
        raise SendError("provider timed out")

    dispatcher = Dispatcher(engine, {"sms": flaky}, clock=lambda: now[0], base_delay=timedelta(seconds=30))
    dispatcher.run_once()
    assert dispatcher.run_once() == 0  # not due yet
    with Session(engine) as session:
        row = session.exec(select(Outbox)).one()
        assert row.status == PENDING and row.attempts == 1
        assert row.next_attempt_at - now[0] == timedelta(seconds=30)
        assert row.last_error == "provider timed out"
    now[0] += timedelta(seconds=31)
    dispatcher.run_once()
    with Session(engine) as session:
        row = session.exec(select(Outbox)).one()
        assert row.attempts == 2
        assert row.next_attempt_at - now[0] == timedelta(seconds=60)
    assert backoff(10, timedelta(seconds=30), timedelta(hours=1)) == timedelta(hours=1)


def test_a_message_is_parked_for_staff_after_the_last_attempt(engine):
    add_messages(engine, 1)
    now = [utcnow()]
    dispatcher = Dispatcher(
        engine,
        {"sms": lambda row: (_ for _ in ()).throw(RuntimeError("down"))},
        clock=lambda: now[0],
        max_attempts=3,
    )
    for _ in range(3):
        dispatcher.run_once()
        now[0] += timedelta(hours=2)
    with Session(engine) as session:
        row = session.exec(select(Outbox)).one()
        assert row.status == PARKED and row.attempts == 3
        assert "RuntimeError: down" in row.last_error
    assert dispatcher.run_once() == 0


def test_a_permanent_failure_is_parked_at_once(engine):
    add_messages(engine, 1)

    def refuse(row):
        raise SendError("number has opted out", permanent=True)

    Dispatcher(engine, {"sms": refuse}).run_once()
    with Session(engine) as session:
        assert session.exec(select(Outbox)).one().status == PARKED


def test_a_message_left_sending_by_a_crashed_dispatcher_is_sent_after_its_lease(engine):
    add_messages(engine, 1)
    now = [utcnow()]
    crashed = Dispatcher(
        engine, {"sms": lambda row: SendResult()}, clock=lambda: now[0], lease=timedelta(minutes=2)
    )
    assert crashed.claim()  # claimed, then the process "dies" before sending
    survivor = Dispatcher(engine, {"sms": lambda row: SendResult("SMx")}, clock=lambda: now[0])
    assert survivor.run_once() == 0
    now[0] += timedelta(minutes=3)
    assert survivor.run_once() == 1
    with Session(engine) as session:
        assert session.exec(select(Outbox)).one().provider_message_id == "SMx"


def test_delivery_reports_update_the_message(engine):
    add_messages(engine, 1)
    Dispatcher(engine, {"sms": lambda row: SendResult("SM123")}).run_once()
    with Session(engine) as session:
        assert record_delivery(session, "sms", "SM123", "delivered")
        assert not record_delivery(session, "sms", "SM-unknown", "delivered")
        session.commit()
        row = session.exec(select(Outbox)).one()
        assert row.status == "delivered" and row.delivered_at is not None


def test_channels_without_a_sender_wait_in_the_outbox(engine):
    add_messages(engine, 2, channel="email")
    assert Dispatcher(engine, {"sms": lambda row: SendResult()}).run_once() == 0
    with Session(engine) as session:
        assert {r.status for r in session.exec(select(Outbox)).all()} == {PENDING}


def race_two_dispatchers(database_url, count):
    engine = make_engine(database_url)
    add_messages(engine, count)
    sends = Counter()
    workers = Counter()
    lock = threading.Lock()

    def work(name):
        own_engine = make_engine(database_url)  # its own connections, as a separate process would have

        def sender(row):
            time.sleep(0.002)
            with lock:
                sends[row.id] += 1
                workers[name] += 1
            return SendResult(provider_message_id=f"{name}-{row.id}")

        dispatcher = Dispatcher(own_engine, {"sms": sender}, worker_id=name, batch_size=5)
        while dispatcher.run_once():
            pass
        own_engine.dispose()

    threads = [threading.Thread(target=work, args=(f"dispatcher-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return engine, sends, workers


@pytest.mark.postgres
def test_two_dispatchers_on_postgresql_send_every_message_exactly_once(engine, database_url):
    engine, sends, workers = race_two_dispatchers(database_url, 300)
    assert len(sends) == 300
    assert set(sends.values()) == {1}
    assert all(workers[f"dispatcher-{n}"] > 0 for n in range(2)), workers
    with Session(engine) as session:
        assert {r.status for r in session.exec(select(Outbox)).all()} == {SENT}


def test_two_dispatchers_on_sqlite_send_every_message_exactly_once(engine, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("the PostgreSQL version of this test covers it")
    _, sends, _ = race_two_dispatchers(database_url, 60)
    assert len(sends) == 60 and set(sends.values()) == {1}

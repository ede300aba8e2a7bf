"""Store first, process once: retries, crashes, races, fragments and optimistic concurrency."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select
from test_engine_support import Chat, fake_classify

from bot.engine.core import CANCELLED, StaleConversation
from bot.engine.flows import Turn
from bot.pipeline import InboundPipeline, make_inbound_handler
from intake.inbound import InboundAttachment, InboundMessage
from intake.models import Attachment, AuditEvent, Case, Contact, Conversation, Message, Outbox
from intake.outbox import Dispatcher, SendResult

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def handler(engine, settings, policy):
    return make_inbound_handler(engine, settings, policy, fake_classify)


@pytest.fixture
def chat(handler, engine):
    return Chat(handler=handler, engine=engine)


def count(engine, model) -> int:
    with Session(engine) as session:
        return len(session.exec(select(model)).all())


def test_a_message_is_stored_before_it_is_processed_and_marked_processed_with_its_effects(chat, engine):
    result = chat.send("The plumber was brilliant", provider_id="SM1")
    assert not result.duplicate and result.case_reference
    with Session(engine) as session:
        message = session.exec(select(Message)).one()
        assert message.processed and message.provider_message_id == "SM1" and message.direction == "in"
        assert message.case_id is not None and message.conversation_id is not None


def test_a_duplicate_delivery_creates_nothing(chat, engine):
    first = chat.send("The plumber was brilliant", provider_id="SM-dup")
    before = (count(engine, Message), count(engine, Case), count(engine, Outbox), count(engine, AuditEvent))
    again = chat.send("The plumber was brilliant", provider_id="SM-dup")
    assert not first.duplicate and again.duplicate and again.message_id == first.message_id
    assert again.replies == ()
    assert (
        count(engine, Message),
        count(engine, Case),
        count(engine, Outbox),
        count(engine, AuditEvent),
    ) == before


def test_a_retry_of_a_message_whose_processing_crashed_is_processed_once(engine, settings, policy):
    calls = {"n": 0}

    def flaky(text, received_at=None):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("the classifier fell over")
        return fake_classify(text, received_at)

    chat = Chat(handler=make_inbound_handler(engine, settings, policy, flaky), engine=engine)
    with pytest.raises(RuntimeError):
        chat.send("The plumber was brilliant", provider_id="SM-crash")
    with Session(engine) as session:
        stored = session.exec(select(Message)).one()
        assert not stored.processed  # stored first, so nothing was lost
    assert count(engine, Case) == 0 and count(engine, Outbox) == 0  # ...and nothing half-done
    retry = chat.send("The plumber was brilliant", provider_id="SM-crash")
    assert not retry.duplicate and retry.case_reference
    third = chat.send("The plumber was brilliant", provider_id="SM-crash")
    assert third.duplicate
    assert count(engine, Message) == 1 and count(engine, Case) == 1 and count(engine, Outbox) == 1


def test_process_pending_picks_up_a_crashed_message(engine, settings, policy):
    broken = {"on": True}

    def flaky(text, received_at=None):
        if broken["on"]:
            raise RuntimeError("down")
        return fake_classify(text, received_at)

    pipeline = make_inbound_handler(engine, settings, policy, flaky)
    with pytest.raises(RuntimeError):
        pipeline(
            InboundMessage(
                channel="sms",
                sender="+447700900555",
                body="The plumber was brilliant",
                provider_message_id="SM-p",
            )
        )
    broken["on"] = False
    assert pipeline.process_pending(older_than=timedelta(0)) == 1
    assert pipeline.process_pending(older_than=timedelta(0)) == 0
    assert count(engine, Case) == 1


def _race(handler, messages):
    barrier = threading.Barrier(len(messages))
    results, errors = [], []

    def deliver(message):
        barrier.wait()
        try:
            results.append(handler(message))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=deliver, args=(m,)) for m in messages]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return results


def test_racing_retries_of_one_message_make_one_case_and_one_reply(handler, engine):
    message = InboundMessage(
        channel="sms", sender="+447700900777", body="The plumber was brilliant", provider_message_id="SM-race"
    )
    results = _race(handler, [message] * 6)
    assert sorted(r.duplicate for r in results) == [False] + [True] * 5
    assert count(engine, Message) == 1 and count(engine, Case) == 1 and count(engine, Outbox) == 1


@pytest.mark.postgres
def test_racing_different_messages_from_one_sender_are_taken_one_at_a_time(handler, engine):
    messages = [
        InboundMessage(
            channel="email",
            sender="resident@example.com",
            body=f"The plumber was brilliant {i}",
            provider_message_id=f"<race-{i}@example.com>",
        )
        for i in range(5)
    ]
    results = _race(handler, messages)
    assert not any(r.duplicate for r in results)
    with Session(engine) as session:
        conversations = session.exec(select(Conversation)).all()
        assert len(conversations) == 1
        assert conversations[0].version == 1 + 5  # every turn saw the previous one's state
        assert all(m.processed for m in session.exec(select(Message)).all())


def test_a_stale_conversation_version_is_refused(chat, engine, policy):
    chat.send("hi")
    with Session(engine, expire_on_commit=False) as reader:
        conversation = reader.exec(select(Conversation)).one()
        message = reader.exec(select(Message)).one()
        with Session(engine) as other_worker:
            row = other_worker.get(Conversation, conversation.id)
            row.version += 1
            other_worker.add(row)
            other_worker.commit()
        turn = Turn(
            session=reader,
            policy=policy,
            classify=fake_classify,
            conversation=conversation,
            message=message,
            text="x",
            received_at=T0,
            state="start",
            data={},
        )
        with pytest.raises(StaleConversation):
            chat.handler.conversations._save(reader, conversation, turn)


def test_the_pipeline_handles_the_message_again_after_a_stale_conversation(chat, monkeypatch):
    real = chat.handler.conversations.process
    calls = {"n": 0}

    def once_stale(session, message):
        calls["n"] += 1
        if calls["n"] == 1:
            raise StaleConversation("someone else got there first")
        return real(session, message)

    monkeypatch.setattr(chat.handler.conversations, "process", once_stale)
    result = chat.send("The plumber was brilliant")
    assert calls["n"] == 2 and result.case_reference


# --- several texts that are really one message ---------------------------------------------
def test_fragments_within_seconds_are_read_as_one_message(chat, engine):
    chat.send("My heating is broken", at=T0)
    first_rows = chat.outbox()
    assert first_rows and all(
        r.next_attempt_at > r.created_at for r in first_rows
    )  # held for a following fragment
    result = chat.send("and it is still not fixed, nobody came", at=T0 + timedelta(seconds=2))
    assert "complaint is about: My heating is broken and it is still not fixed" in result.replies[0]
    statuses = {r.id: r.status for r in chat.outbox(include_cancelled=True)}
    assert all(statuses[r.id] == CANCELLED for r in first_rows)
    with Session(engine) as session:
        second = session.exec(select(Message).order_by(Message.id.desc())).first()
        assert second.meta["joined_with"] and second.processed
    assert chat.conversation().state == "complaint"


def test_a_case_opened_by_the_first_fragment_is_superseded(chat, engine):
    chat.send("The plumber was brilliant", at=T0)
    [compliment] = chat.cases()
    chat.send("but I'm not happy he left a mess everywhere", at=T0 + timedelta(seconds=3))
    [old] = chat.cases()
    assert old.id == compliment.id and old.status == "superseded"
    assert chat.conversation().state == "complaint"
    with Session(engine) as session:
        actions = session.exec(select(AuditEvent.action).where(AuditEvent.case_id == old.id)).all()
        assert "case.superseded" in actions


def test_a_dispatcher_never_sends_a_superseded_reply(chat, engine):
    chat.send("My heating is broken", at=T0)
    chat.send("and it is still not fixed, nobody came", at=T0 + timedelta(seconds=2))
    sent = []
    dispatcher = Dispatcher(
        engine,
        {"sms": lambda row: sent.append(row.body) or SendResult("SMx")},
        clock=lambda: datetime.now(UTC) + timedelta(minutes=5),
    )
    dispatcher.run_once()
    assert sent == [r.body for r in chat.outbox()]
    assert all("My heating is broken" not in body or "still not fixed" in body for body in sent)


def test_a_text_after_the_window_is_a_new_turn(chat):
    chat.send("My heating is broken", at=T0)
    chat.send("hello", at=T0 + timedelta(seconds=30))
    assert not [r for r in chat.outbox(include_cancelled=True) if r.status == CANCELLED]


def test_a_text_after_the_reply_has_gone_is_a_new_turn(chat, engine):
    chat.send("My heating is broken", at=T0)
    with Session(engine) as session:
        for row in session.exec(select(Outbox)).all():
            row.status = "sent"
            session.add(row)
        session.commit()
    chat.send("and the radiator", at=T0 + timedelta(seconds=2))
    assert not [r for r in chat.outbox(include_cancelled=True) if r.status == CANCELLED]


def test_a_safety_message_is_never_held_or_superseded(chat):
    chat.send("I can smell gas", at=T0)
    chat.send("in the hallway", at=T0 + timedelta(seconds=1))
    rows = chat.outbox(include_cancelled=True)
    assert rows[0].kind == "safety" and rows[0].status == "pending"
    assert not [r for r in rows if r.status == CANCELLED]


# --- other channels' shapes ------------------------------------------------------------------
def test_automatic_email_is_recorded_and_never_answered(handler, engine):
    result = handler(
        InboundMessage(
            channel="email",
            sender="resident@example.com",
            body="I am out of the office",
            provider_message_id="<ooo@example.com>",
            automatic=True,
        )
    )
    assert not result.duplicate and result.replies == ()
    assert count(engine, Outbox) == 0 and count(engine, Message) == 1


def test_an_email_quoting_a_case_reference_is_added_to_that_case(handler, engine):
    chat = Chat(handler=handler, engine=engine, channel="email", address="resident@example.com")
    chat.send("The plumber was brilliant", subject="Thanks")
    [case] = chat.cases()
    result = chat.send(
        "Also his name was Dave", subject=f"Re: Thank you for your kind words [{case.reference}]"
    )
    assert case.reference in result.replies[0]
    assert len(chat.cases()) == 1
    rows = chat.outbox()
    assert rows[-1].subject.startswith("Re:") and rows[-1].headers.get("In-Reply-To")


def test_an_email_quoting_someone_elses_reference_does_not_reach_their_case(handler, engine):
    owner = Chat(handler=handler, engine=engine, channel="email", address="owner@example.com")
    owner.send("The plumber was brilliant")
    [case] = owner.cases()
    stranger = Chat(handler=handler, engine=engine, channel="email", address="stranger@example.com")
    result = stranger.send("hello", subject=f"Re: [{case.reference}]")
    assert case.reference not in " ".join(result.replies)


def test_stored_messages_are_bounded_and_keep_attachments(handler, engine, settings):
    huge = "word " * (settings.max_message_chars // 2)
    handler(
        InboundMessage(
            channel="email",
            sender="resident@example.com",
            body=huge,
            raw_body=huge + "\n> quoted",
            provider_message_id="<big@x>",
            attachments=(InboundAttachment("photo.jpg", "image/jpeg", 3, data=b"abc"),),
        )
    )
    with Session(engine) as session:
        message = session.exec(select(Message)).one()
        assert len(message.body) <= settings.max_message_chars
        assert session.exec(select(Attachment)).one().data == b"abc"


def test_an_opted_out_phone_gets_no_bot_texts(chat, engine):
    chat.send("hi")
    with Session(engine) as session:
        contact = session.exec(select(Contact)).first()
        if contact is None:
            pytest.skip("no contact recorded for a greeting")
        contact.sms_opted_out = True
        session.add(contact)
        session.commit()
    before = len(chat.outbox())
    chat.send("The plumber was brilliant")
    assert len(chat.outbox()) == before
    assert isinstance(chat.handler, InboundPipeline)


# --- the fast path: store now, process in a worker -----------------------------------------
def test_accept_stores_at_once_and_a_worker_processes_in_order(handler, engine):
    sender = "+447700900888"
    first = handler.accept(
        InboundMessage(
            channel="sms", sender=sender, body="I want to complain", provider_message_id="A1", received_at=T0
        )
    )
    second = handler.accept(
        InboundMessage(
            channel="sms",
            sender=sender,
            body="The repair is still not fixed",
            provider_message_id="A2",
            received_at=T0 + timedelta(minutes=1),
        )
    )
    assert not first.duplicate and not second.duplicate and first.replies == ()
    assert handler.accept(
        InboundMessage(channel="sms", sender=sender, body="x", provider_message_id="A1")
    ).duplicate
    assert count(engine, Outbox) == 0
    assert handler.process_pending(older_than=timedelta(0)) == 2
    rows = Chat(handler=handler, engine=engine, address=sender).outbox()
    assert "what happened" in rows[0].body and "complaint is about" in rows[1].body  # the order they came in
    assert handler.process_pending(older_than=timedelta(0)) == 0


def test_the_worker_backs_off_a_message_that_keeps_failing(engine, settings, policy):
    def broken(text, received_at=None):
        raise RuntimeError("down")

    pipeline = make_inbound_handler(engine, settings, policy, broken)
    pipeline.accept(
        InboundMessage(channel="sms", sender="+447700900999", body="hi", provider_message_id="B1")
    )
    assert pipeline.process_pending(older_than=timedelta(0)) == 0
    assert list(pipeline._failures.values())[0][0] == 1
    assert (
        pipeline.process_pending(older_than=timedelta(0)) == 0
    )  # waiting for its retry time: not tried again
    assert list(pipeline._failures.values())[0][0] == 1
    stops = iter([False, True])
    pipeline.run_worker(should_stop=lambda: next(stops), idle_sleep=0)


def test_over_the_senders_limit_a_message_is_kept_unanswered_and_a_retry_does_not_count(handler, engine):
    def send(n: int, provider_id: str | None = None):
        return handler(
            InboundMessage(
                channel="sms",
                sender="+447700900123",
                body=f"The plumber was brilliant {n}",
                provider_message_id=provider_id or f"SM-limit-{n}",
                rate_limit=("sms:+447700900123", 2),
            )
        )

    first, second = send(1), send(2)
    assert first.replies and second.replies
    again = send(2, provider_id="SM-limit-2")  # Twilio's retry: rolled back with its count
    assert again.duplicate
    third = send(3)
    assert third.replies == () and not third.duplicate  # over the limit: stored, never answered
    with Session(engine) as session:
        rows = session.exec(select(Message).where(Message.direction == "in").order_by(Message.id)).all()
    assert [m.body[-1] for m in rows] == ["1", "2", "3"]
    assert [bool(m.meta.get("rate_limited")) for m in rows] == [False, False, True]
    assert all(m.processed for m in rows)


@pytest.mark.postgres
def test_several_workers_share_a_backlog_each_message_answered_once_in_each_senders_order(
    engine, settings, policy
):
    workers = [make_inbound_handler(engine, settings, policy, fake_classify) for _ in range(3)]
    senders = [f"+4477009{n:05d}" for n in range(8)]
    for turn in range(3):
        for sender in senders:
            workers[0].accept(
                InboundMessage(
                    channel="sms",
                    sender=sender,
                    body=f"The plumber was brilliant {turn}",
                    provider_message_id=f"SM-backlog-{sender}-{turn}",
                )
            )
    barrier = threading.Barrier(len(workers))
    done: list[int] = []

    def drain(worker):
        barrier.wait(timeout=10)
        total = 0
        while n := worker.process_pending(older_than=timedelta(0), deferred_channels=("sms",)):
            total += n
        done.append(total)

    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    while workers[0].process_pending(older_than=timedelta(0), deferred_channels=("sms",)):
        pass  # whatever was skipped while its sender was busy
    with Session(engine) as session:
        messages = session.exec(select(Message).where(Message.direction == "in")).all()
        assert len(messages) == 24 and all(m.processed for m in messages)
        for sender in senders:
            conversation = session.exec(
                select(Conversation)
                .join(Message, Message.conversation_id == Conversation.id)
                .where(Message.sender == sender)
            ).first()
            assert conversation.version == 1 + 3  # three turns, each on the state the last one left
    assert count(engine, Case) == 24 and count(engine, Outbox) == 24  # a compliment each, thanked once

"""Outbound webhooks: case events signed with HMAC-SHA256, queued with the change, delivered
to a local receiver that checks the signature, retried by the outbox."""

from __future__ import annotations

import json
import threading
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import SecretStr
from sqlmodel import Session, select

from intake.events import install_case_event_hooks, queue_case_event
from intake.models import Case, Outbox, utcnow
from intake.outbox import DELIVERED, PARKED, PENDING, Dispatcher
from integrations.webhooks import WebhookSender, sign, verify

SECRET = "webhook-secret-for-tests"


class Receiver:
    """A housing management system's endpoint: verifies every delivery's signature."""

    def __init__(self) -> None:
        self.deliveries: list[dict] = []
        self.statuses: list[int] = []  # answers to give, in order; then 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                valid = verify(SECRET.encode(), body, self.headers.get("X-Signature", ""))
                status = receiver.statuses.pop(0) if receiver.statuses else (200 if valid else 401)
                receiver.deliveries.append(
                    {
                        "valid": valid,
                        "body": json.loads(body),
                        "headers": dict(self.headers),
                        "status": status,
                    }
                )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/cases"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def hook_settings(settings, receiver):
    return settings.model_copy(update={"webhook_urls": receiver.url, "webhook_secret": SecretStr(SECRET)})


def new_case(session, reference="CMP-2026-000001") -> Case:
    case = Case(
        reference=reference, category="complaint", channel="sms", received_on=date(2026, 11, 26), stage=1
    )
    session.add(case)
    session.flush()
    return case


def test_an_event_is_queued_with_the_change_and_delivered_signed(engine, hook_settings, receiver):
    with Session(engine) as session:
        case = new_case(session)
        [row] = queue_case_event(session, case, "case.created", urls=hook_settings.webhook_urls)
        session.commit()
        row_id = row.id
    assert Dispatcher(engine, {"webhook": WebhookSender(hook_settings)}).run_once() == 1
    [delivery] = receiver.deliveries
    assert delivery["valid"]
    body = delivery["body"]
    assert body["event"] == "case.created" and body["case"]["reference"] == "CMP-2026-000001"
    assert delivery["headers"]["X-Signature"].startswith("sha256=")
    assert delivery["headers"]["X-Timestamp"].isdigit()
    assert delivery["headers"]["X-Event-Id"] == body["id"]
    with Session(engine) as session:
        assert session.get(Outbox, row_id).status == DELIVERED


def test_the_event_carries_no_resident_words(engine, hook_settings):
    with Session(engine) as session:
        case = new_case(session)
        case.summary = "my neighbour at number 4 is threatening me"
        case.outcome_sought = "move me"
        [row] = queue_case_event(session, case, "case.created", urls=hook_settings.webhook_urls)
    assert "neighbour" not in row.body and "move me" not in row.body


def test_an_event_is_only_queued_if_the_change_commits(engine, hook_settings):
    with Session(engine) as session:
        case = new_case(session)
        queue_case_event(session, case, "case.created", urls=hook_settings.webhook_urls)
        session.rollback()
    with Session(engine) as session:
        assert session.exec(select(Outbox)).all() == []


def test_a_failing_receiver_gets_the_same_event_again_until_it_accepts(engine, hook_settings, receiver):
    receiver.statuses = [500, 503]
    with Session(engine) as session:
        queue_case_event(session, new_case(session), "case.updated", urls=hook_settings.webhook_urls)
        session.commit()
    now = [utcnow()]
    dispatcher = Dispatcher(engine, {"webhook": WebhookSender(hook_settings)}, clock=lambda: now[0])
    for _ in range(3):
        dispatcher.run_once()
        now[0] += timedelta(hours=2)
    assert [d["status"] for d in receiver.deliveries] == [500, 503, 200]
    assert len({d["body"]["id"] for d in receiver.deliveries}) == 1  # one event, retried
    assert all(d["valid"] for d in receiver.deliveries)
    with Session(engine) as session:
        row = session.exec(select(Outbox)).one()
        assert row.status == DELIVERED and row.attempts == 3


def test_a_wrong_secret_is_caught_by_the_receiver_and_parked(engine, hook_settings, receiver):
    wrong = hook_settings.model_copy(update={"webhook_secret": SecretStr("not-the-secret")})
    with Session(engine) as session:
        queue_case_event(session, new_case(session), "case.created", urls=hook_settings.webhook_urls)
        session.commit()
    Dispatcher(engine, {"webhook": WebhookSender(wrong)}).run_once()
    assert receiver.deliveries[0]["valid"] is False
    with Session(engine) as session:
        assert session.exec(select(Outbox)).one().status == PARKED


def test_an_unreachable_receiver_is_retried(engine, hook_settings, receiver):
    url = receiver.url
    receiver.stop()
    with Session(engine) as session:
        queue_case_event(session, new_case(session), "case.created", urls=url)
        session.commit()
    Dispatcher(engine, {"webhook": WebhookSender(hook_settings)}).run_once()
    with Session(engine) as session:
        row = session.exec(select(Outbox)).one()
        assert row.status == PENDING and "could not deliver" in row.last_error
    receiver.server = type(
        "Stopped", (), {"shutdown": lambda self: None, "server_close": lambda self: None}
    )()


def test_hooks_queue_created_and_updated_for_any_code_that_changes_a_case(engine, hook_settings, receiver):
    install_case_event_hooks(engine, hook_settings.webhook_urls)
    try:
        with Session(engine) as session:
            case = new_case(session)
            case.status = "awaiting_acknowledgement"  # same transaction: still one case.created
            session.add(case)
            session.commit()
            case_id = case.id
        with Session(engine) as session:
            case = session.get(Case, case_id)
            case.status = "stage1_in_progress"
            case.version += 1
            session.add(case)
            session.commit()
        with Session(engine) as session:
            case = session.get(Case, case_id)
            case.summary = "a field that is not status or version"
            session.add(case)
            session.commit()
        with Session(engine) as session:
            kinds = [row.kind for row in session.exec(select(Outbox).order_by(Outbox.id)).all()]
        assert kinds == ["case.created", "case.updated"]
        Dispatcher(engine, {"webhook": WebhookSender(hook_settings)}).run_once()
        assert [d["body"]["case"]["status"] for d in receiver.deliveries] == [
            "awaiting_acknowledgement",
            "stage1_in_progress",
        ]
        assert all(d["valid"] for d in receiver.deliveries)
    finally:
        install_case_event_hooks(engine, None)


def test_no_webhook_url_means_no_rows(engine, settings):
    install_case_event_hooks(engine, "")
    with Session(engine) as session:
        assert queue_case_event(session, new_case(session), "case.created", urls="") == []
        session.commit()
        assert session.exec(select(Outbox)).all() == []


def test_the_signature_is_hmac_sha256_of_the_body():
    import hashlib
    import hmac

    body = b'{"event":"case.created"}'
    assert sign(b"k", body) == "sha256=" + hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert verify(b"k", body, sign(b"k", body)) and not verify(b"k", body + b" ", sign(b"k", body))

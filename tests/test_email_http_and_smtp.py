"""E-mail in over HTTP and SMTP, and out over SMTP to a real aiosmtpd server on loopback."""

from __future__ import annotations

import email
import email.policy
import smtplib
import socket
from datetime import date
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import Session, select

from intake.models import Case, Message, Outbox
from intake.outbox import PARKED, SENT, Dispatcher, enqueue
from integrations.email_http import EMAIL_PATH, email_router
from integrations.email_in import parse_email, receive_email
from integrations.email_out import SmtpSender
from integrations.smtp_listener import start_listener
from tests.recording_handler import RecordingHandler

CORPUS = Path(__file__).parent / "fixtures" / "email"
TOKEN = "inbound-mail-token-for-tests"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def mail_settings(settings):
    return settings.model_copy(update={"inbound_mail_token": SecretStr(TOKEN)})


@pytest.fixture
def handler(engine):
    return RecordingHandler(engine)


@pytest.fixture
def mail_client(mail_settings, engine, policy, handler):
    app = FastAPI()
    app.state.settings, app.state.engine, app.state.policy = mail_settings, engine, policy
    app.include_router(email_router(handler))
    with TestClient(app) as client:
        yield client


def post_mail(client, raw: bytes, token: str | None = TOKEN):
    headers = {"Content-Type": "message/rfc822"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return client.post(EMAIL_PATH, content=raw, headers=headers)


# --- HTTP ------------------------------------------------------------------------------------


def test_raw_mime_posted_with_the_token_is_handed_on(mail_client, handler):
    response = post_mail(mail_client, (CORPUS / "outlook_html_only.eml").read_bytes())
    assert response.status_code == 202
    assert response.json()["duplicate"] is False and response.json()["automatic"] is False
    assert handler.calls[0].sender == "margaret.ellis@outlook.com"


def test_a_redelivered_mail_is_a_duplicate(mail_client, engine):
    raw = (CORPUS / "outlook_html_only.eml").read_bytes()
    assert post_mail(mail_client, raw).status_code == 202
    second = post_mail(mail_client, raw)
    assert second.status_code == 200 and second.json()["duplicate"] is True
    with Session(engine) as session:
        assert len(session.exec(select(Message)).all()) == 1
        assert len(session.exec(select(Outbox)).all()) == 1


@pytest.mark.parametrize(("token", "status", "words"), [(None, 401, "Bearer"), ("wrong", 403, "not right")])
def test_without_the_right_token_nothing_is_stored(mail_client, handler, token, status, words):
    response = post_mail(mail_client, (CORPUS / "outlook_html_only.eml").read_bytes(), token=token)
    assert response.status_code == status and words in response.json()["detail"]
    assert handler.calls == []


def test_with_no_token_configured_the_endpoint_is_off(settings, engine, policy, handler):
    app = FastAPI()
    app.state.settings, app.state.engine, app.state.policy = settings, engine, policy
    app.include_router(email_router(handler))
    with TestClient(app) as client:
        response = post_mail(client, b"From: a@b.c\r\n\r\nhi", token="anything")
    assert response.status_code == 403 and "INBOUND_MAIL_TOKEN" in response.json()["detail"]


def test_an_oversized_mail_gets_413(mail_settings, engine, policy, handler):
    app = FastAPI()
    app.state.settings = mail_settings.model_copy(update={"max_email_bytes": 1024 * 1024})
    app.state.engine, app.state.policy = engine, policy
    app.include_router(email_router(handler))
    with TestClient(app) as client:
        response = post_mail(client, b"From: a@example.com\r\n\r\n" + b"x" * (2 * 1024 * 1024))
    assert response.status_code == 413 and "MB" in response.json()["detail"]
    assert handler.calls == []


@pytest.mark.parametrize(("raw", "words"), [(b"", "empty"), (b"just some text\r\n", "no From")])
def test_something_that_is_not_an_email_gets_a_clear_400(mail_client, handler, raw, words):
    response = post_mail(mail_client, raw)
    assert response.status_code == 400 and words in response.json()["detail"]


def test_a_10_mb_attachment_over_http_is_stored(mail_client, handler):
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = "kim@example.com"
    message["To"] = "complaints@example-housing.org.uk"
    message["Subject"] = "Photos"
    message["Message-ID"] = "<ten-mb@example.com>"
    message.set_content("Photos attached.")
    message.add_attachment(
        b"\x89PNG" + b"\x00" * (10 * 1024 * 1024), maintype="image", subtype="png", filename="a.png"
    )
    assert post_mail(mail_client, message.as_bytes()).status_code == 202
    [attachment] = handler.calls[0].attachments
    assert attachment.size == 10 * 1024 * 1024 + 4 and attachment.data is not None


# --- SMTP listener ---------------------------------------------------------------------------


def test_the_smtp_listener_feeds_the_same_parser(mail_settings, engine, handler):
    settings = mail_settings.model_copy(update={"smtp_listen_port": free_port()})
    controller = start_listener(settings, engine, handler)
    try:
        raw = (CORPUS / "forwarded_chain.eml").read_bytes()
        with smtplib.SMTP(settings.smtp_listen_host, settings.smtp_listen_port, timeout=10) as smtp:
            smtp.sendmail("caseworker.jones@anytown.gov.uk", ["complaints@example-housing.org.uk"], raw)
            smtp.sendmail(
                "caseworker.jones@anytown.gov.uk", ["complaints@example-housing.org.uk"], raw
            )  # redelivery
    finally:
        controller.stop()
    assert [m.sender for m in handler.calls] == ["aisha.begum77@yahoo.co.uk"] * 2
    with Session(engine) as session:
        assert len(session.exec(select(Message)).all()) == 1


def test_the_smtp_listener_refuses_an_oversized_message(mail_settings, engine, handler):
    settings = mail_settings.model_copy(
        update={"smtp_listen_port": free_port(), "max_email_bytes": 64 * 1024}
    )
    controller = start_listener(settings, engine, handler)
    try:
        with smtplib.SMTP(settings.smtp_listen_host, settings.smtp_listen_port, timeout=10) as smtp:
            with pytest.raises(smtplib.SMTPException):
                smtp.sendmail(
                    "a@example.com",
                    ["complaints@example-housing.org.uk"],
                    b"From: a@example.com\r\nSubject: big\r\n\r\n" + b"x" * 200_000,
                )
    finally:
        controller.stop()
    assert handler.calls == []


# --- SMTP out --------------------------------------------------------------------------------


class Inbox:
    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


@pytest.fixture
def out_settings(settings, smtp_server):
    _, port = smtp_server
    return settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": port})


def received(inbox):
    return [email.message_from_bytes(e.content, policy=email.policy.default) for e in inbox.envelopes]


def test_a_reply_keeps_the_thread_with_message_id_in_reply_to_and_references(
    engine, out_settings, smtp_server, settings
):
    inbox, _ = smtp_server
    raw = (CORPUS / "gmail_reply_quoted.eml").read_bytes()
    incoming = parse_email(raw, settings)
    with Session(engine) as session:
        case = Case(
            reference="CMP-2026-000123", category="complaint", channel="email", received_on=date(2026, 11, 24)
        )
        session.add(case)
        session.flush()
        session.add(
            Outbox(
                case_id=case.id,
                channel="email",
                kind="acknowledgement",
                to_address=incoming.sender,
                body="ack",
                status="sent",
                provider_message_id="<outbox-41.c0ffee@example-housing.org.uk>",
            )
        )
        session.add(
            Message(
                case_id=case.id,
                direction="in",
                channel="email",
                body=incoming.body,
                provider_message_id=incoming.provider_message_id,
                sender=incoming.sender,
            )
        )
        row = enqueue(
            session,
            channel="email",
            to=incoming.sender,
            subject="Re: Your complaint",
            kind="reply",
            body="Thank you, we've noted the days that suit you.",
            case=case,
        )
        session.commit()
        row_id = row.id
    assert Dispatcher(engine, {"email": SmtpSender(out_settings, engine)}).run_once() == 1
    [sent] = received(inbox)
    assert inbox.envelopes[0].rcpt_tos == ["darren.okafor@gmail.com"]
    assert sent["Message-ID"].endswith("@example-housing.org.uk>")
    assert sent["In-Reply-To"] == incoming.provider_message_id
    assert sent["References"].split() == [
        "<outbox-41.c0ffee@example-housing.org.uk>",
        incoming.provider_message_id,
    ]
    assert sent["Auto-Submitted"] == "auto-replied"
    assert "CMP-2026-000123" in sent["Subject"]
    assert sent["From"].addresses[0].addr_spec == out_settings.mail_from
    assert sent.get_content().strip() == "Thank you, we've noted the days that suit you."
    with Session(engine) as session:
        row = session.get(Outbox, row_id)
        assert row.status == SENT and row.provider_message_id == sent["Message-ID"]
    # The resident's answer to our reply threads back onto the case by In-Reply-To alone.
    answer = (
        f"From: darren.okafor@gmail.com\r\nTo: complaints@example-housing.org.uk\r\nSubject: thanks\r\n"
        f"Message-ID: <answer-2@mail.gmail.com>\r\nIn-Reply-To: {sent['Message-ID']}\r\n\r\nThanks!\r\n"
    ).encode()
    message, _ = receive_email(answer, engine=engine, handle=RecordingHandler(engine), settings=settings)
    assert message.thread_reference == "CMP-2026-000123"
    # and our own reply, bounced back to us, is recognised as a loop and never answered
    assert parse_email(inbox.envelopes[0].content, settings).automatic


def test_the_message_id_is_the_same_on_a_retry(engine, out_settings):
    with Session(engine) as session:
        row = enqueue(session, channel="email", to="a@example.com", subject="Hi", body="x", kind="reply")
        session.commit()
        session.refresh(row)
    sender = SmtpSender(out_settings, engine)
    assert sender.build(row)["Message-ID"] == sender.build(row)["Message-ID"]


def test_a_refused_recipient_is_parked_and_an_unreachable_server_retried(engine, out_settings, smtp_server):
    inbox, _ = smtp_server
    inbox.refuse.add("nobody@example.com")
    with Session(engine) as session:
        refused = enqueue(
            session, channel="email", to="nobody@example.com", subject="Hi", body="x", kind="reply"
        ).id
        session.commit()
    Dispatcher(engine, {"email": SmtpSender(out_settings, engine)}).run_once()
    down = out_settings.model_copy(update={"smtp_port": free_port()})
    with Session(engine) as session:
        unreachable = enqueue(
            session, channel="email", to="a@example.com", subject="Hi", body="x", kind="reply"
        ).id
        session.commit()
    Dispatcher(engine, {"email": SmtpSender(down, engine)}).run_once()
    with Session(engine) as session:
        assert session.get(Outbox, refused).status == PARKED
        row = session.get(Outbox, unreachable)
        assert row.status == "pending" and "could not reach" in row.last_error


def test_a_letter_written_by_staff_is_not_marked_automatic(engine, out_settings, smtp_server):
    inbox, _ = smtp_server
    with Session(engine) as session:
        enqueue(
            session,
            channel="email",
            to="a@example.com",
            subject="Your complaint",
            body="Dear Ms A",
            kind="staff_reply",
        )
        session.commit()
    Dispatcher(engine, {"email": SmtpSender(out_settings, engine)}).run_once()
    [sent] = received(inbox)
    assert sent["Auto-Submitted"] is None

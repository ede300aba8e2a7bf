"""A resident's whole complaint by e-mail, through the real app, engine and database: raw MIME in
over HTTP, replies out over SMTP to a real aiosmtpd server, the resident replying in the thread."""

from __future__ import annotations

import email
import email.policy
import socket
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import Session, select
from test_engine_support import fake_classify

from intake.models import Case, Message, Outbox
from intake.outbox import Dispatcher
from integrations.email_http import EMAIL_PATH

TOKEN = "e2e-mail-token"
RESIDENT = "darren.okafor@gmail.com"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


@pytest.fixture
def inbox():
    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.port = controller.port
    yield box
    controller.stop()


@pytest.fixture
def mail_settings(settings, inbox):
    return settings.model_copy(
        update={
            "inbound_mail_token": SecretStr(TOKEN),
            "smtp_host": "127.0.0.1",
            "smtp_port": inbox.port,
        }
    )


@pytest.fixture
def client(mail_settings, engine):
    from bot.app import create_app

    with TestClient(create_app(mail_settings, engine=engine, classify=fake_classify)) as client:
        yield client


class Resident:
    def __init__(self, client, engine, settings, inbox):
        self.client, self.engine, self.settings, self.inbox = client, engine, settings, inbox
        self.count = 0
        self.thread: list[str] = []

    def write(
        self,
        text: str,
        *,
        reply_to: email.message.EmailMessage | None = None,
        subject="Complaint about a contractor",
        **headers,
    ) -> dict:
        self.count += 1
        message = EmailMessage()
        message["From"] = f"Darren Okafor <{RESIDENT}>"
        message["To"] = "complaints@example-housing.org.uk"
        message["Message-ID"] = f"<resident-{self.count}@mail.gmail.com>"
        message["Date"] = (
            datetime(2026, 11, 26, 9, tzinfo=UTC) + timedelta(minutes=10 * self.count)
        ).strftime("%a, %d %b %Y %H:%M:%S +0000")
        body = text
        if reply_to is not None:
            message["Subject"] = (
                reply_to["Subject"]
                if reply_to["Subject"].lower().startswith("re:")
                else f"Re: {reply_to['Subject']}"
            )
            message["In-Reply-To"] = reply_to["Message-ID"]
            message["References"] = " ".join(
                filter(None, [reply_to.get("References"), reply_to["Message-ID"]])
            )
            quoted = "\n".join("> " + line for line in reply_to.get_content().splitlines())
            body = f"{text}\n\nOn Thu, 26 Nov 2026 at 09:00, Example Housing <complaints@example-housing.org.uk> wrote:\n\n{quoted}\n"
        else:
            message["Subject"] = subject
        for key, value in headers.items():
            message[key.replace("_", "-")] = value
        message.set_content(body)
        raw = message.as_bytes()
        response = self.client.post(EMAIL_PATH, content=raw, headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code in (200, 202), response.text
        self.last_raw = raw
        return response.json()

    def deliver(self) -> list[email.message.EmailMessage]:
        """Run the dispatcher (as `triage dispatch` would) and return what arrived."""
        from bot.senders import build_senders

        before = len(self.inbox.messages)
        sender = build_senders(self.settings, self.engine)["email"]
        dispatcher = Dispatcher(
            self.engine, {"email": sender}, clock=lambda: datetime.now(UTC) + timedelta(minutes=5)
        )
        while dispatcher.run_once():
            pass
        return self.inbox.messages[before:]


def counts(engine):
    with Session(engine) as session:
        return {model.__name__: len(session.exec(select(model)).all()) for model in (Message, Case, Outbox)}


def test_a_full_complaint_by_email_threads_every_reply_and_ends_with_an_acknowledgement(
    client, engine, mail_settings, inbox
):
    resident = Resident(client, engine, mail_settings, inbox)
    resident.write(
        "Your contractor was rude to me last Tuesday and left a mess. I want an apology and the mess cleaned up."
    )
    [question] = resident.deliver()
    assert question["To"] == RESIDENT
    assert question["In-Reply-To"] == "<resident-1@mail.gmail.com>"
    assert question["Auto-Submitted"] == "auto-replied"
    assert "large print" in question.get_content()

    resident.write("no thanks", reply_to=question)
    [question] = resident.deliver()
    assert question["In-Reply-To"] == "<resident-2@mail.gmail.com>"
    assert "<resident-1@mail.gmail.com>" in question["References"]
    resident.write("No, just me", reply_to=question)
    [question] = resident.deliver()
    assert "contact you" in question.get_content()
    result = resident.write("Call me, mornings are best", reply_to=question)

    with Session(engine) as session:
        [case] = session.exec(select(Case)).all()
        assert case.category == "complaint" and case.channel == "email"
        assert case.outcome_sought.startswith("I want an apology")
        stored = session.exec(select(Message).where(Message.direction == "in").order_by(Message.id)).all()
        assert stored[-1].body.startswith("Call me, mornings are best")
        assert "wrote:" in stored[-1].body  # the full text is kept on the record
    assert result["case_reference"] == case.reference
    letters = resident.deliver()
    acknowledgement = letters[-1]
    assert case.reference in acknowledgement["Subject"] or case.reference in acknowledgement.get_content()
    assert acknowledgement["In-Reply-To"] == "<resident-4@mail.gmail.com>"
    assert acknowledgement["Message-ID"].endswith(f"@{mail_settings.mail_domain}>")

    # The same mail delivered again (a provider retry) creates nothing new.
    before = counts(engine)
    response = client.post(
        EMAIL_PATH, content=resident.last_raw, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 200 and response.json()["duplicate"] is True
    assert counts(engine) == before

    # The resident's later e-mail in the same thread is added to the case by its reference.
    resident.write("Also the contractor left the gate open and the dog got out.", reply_to=acknowledgement)
    with Session(engine) as session:
        assert len(session.exec(select(Case)).all()) == 1
        last = session.exec(
            select(Message).where(Message.direction == "in").order_by(Message.id.desc())
        ).first()
        assert last.case_id == case.id


def test_an_out_of_office_in_reply_to_our_mail_is_recorded_and_never_answered(
    client, engine, mail_settings, inbox
):
    resident = Resident(client, engine, mail_settings, inbox)
    resident.write(
        "Your contractor was rude to me last Tuesday and left a mess. I want an apology and the mess cleaned up."
    )
    [question] = resident.deliver()
    before = counts(engine)
    result = resident.write(
        "I am out of the office until Monday.", reply_to=question, Auto_Submitted="auto-replied"
    )
    assert result["automatic"] is True
    assert resident.deliver() == []
    after = counts(engine)
    assert after["Message"] == before["Message"] + 1 and after["Outbox"] == before["Outbox"]

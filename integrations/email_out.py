"""The outbox sender for e-mail: SMTP through smtplib, threaded so the resident's mail client
keeps the conversation together.

- Message-ID on our own domain, derived from the outbox row, so a retry after a crash sends the
  same Message-ID (and inbound mail that names it finds the case again, see email_in).
- In-Reply-To / References: from the row's headers when the engine set them, otherwise from
  the e-mails already on the same conversation or case.
- The case reference is kept in the subject (Zammad threads on it first).
- Letters the bot writes carry `Auto-Submitted: auto-replied` (RFC 3834) and ask Exchange not
  to send out-of-office replies back (`X-Auto-Response-Suppress`); our loop filter knows both.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr, formatdate

from sqlalchemy.engine import Engine
from sqlmodel import Session, or_, select

from intake.errors import PolicyError
from intake.models import Case, Message, Outbox
from intake.outbox import SendError, SendResult
from intake.policy import load_policy
from intake.settings import Settings

log = logging.getLogger(__name__)

CHANNEL = "email"
MAX_REFERENCES = 20
# Outbox kinds written by a person, not the bot: these are not auto-replies.
HUMAN_KINDS = ("staff_reply", "staff_letter", "decision_letter_staff")


def message_id_for(row: Outbox, domain: str) -> str:
    """Stable per outbox row: the same row always has the same Message-ID."""
    digest = hashlib.sha256(
        f"{row.id}:{row.created_at.isoformat() if row.created_at else ''}".encode()
    ).hexdigest()
    return f"<outbox-{row.id}.{digest[:12]}@{domain}>"


def thread_headers(session: Session, row: Outbox) -> tuple[str | None, list[str]]:
    """(In-Reply-To, References) for a reply on the row's conversation or case."""
    scope = []
    if row.conversation_id is not None:
        scope.append(Message.conversation_id == row.conversation_id)
    if row.case_id is not None:
        scope.append(Message.case_id == row.case_id)
    ids: list[tuple[object, str]] = []
    last_inbound: str | None = None
    if scope:
        for created_at, direction, provider_id in session.exec(
            select(Message.created_at, Message.direction, Message.provider_message_id)
            .where(Message.channel == CHANNEL, or_(*scope), Message.provider_message_id.is_not(None))
            .order_by(Message.created_at, Message.id)
        ).all():
            ids.append((created_at, provider_id))
            if direction == "in":
                last_inbound = provider_id
    if row.case_id is not None:
        for created_at, provider_id in session.exec(
            select(Outbox.created_at, Outbox.provider_message_id).where(
                Outbox.channel == CHANNEL,
                Outbox.case_id == row.case_id,
                Outbox.id != row.id,
                Outbox.provider_message_id.is_not(None),
            )
        ).all():
            ids.append((created_at, provider_id))
    ids.sort(key=lambda pair: str(pair[0]))
    references = list(dict.fromkeys(i for _, i in ids if i and i.startswith("<")))
    return last_inbound, references[-MAX_REFERENCES:]


class SmtpSender:
    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        try:
            self.display_name = load_policy(settings.policy).landlord
        except PolicyError:
            self.display_name = ""

    def build(self, row: Outbox) -> EmailMessage:
        settings = self.settings
        headers = {str(k).lower(): str(v) for k, v in (row.headers or {}).items()}
        with Session(self.engine) as session:
            in_reply_to, references = thread_headers(session, row)
            reference = (
                session.exec(select(Case.reference).where(Case.id == row.case_id)).first()
                if row.case_id
                else None
            )
        in_reply_to = headers.get("in-reply-to") or in_reply_to
        if headers.get("references"):
            references = headers["references"].split()
        if in_reply_to and in_reply_to not in references:
            references.append(in_reply_to)
        subject = row.subject or headers.get("subject") or "Your message to us"
        if reference and reference not in subject:
            subject = f"{subject} [{reference}]"
        message = EmailMessage()
        message["From"] = formataddr((headers.get("from-name") or self.display_name, settings.mail_from))
        message["To"] = row.to_address
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = message_id_for(row, settings.mail_domain)
        if in_reply_to:
            message["In-Reply-To"] = in_reply_to
        if references:
            message["References"] = " ".join(references[-MAX_REFERENCES:])
        if row.kind not in HUMAN_KINDS and headers.get("auto-submitted", "auto-replied") != "no":
            message["Auto-Submitted"] = headers.get("auto-submitted", "auto-replied")
            message["X-Auto-Response-Suppress"] = "All"
        if headers.get("reply-to"):
            message["Reply-To"] = headers["reply-to"]
        message.set_content(row.body, charset="utf-8")
        return message

    def __call__(self, row: Outbox) -> SendResult:
        message = self.build(row)
        settings = self.settings
        try:
            with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
                if settings.smtp_starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if settings.smtp_username:
                    smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
                smtp.send_message(message, from_addr=settings.mail_from, to_addrs=[row.to_address])
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise SendError(
                f"the mail server refused {row.to_address}: {codes}", permanent=all(c >= 500 for c in codes)
            ) from None
        except smtplib.SMTPResponseException as exc:
            text = (
                exc.smtp_error.decode(errors="replace")
                if isinstance(exc.smtp_error, bytes)
                else str(exc.smtp_error)
            )
            raise SendError(
                f"the mail server said {exc.smtp_code} {text}", permanent=exc.smtp_code >= 500
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise SendError(
                f"could not reach the mail server {settings.smtp_host}:{settings.smtp_port}: {exc}"
            ) from None
        return SendResult(provider_message_id=message["Message-ID"], status="sent")


def build_email_sender(settings: Settings, engine: Engine) -> SmtpSender | None:
    if not settings.smtp_host or not settings.mail_from:
        log.info("e-mail sending is off: set SMTP_HOST and MAIL_FROM")
        return None
    return SmtpSender(settings, engine)

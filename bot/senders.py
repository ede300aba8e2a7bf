"""The outbox dispatcher's senders, one per channel, built from settings.

A channel with no sender configured (for example SMS without Twilio credentials) is not
claimed by the dispatcher: its messages wait in the outbox, visible to staff, until it is.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from intake.outbox import Sender
from intake.settings import Settings


def build_senders(settings: Settings, engine: Engine | None = None) -> dict[str, Sender]:
    """web chat always; sms (Twilio), email (SMTP) and webhook senders for whatever is configured.

    The SMS and e-mail senders read the database (opt-outs, e-mail threads), so they need the
    engine; one is made from settings when none is given.
    """
    from integrations.email_out import build_email_sender
    from integrations.twilio_sms import build_sms_sender
    from integrations.web_chat import send as web_chat_send
    from integrations.webhooks import build_webhook_sender

    if engine is None:
        from intake.db import make_engine

        engine = make_engine(settings.effective_database_url)
    senders: dict[str, Sender] = {"web": web_chat_send}  # the chat page shows the row: nothing to configure
    if (sms := build_sms_sender(settings, engine)) is not None:
        senders["sms"] = sms
    if (email := build_email_sender(settings, engine)) is not None:
        senders["email"] = email
    if (webhook := build_webhook_sender(settings)) is not None:
        senders["webhook"] = webhook
    return senders

"""An SMTP server (aiosmtpd) that takes mail for the complaints address and feeds the same
parser and handler as the HTTP endpoint. Run it with `triage smtp-listen`, behind the MTA that
receives the public mail (it does no TLS or relay checks of its own: keep it on loopback or a
private network, which is the default host).

Replies to the sending server: 250 once the message is stored; 552 over the size cap (aiosmtpd);
550 for something that is not an e-mail; 451 (try again later) if storing failed, so the sending
server keeps the message and retries: nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope
from aiosmtpd.smtp import Session as SmtpSession
from sqlalchemy.engine import Engine

from intake.inbound import InboundHandler
from intake.settings import Settings
from integrations.email_in import receive_email

log = logging.getLogger(__name__)


class IntakeSmtpHandler:
    def __init__(self, settings: Settings, engine: Engine, handle: InboundHandler) -> None:
        self.settings = settings
        self.engine = engine
        self.handle = handle

    async def handle_DATA(self, server: SMTP, session: SmtpSession, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        loop = asyncio.get_running_loop()
        try:
            message, result = await loop.run_in_executor(
                None,
                lambda: receive_email(raw, engine=self.engine, handle=self.handle, settings=self.settings),
            )
        except ValueError as exc:
            log.warning("SMTP message refused: %s", exc)
            return f"550 5.6.0 Not an e-mail we can read: {exc}"
        except Exception:
            log.exception("SMTP message could not be stored; asking the sender to retry")
            return "451 4.3.0 Could not store the message just now, please try again later"
        log.info(
            "mail %s %s (automatic=%s)",
            message.provider_message_id[:80],
            "was a duplicate" if result.duplicate else "stored",
            message.automatic,
        )
        return "250 2.0.0 Message accepted"


def start_listener(settings: Settings, engine: Engine, handle: InboundHandler) -> Controller:
    """Start listening on settings.smtp_listen_host:port in a background thread. Call .stop()."""
    controller = Controller(
        IntakeSmtpHandler(settings, engine, handle),
        hostname=settings.smtp_listen_host,
        port=settings.smtp_listen_port,
        data_size_limit=settings.max_email_bytes,
        decode_data=False,
        ident="complaint-triage",
    )
    controller.start()
    return controller

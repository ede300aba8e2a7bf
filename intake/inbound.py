"""The neutral shape every channel turns a provider's request into (Rasa's UserMessage)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from intake.models import utcnow


@dataclass(frozen=True)
class InboundAttachment:
    filename: str
    content_type: str
    size: int
    data: bytes | None = None  # None when held by the provider (MMS media URL) or over the size cap
    url: str | None = None


@dataclass(frozen=True)
class InboundMessage:
    channel: str  # sms | web | email
    sender: str  # E.164 phone, e-mail address, or web chat session token
    body: str
    provider_message_id: str  # Twilio MessageSid, e-mail Message-ID, web chat client message id
    received_at: datetime = field(default_factory=utcnow)
    recipient: str | None = None
    sender_name: str | None = None
    subject: str | None = None
    attachments: tuple[InboundAttachment, ...] = ()
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    automatic: bool = False  # auto-replies, bounces: recorded, never answered
    raw_body: str | None = None  # the full text (quotes, signatures) kept for the record
    # The case this message continues, when the channel can tell: a reference quoted in an
    # e-mail subject (CMP-2026-000123), or the case of the message named by In-Reply-To/References.
    thread_reference: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    # (key, messages a minute): counted in the same transaction that stores the message; over
    # the limit the message is still kept, but marked automatic (never answered). See ratelimit.
    rate_limit: tuple[str, int] | None = None


@dataclass(frozen=True)
class InboundResult:
    duplicate: bool  # already had this provider message id: nothing new was done
    message_id: int | None = None
    replies: tuple[str, ...] = ()  # texts queued for the sender (web chat shows them at once)
    case_reference: str | None = None


# What the app factory hands each channel adapter: an adapter never imports the engine.
InboundHandler = Callable[[InboundMessage], InboundResult]

"""The tables of the intake domain (SQLModel: each class is a table and its schema).

Case URLs use `public_id` (random, 22 characters), never the integer key, so cases cannot be
reached by counting. `reference` (CMP-2026-000123) is what residents and staff quote.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, Column, Index, LargeBinary, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Aware UTC time: every timestamp column stores UTC."""
    return datetime.now(UTC)


UK = ZoneInfo("Europe/London")


def as_utc(moment: datetime) -> datetime:
    """An aware datetime: a naive one (SQLite hands them back) is taken as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def uk_date(moment: datetime) -> date:
    """The date in the UK when something happened (a naive datetime is taken as UTC)."""
    return as_utc(moment).astimezone(UK).date()


def new_public_id() -> str:
    return secrets.token_urlsafe(16)


class Contact(SQLModel, table=True):
    """A resident, or anyone else who contacts us."""

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(default_factory=new_public_id, unique=True, index=True)
    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, index=True, max_length=20)  # E.164
    email: str | None = Field(default=None, index=True, max_length=320)
    tenancy_reference: str | None = Field(default=None, max_length=50)
    preferred_contact: str | None = Field(default=None, max_length=20)  # sms | email | phone | letter | web
    preferred_time: str | None = Field(default=None, max_length=100)
    sms_opted_out: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class Case(SQLModel, table=True):
    """Every contact that needs handling: complaints, and the service requests, ASB reports,
    compliments and excluded matters that are routed to their own queues."""

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(default_factory=new_public_id, unique=True, index=True)
    reference: str = Field(unique=True, index=True, max_length=30)
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True)
    category: str = Field(index=True, max_length=30)
    status: str = Field(default="open", index=True, max_length=30)
    stage: int | None = Field(default=None, index=True)  # 1 or 2 for complaints
    channel: str = Field(max_length=10)
    received_at: datetime = Field(default_factory=utcnow)
    received_on: date = Field(index=True)
    acknowledge_by: date | None = Field(default=None, index=True)
    acknowledged_on: date | None = None
    response_due: date | None = Field(default=None, index=True)
    responded_on: date | None = None
    extension_days: int = 0
    extension_reason: str | None = Field(default=None, sa_column=Column(Text))
    outcome_sought: str | None = Field(default=None, sa_column=Column(Text))
    summary: str | None = Field(default=None, sa_column=Column(Text))
    exclusion_reason: str | None = Field(default=None, max_length=40)
    exclusion_decision: str | None = Field(default=None, max_length=20)  # confirmed | overturned
    triage_category: str | None = Field(default=None, max_length=30)
    triage_confidence: float | None = None
    triage_exclusion_reason: str | None = Field(default=None, max_length=40)
    triage_evidence: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    model_version: str | None = Field(default=None, max_length=80)
    needs_review: bool = Field(default=False, index=True)
    review_reason: str | None = Field(default=None, max_length=200)
    urgent: bool = Field(default=False, index=True)
    urgent_kind: str | None = Field(default=None, max_length=30)
    linked_case_id: int | None = Field(default=None, foreign_key="case.id")
    assigned_to_id: int | None = Field(default=None, foreign_key="staffuser.id", index=True)
    closed_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)
    version: int = 1  # bumped on every staff change; a stale version means someone else got there first


# Indexes behind the staff console's queues (migrations 0003_console and 0003_console_b).
Index(
    "ix_case_queue_review",
    Case.received_at,
    Case.id,
    Case.status,
    sqlite_where=text("needs_review = 1"),
    postgresql_where=text("needs_review"),
)
Index(
    "ix_case_queue_urgent",
    Case.received_at,
    Case.id,
    Case.status,
    sqlite_where=text("urgent = 1"),
    postgresql_where=text("urgent"),
)
Index("ix_case_queue_category", Case.category, Case.received_at, Case.id, Case.status, Case.channel)
Index("ix_case_queue_acknowledge", Case.status, Case.acknowledge_by, Case.id)
Index("ix_case_queue_due", Case.status, Case.response_due, Case.id)
Index("ix_case_received_at", Case.received_at, Case.id)


class CaseStage(SQLModel, table=True):
    """One stage of a complaint (1 or 2), with its own clock. Kept after escalation for reporting."""

    __table_args__ = (UniqueConstraint("case_id", "stage"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    stage: int
    opened_on: date = Field(index=True)  # received (stage 1) or escalation requested (stage 2)
    acknowledge_by: date
    acknowledged_on: date | None = None
    due: date | None = None
    extension_days: int = 0
    extension_reason: str | None = Field(default=None, sa_column=Column(Text))
    responded_on: date | None = None
    outcome: str | None = Field(default=None, max_length=30)  # upheld | partly_upheld | not_upheld | resolved
    response_summary: str | None = Field(default=None, sa_column=Column(Text))
    # Stage 1 only: the last day to ask for Stage 2 that the decision letter gave the resident
    # (Policy.escalation_by); None when the policy sets no limit.
    escalation_by: date | None = None


class Conversation(SQLModel, table=True):
    """A conversation with one person on one channel. Its state lives here, not in a process."""

    __table_args__ = (UniqueConstraint("channel", "address", "session_token"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=10)
    address: str = Field(max_length=320, index=True)  # phone, email address, or web session id
    session_token: str = Field(default_factory=new_public_id, index=True, max_length=64)
    contact_id: int | None = Field(default=None, foreign_key="contact.id")
    case_id: int | None = Field(default=None, foreign_key="case.id")
    state: str = Field(default="start", max_length=40)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    active: bool = Field(default=True, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow, index=True)
    version: int = 1


class Message(SQLModel, table=True):
    """Every inbound and outbound message. Inbound ones are keyed by the provider's id."""

    __table_args__ = (UniqueConstraint("channel", "provider_message_id"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    conversation_id: int | None = Field(default=None, foreign_key="conversation.id", index=True)
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True)
    direction: str = Field(max_length=3)  # in | out
    channel: str = Field(max_length=10)
    provider_message_id: str | None = Field(default=None, max_length=250)
    sender: str | None = Field(default=None, max_length=320)
    recipient: str | None = Field(default=None, max_length=320)
    subject: str | None = Field(default=None, max_length=500)
    body: str = Field(default="", sa_column=Column(Text))
    meta: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    processed: bool = Field(default=False, index=True)
    created_at: datetime = Field(default_factory=utcnow, index=True)


class Attachment(SQLModel, table=True):
    """A file that came with a message (MMS media, email attachment), size-capped."""

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(default_factory=new_public_id, unique=True, index=True)
    message_id: int = Field(foreign_key="message.id", index=True)
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=120)
    size: int
    url: str | None = Field(default=None, max_length=1000)  # for media held by the provider
    data: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    truncated: bool = False  # over the size cap: metadata kept, content not
    # Media held by the provider (url set, data not yet): integrations.twilio_media.fetch_media.
    fetch_attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    next_fetch_at: datetime | None = None  # not before (back-off, and a lease while downloading)
    fetched_at: datetime | None = None  # when the download finished (stored, or too large to keep)
    fetch_error: str | None = Field(default=None, max_length=200)  # the last failure, for staff


class Adjustment(SQLModel, table=True):
    """A reasonable adjustment (TRIAGE_GUIDE.md codes)."""

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True)
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    code: str = Field(max_length=60)
    detail: str | None = Field(default=None, sa_column=Column(Text))
    source: str = Field(default="resident", max_length=20)  # resident | classifier | staff
    recorded_at: datetime = Field(default_factory=utcnow)


class Advocate(SQLModel, table=True):
    """Someone acting for the resident, and the resident's consent for them to do so."""

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    name: str | None = Field(default=None, max_length=200)
    relationship: str | None = Field(default=None, max_length=100)
    contact: str | None = Field(default=None, max_length=320)
    consent: str = Field(default="to_obtain", max_length=20)  # given | to_obtain | refused
    consent_method: str | None = Field(default=None, max_length=100)  # e.g. "by text from resident's number"
    consent_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class AuditEvent(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    actor: str = Field(max_length=120)  # "bot", "system", "staff:<username>"
    action: str = Field(max_length=60)
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    detail: str | None = Field(default=None, sa_column=Column(Text))
    at: datetime = Field(default_factory=utcnow, index=True)


class Outbox(SQLModel, table=True):
    """Everything we send, written in the same transaction as the change that causes it."""

    id: int | None = Field(default=None, primary_key=True)
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    conversation_id: int | None = Field(default=None, foreign_key="conversation.id")
    channel: str = Field(max_length=10, index=True)  # sms | email | web | webhook
    kind: str = Field(max_length=40)  # template or event name
    to_address: str = Field(max_length=1000)
    subject: str | None = Field(default=None, max_length=500)
    body: str = Field(sa_column=Column(Text))
    headers: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    status: str = Field(default="pending", index=True, max_length=12)
    # pending -> sending -> sent -> delivered | failed(provider said so) ; after the last attempt: parked
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, index=True)
    lease_until: datetime | None = None
    claimed_by: str | None = Field(default=None, max_length=80)
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    provider_message_id: str | None = Field(default=None, index=True, max_length=250)
    delivery_status: str | None = Field(default=None, max_length=30)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    sent_at: datetime | None = None
    delivered_at: datetime | None = None


class StaffUser(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, index=True, max_length=80)
    display_name: str = Field(default="", max_length=200)
    password_hash: str = Field(max_length=200)
    role: str = Field(max_length=30)  # agent | complaints_officer | admin
    active: bool = True
    failed_logins: int = 0
    locked_until: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class StaffSession(SQLModel, table=True):
    """Server-side staff session; the cookie holds only a random id whose hash is stored."""

    id: str = Field(primary_key=True, max_length=64)  # sha256 of the cookie value
    user_id: int = Field(foreign_key="staffuser.id", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)


class Correction(SQLModel, table=True):
    """A staff reclassification: the training signal exported by `triage export-corrections`."""

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    staff_username: str = Field(max_length=80)
    text: str = Field(sa_column=Column(Text))
    channel: str = Field(max_length=10)
    received_on: date
    from_category: str | None = Field(default=None, max_length=30)
    to_category: str = Field(max_length=30)
    from_exclusion_reason: str | None = Field(default=None, max_length=40)
    to_exclusion_reason: str | None = Field(default=None, max_length=40)
    urgent: bool = False
    advocate: bool = False
    adjustments: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    reason: str = Field(sa_column=Column(Text))
    created_at: datetime = Field(default_factory=utcnow, index=True)


class RateLimitBucket(SQLModel, table=True):
    """Fixed-window counters in the database, so limits hold across several app processes."""

    key: str = Field(primary_key=True, max_length=200)
    window_start: datetime = Field(primary_key=True)
    count: int = 0


class ReferenceCounter(SQLModel, table=True):
    """Per-prefix, per-year sequence for case references (CMP-2026-000123)."""

    prefix: str = Field(primary_key=True, max_length=10)
    year: int = Field(primary_key=True)
    last_number: int = 0

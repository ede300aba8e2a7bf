"""Store first, then process (ARCHITECTURE invariant 1).

1. The inbound message is inserted keyed by (channel, provider_message_id), a unique constraint,
   and committed. A second delivery of the same id fails that insert, so two racing retries can
   never both get past this point as "new".
2. Processing takes the message row's lock (SELECT ... FOR UPDATE on PostgreSQL; SQLite has one
   writer at a time), checks `processed`, serialises messages from the same sender (a
   transaction-scoped advisory lock on PostgreSQL), runs the conversation engine and marks the
   message processed, all in ONE transaction with the case, the outbox rows and the
   conversation state. A crash before that commit leaves the message stored and unprocessed:
   the provider's retry (or `process_pending`) processes it, once.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import timedelta

from sqlalchemy import func, update
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.engine.core import ConversationEngine, StaleConversation
from intake import ratelimit
from intake.db import insert_new
from intake.inbound import InboundHandler, InboundMessage, InboundResult
from intake.models import Attachment, Message, utcnow
from intake.policy import Policy
from intake.settings import Settings

log = logging.getLogger(__name__)

STALE_RETRIES = 5
UNIQUE_MESSAGE = ("channel", "provider_message_id")  # Message's unique constraint


def _sender_lock_key(channel: str, sender: str) -> int:
    digest = hashlib.sha256(f"{channel}\0{sender}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class InboundPipeline:
    def __init__(self, engine: Engine, conversations: ConversationEngine, settings: Settings) -> None:
        self.engine = engine
        self.conversations = conversations
        self.settings = settings
        self._failures: dict[int, tuple[int, float]] = {}  # message id -> (attempts, monotonic retry time)

    def __call__(self, inbound: InboundMessage) -> InboundResult:
        message_id, stored_now = self.store(inbound)
        return self.process(message_id, stored_now=stored_now)

    # --- 1. store ------------------------------------------------------------------------------
    def store(self, inbound: InboundMessage) -> tuple[int, bool]:
        """Insert the message (and its attachments) and commit. (id, False) if we already had it.

        The sender's rate limit, if the channel set one, is counted in the same transaction."""
        with Session(self.engine) as session:
            inbound = ratelimit.limit_message(session, inbound)
            message_id = insert_new(session, Message.__table__, self._row(inbound), UNIQUE_MESSAGE)
            if message_id is None:  # a retry of a message we already have
                session.rollback()
                existing = session.exec(
                    select(Message.id).where(
                        Message.channel == inbound.channel,
                        Message.provider_message_id == inbound.provider_message_id[:250],
                    )
                ).one()
                return existing, False
            for attachment in inbound.attachments:
                keep = attachment.data is not None and attachment.size <= self.settings.max_attachment_bytes
                session.add(
                    Attachment(
                        message_id=message_id,
                        filename=(attachment.filename or "attachment")[:255],
                        content_type=(attachment.content_type or "application/octet-stream")[:120],
                        size=attachment.size,
                        url=attachment.url[:1000] if attachment.url else None,
                        data=attachment.data if keep else None,
                        truncated=attachment.data is not None and not keep,
                    )
                )
            session.commit()
            return message_id, True

    def _row(self, inbound: InboundMessage) -> dict:
        limit = self.settings.max_message_chars
        meta = dict(inbound.meta)
        meta["received_at"] = inbound.received_at.isoformat()
        if inbound.raw_body is not None and inbound.raw_body != inbound.body:
            meta["clean_body"] = inbound.body[:limit]
        if inbound.automatic:
            meta["automatic"] = True
        if inbound.in_reply_to:
            meta["in_reply_to"] = inbound.in_reply_to[:1000]
        if inbound.references:
            meta["references"] = [ref[:1000] for ref in inbound.references[:50]]
        if inbound.sender_name:
            meta["sender_name"] = inbound.sender_name[:200]
        return {
            "direction": "in",
            "channel": inbound.channel,
            "provider_message_id": inbound.provider_message_id[:250],
            "sender": inbound.sender[:320],
            "recipient": (inbound.recipient or "")[:320] or None,
            "subject": (inbound.subject or "")[:500] or None,
            "body": (inbound.raw_body if inbound.raw_body is not None else inbound.body)[:limit],
            "meta": meta,
            "processed": False,
            "created_at": utcnow(),
        }

    # --- 2. process ------------------------------------------------------------------------
    def process(
        self, message_id: int, *, stored_now: bool = False, skip_busy: bool = False
    ) -> InboundResult | None:
        """Process a stored message once. With `skip_busy` (background workers, PostgreSQL) a
        message another worker is on, or whose sender another worker is serving, is left to it:
        the result is None then, and several workers share the backlog instead of queueing on
        each other's locks."""
        for attempt in range(STALE_RETRIES):
            try:
                return self._process_once(message_id, skip_busy)
            except StaleConversation:
                log.info("conversation changed under message %s; retrying (%s)", message_id, attempt + 1)
        return self._process_once(message_id, skip_busy)

    def _process_once(self, message_id: int, skip_busy: bool = False) -> InboundResult | None:
        with Session(self.engine, expire_on_commit=False) as session:
            postgres = self.engine.dialect.name == "postgresql"
            if not postgres:
                # SQLite: take the database's write lock now, so the check below cannot go stale.
                session.execute(
                    update(Message).where(Message.id == message_id).values(processed=Message.processed)
                )
            query = select(Message).where(Message.id == message_id)
            message = session.exec(query.with_for_update(skip_locked=skip_busy and postgres)).first()
            if message is None:  # another worker holds it
                return None
            if message.processed:
                session.rollback()
                return InboundResult(duplicate=True, message_id=message_id)
            if postgres:
                # One message at a time per sender, whichever worker has it.
                key = _sender_lock_key(message.channel, message.sender or "")
                if skip_busy:
                    if not session.execute(sa_select(func.pg_try_advisory_xact_lock(key))).scalar_one():
                        session.rollback()  # its sender's earlier message is being answered: later
                        return None
                else:
                    session.execute(sa_select(func.pg_advisory_xact_lock(key)))
            outcome = self.conversations.process(session, message)
            message.processed = True
            session.add(message)
            session.commit()
            return InboundResult(
                duplicate=False,
                message_id=message_id,
                replies=outcome.replies,
                case_reference=outcome.case_reference,
            )

    def accept(self, inbound: InboundMessage) -> InboundResult:
        """Store only, and answer at once: the fast path for a webhook under heavy load.

        The message is durable when this returns; `run_worker` (or `process_pending`) in any
        process handles it, in arrival order, with exactly the same result as `__call__`.
        """
        message_id, stored_now = self.store(inbound)
        return InboundResult(duplicate=not stored_now, message_id=message_id)

    def process_pending(
        self,
        older_than: timedelta = timedelta(seconds=30),
        limit: int = 500,
        deferred_channels: tuple[str, ...] = (),
    ) -> int:
        """Process stored, unprocessed messages oldest first: those older than `older_than` (a
        first attempt that crashed) and, at once, any on `deferred_channels` (stored by `accept`
        for a worker to answer). Returns how many this call processed."""
        cutoff = utcnow() - older_than
        now = time.monotonic()
        due = Message.created_at <= cutoff
        if deferred_channels:
            due = due | Message.channel.in_(deferred_channels)
        with Session(self.engine) as session:
            ids = session.exec(
                select(Message.id)
                .where(Message.direction == "in", Message.processed.is_(False), due)
                .order_by(Message.id)
                .limit(limit)
            ).all()
        done = 0
        for message_id in ids:
            attempts, retry_at = self._failures.get(message_id, (0, 0.0))
            if retry_at > now:
                continue
            try:
                result = self.process(message_id, skip_busy=True)
                if result is not None and not result.duplicate:
                    done += 1
                self._failures.pop(message_id, None)
            except Exception:  # keep going: one bad message must not block the rest
                log.exception("processing stored message %s failed (attempt %s)", message_id, attempts + 1)
                self._failures[message_id] = (attempts + 1, now + min(300.0, 2.0**attempts))
        return done

    def close_abandoned(self, idle: timedelta = timedelta(hours=24)) -> int:
        """Open unfinished complaints for staff review (see ConversationEngine.close_abandoned)."""
        closed = 0
        for _ in range(STALE_RETRIES):
            try:
                with Session(self.engine, expire_on_commit=False) as session:
                    closed = len(self.conversations.close_abandoned(session, idle))
                    session.commit()
                return closed
            except StaleConversation:  # the resident came back at that moment: look again
                continue
        return closed

    def run_worker(
        self,
        should_stop=lambda: False,
        idle_sleep: float = 0.2,
        sweep_every: float = 300.0,
        grace: timedelta = timedelta(seconds=10),
    ) -> None:
        """Process `accept`ed messages at once, and crashed ones after `grace` (so the request
        that is handling a message right now keeps it); every few minutes open unfinished
        complaints for staff. Several workers may run."""
        deferred = ("sms",) if self.settings.sms_replies_from_worker else ()
        next_sweep = time.monotonic()
        while not should_stop():
            if time.monotonic() >= next_sweep:
                self.close_abandoned()
                next_sweep = time.monotonic() + sweep_every
            if not self.process_pending(older_than=grace, deferred_channels=deferred):
                time.sleep(idle_sleep)


def make_inbound_handler(engine: Engine, settings: Settings, policy: Policy, classify) -> InboundHandler:
    """What the app factory hands every channel adapter: InboundMessage in, InboundResult out.

    Raises if processing fails after the message was stored (the adapter should answer with an
    error so the provider retries; the stored message is then processed exactly once).
    """
    conversations = ConversationEngine(policy, classify, max_message_chars=settings.max_message_chars)
    return InboundPipeline(engine, conversations, settings)

"""A stand-in for the conversation engine in adapter tests: stores first, keyed by the provider's
message id (the same unique constraint the engine relies on), records what it was given, and
queues one reply in the outbox unless the message is automatic."""

from __future__ import annotations

import threading

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from intake import ratelimit
from intake.inbound import InboundMessage, InboundResult
from intake.models import Attachment, Message
from intake.outbox import enqueue


class RecordingHandler:
    def __init__(
        self,
        engine,
        reply: str = "Thank you, we have your message.",
        barrier: threading.Barrier | None = None,
    ):
        self.engine = engine
        self.reply = reply
        self.barrier = barrier
        self.calls: list[InboundMessage] = []
        self.lock = threading.Lock()

    def __call__(self, message: InboundMessage) -> InboundResult:
        with self.lock:
            self.calls.append(message)
        if self.barrier is not None:
            self.barrier.wait(timeout=10)
        with Session(self.engine) as session:
            message = ratelimit.limit_message(session, message)
            row = Message(
                direction="in",
                channel=message.channel,
                provider_message_id=message.provider_message_id,
                sender=message.sender,
                recipient=message.recipient,
                subject=message.subject,
                body=message.body,
                meta={**message.meta, "automatic": message.automatic},
            )
            session.add(row)
            try:
                session.flush()
            except IntegrityError:
                session.rollback()
                return InboundResult(duplicate=True)
            for item in message.attachments:
                session.add(
                    Attachment(
                        message_id=row.id,
                        filename=item.filename,
                        content_type=item.content_type,
                        size=item.size,
                        url=item.url,
                        data=item.data,
                        truncated=item.data is None and item.url is None,
                    )
                )
            replies: tuple[str, ...] = ()
            if not message.automatic:
                enqueue(
                    session,
                    channel=message.channel,
                    to=message.sender,
                    body=self.reply,
                    kind="reply",
                    subject=f"Re: {message.subject}" if message.subject else None,
                )
                replies = (self.reply,)
            session.commit()
            return InboundResult(duplicate=False, message_id=row.id, replies=replies)

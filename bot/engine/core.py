"""The conversation engine: one stored inbound message in, state changes and outbox rows out.

Channel-agnostic: it sees a `Message` row (channel, sender, body) and writes through the caller's
session, so the pipeline can commit the case, the outbox rows, the conversation state and the
message's `processed` flag together. Conversation state is in the `conversation` table with an
optimistic `version`: a writer that read an older version fails with StaleConversation and the
pipeline retries, so any worker may take the next message.

Text-message fragments: a phone may split one long text into several that arrive seconds apart.
When an SMS arrives within `fragment_window` of the previous one and none of the replies to that
one has left the outbox yet (SMS replies wait `fragment_window` before they may be sent), those
replies are cancelled, any case the earlier fragment opened is marked superseded, the
conversation goes back to where it was, and the joined text is handled as one message. All of
this is in the database, so it works whichever process receives each fragment.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, select

from bot.engine import flows
from bot.engine import replies as R
from bot.engine.flows import Classify, Turn
from intake.cases import audit, touch
from intake.models import Case, Contact, Conversation, Message, Outbox, as_utc, utcnow
from intake.outbox import PENDING
from intake.policy import Policy

CANCELLED = "cancelled"  # an outbox row the dispatcher must never send (superseded before it left)
REFERENCE_RE = re.compile(r"\b(CMP|SR|ASB|CPL|ENQ)-(\d{4})-(\d{6})\b")


class StaleConversation(Exception):
    """Someone else changed the conversation since we read it: handle the message again."""


@dataclass(frozen=True)
class TurnOutcome:
    conversation_id: int | None
    replies: tuple[str, ...]
    case_reference: str | None


class ConversationEngine:
    def __init__(
        self,
        policy: Policy,
        classify: Classify,
        *,
        fragment_window: timedelta = timedelta(seconds=5),
        idle_reset: timedelta = timedelta(hours=12),
        max_message_chars: int = 20_000,
        clock=utcnow,
    ) -> None:
        self.policy = policy
        self.classify = classify
        self.fragment_window = fragment_window
        self.idle_reset = idle_reset
        self.max_message_chars = max_message_chars
        self.clock = clock

    # --- conversations ------------------------------------------------------------------
    def conversation_for(self, session: Session, channel: str, address: str) -> Conversation:
        """The resident's current conversation on this channel, or a new one."""
        conversation = session.exec(
            select(Conversation)
            .where(
                Conversation.channel == channel,
                Conversation.address == address,
                Conversation.active.is_(True),
            )
            .order_by(Conversation.id.desc())
        ).first()
        if conversation is not None:
            return conversation
        if channel == "web":  # a web chat keeps its one conversation (its token) even after "stop"
            conversation = session.exec(
                select(Conversation).where(
                    Conversation.channel == "web", Conversation.session_token == address
                )
            ).first()
            if conversation is not None:
                return conversation
        return self.start_conversation(session, channel, address, end_others=False)

    def start_conversation(
        self, session: Session, channel: str, address: str, *, end_others: bool = True
    ) -> Conversation:
        """A fresh conversation (e.g. a new web chat session, or `triage shell`)."""
        if end_others:
            session.execute(
                update(Conversation)
                .where(
                    Conversation.channel == channel,
                    Conversation.address == address,
                    Conversation.active.is_(True),
                )
                .values(active=False, version=Conversation.version + 1, updated_at=utcnow())
            )
        conversation = Conversation(channel=channel, address=address, state="start", data={})
        if channel == "web":
            conversation.session_token = address
        session.add(conversation)
        session.flush()
        return conversation

    # --- one message ----------------------------------------------------------------------
    def process(self, session: Session, message: Message) -> TurnOutcome:
        meta = dict(message.meta or {})
        received_at = as_utc(
            datetime.fromisoformat(meta["received_at"]) if meta.get("received_at") else message.created_at
        )
        conversation = self.conversation_for(session, message.channel, message.sender or "")
        conversation_id = conversation.id
        if meta.get("automatic"):  # auto-replies and bounces: recorded, never answered
            message.conversation_id = conversation_id
            message.contact_id, message.case_id = conversation.contact_id, conversation.case_id
            session.add(message)
            return TurnOutcome(conversation_id, (), None)

        text = (meta.get("clean_body") or message.body or "")[: self.max_message_chars].strip()
        state = conversation.state if conversation.active else "start"
        data: dict[str, Any] = copy.deepcopy(conversation.data or {})
        case_id = conversation.case_id
        message_ids = [message.id]

        last_at = data.get("last_at")
        idle = bool(last_at) and received_at - as_utc(datetime.fromisoformat(last_at)) > self.idle_reset
        last = data.pop("last_turn", None)
        if message.channel == "sms" and last and self._joins(session, last, received_at):
            state, data, case_id = last["before"]["state"], last["before"]["data"], last["before"]["case_id"]
            text = f"{last['text']} {text}".strip()
            message_ids = [*last["message_ids"], message.id]
            meta["joined_with"] = last["message_ids"]

        turn = Turn(
            session=session,
            policy=self.policy,
            classify=self.classify,
            conversation=conversation,
            message=message,
            text=text,
            received_at=received_at,
            state=state,
            data=data,
            hold_until=self.clock() + self.fragment_window if message.channel == "sms" else None,
            contact_id=conversation.contact_id,
            case_id=case_id,
        )
        before = {"state": state, "data": copy.deepcopy(data), "case_id": case_id}
        if idle and state != "start":  # back after a long gap: a fresh start, keeping what they told us
            flows.expire_topic(turn, "resident came back later without finishing")
        threaded = self._thread_email(turn, meta)
        if not threaded:
            if not text:
                turn.say(R.fit(R.GREETING, text_field="landlord", value=self.policy.landlord))
            else:
                flows.run_turn(turn)
        turn.case_id = turn.data.get("case_id") or turn.case_id
        turn.data["last_at"] = received_at.isoformat()
        if message.channel == "sms":
            turn.data["last_turn"] = {
                "at": received_at.isoformat(),
                "text": text[:4000],
                "message_ids": message_ids,
                "outbox_ids": turn.outbox_ids,
                "cases": turn.opened_case_ids,
                "final": turn.final,
                "before": before,
            }
        reference = None
        if turn.case_id:
            case = turn.get(Case, turn.case_id)
            reference = case.reference if case else None
        self._save(session, conversation, turn)
        # Set last, so the message row is written once, with `processed`, at the commit.
        message.conversation_id, message.contact_id, message.case_id = (
            conversation_id,
            turn.contact_id,
            turn.case_id,
        )
        if meta != message.meta:
            message.meta = meta
        session.add(message)
        return TurnOutcome(conversation_id, tuple(turn.replies), reference)

    # --- conversations the resident walked away from -----------------------------------------
    def close_abandoned(self, session: Session, idle: timedelta = timedelta(hours=24)) -> list[int]:
        """A complaint the resident started and never finished is still a complaint: open it for
        staff review (no message is sent). Returns the ids of the conversations closed."""
        cutoff = utcnow() - idle
        stale = session.exec(
            select(Conversation).where(
                Conversation.active.is_(True),
                Conversation.state.in_(("complaint", "clarify")),
                Conversation.updated_at < cutoff,
            )
        ).all()
        closed = []
        for conversation in stale:
            turn = Turn(
                session=session,
                policy=self.policy,
                classify=self.classify,
                conversation=conversation,
                message=None,  # type: ignore[arg-type]  # nothing is sent
                text="",
                received_at=as_utc(conversation.updated_at),
                state=conversation.state,
                data=copy.deepcopy(conversation.data or {}),
                contact_id=conversation.contact_id,
                case_id=conversation.case_id,
            )
            turn.data.pop("last_turn", None)
            flows.expire_topic(turn, "resident stopped answering before finishing")
            turn.case_id = turn.case_id or conversation.case_id
            self._save(session, conversation, turn)
            closed.append(conversation.id)
        return closed

    # --- text-message fragments --------------------------------------------------------------
    def _joins(self, session: Session, last: dict[str, Any], received_at: datetime) -> bool:
        if last.get("final"):
            return False
        gap = received_at - as_utc(datetime.fromisoformat(last["at"]))
        if not timedelta(0) <= gap <= self.fragment_window:
            return False
        ids = last.get("outbox_ids") or []
        if ids:
            rows = session.exec(
                select(Outbox.id, Outbox.status).where(Outbox.id.in_(ids)).with_for_update()
            ).all()
            if len(rows) != len(ids) or any(status != PENDING for _, status in rows):
                return False  # a reply already left: the resident has seen an answer, so this is a new turn
            session.execute(
                update(Outbox)
                .where(Outbox.id.in_(ids), Outbox.status == PENDING)
                .values(
                    status=CANCELLED,
                    last_error="superseded: the next text arrived within seconds and both were read together",
                )
            )
        for case_id in last.get("cases") or []:
            case = session.get(Case, case_id)
            if case is None:
                continue
            before = case.status
            case.status, case.closed_at, case.needs_review = "superseded", utcnow(), False
            touch(case)
            session.add(case)
            audit(
                session,
                case,
                "bot",
                "case.superseded",
                before={"status": before},
                after={"status": case.status},
                detail="The resident's next text arrived within seconds; both texts were read together as one message.",
            )
        return True

    # --- email replies that quote a case reference -----------------------------------------
    def _thread_email(self, turn: Turn, meta: dict[str, Any]) -> bool:
        """An email that names one of the sender's cases (subject, or found by the email adapter
        from In-Reply-To/References) is added to that case rather than starting a new topic."""
        if turn.channel != "email":
            return False
        reference = meta.get("case_reference")
        if not reference:
            match = REFERENCE_RE.search(turn.message.subject or "")
            reference = match.group(0) if match else None
        if not reference:
            return False
        case = turn.session.exec(select(Case).where(Case.reference == reference)).first()
        if case is None or case.contact_id is None:
            return False
        contact = turn.session.get(Contact, case.contact_id)
        if contact is None or (contact.email or "").lower() != (turn.address or "").lower():
            return False
        turn.contact_id = contact.id
        turn.data["case_id"] = case.id
        if turn.state in ("start", "stopped"):
            turn.state = "done"
        if flows.U.yes_no(turn.text) is True and flows.record_pending_consent(turn, case):
            return True
        flows.add_to_case(turn, case, turn.text)
        turn.say(R.ADDED_TO_CASE.format(reference=case.reference))
        return True

    def _save(self, session: Session, conversation: Conversation, turn: Turn) -> None:
        result = session.execute(
            update(Conversation)
            .where(Conversation.id == conversation.id, Conversation.version == conversation.version)
            .values(
                state=turn.state,
                data=turn.data,
                contact_id=turn.contact_id,
                case_id=turn.case_id,
                active=turn.active,
                version=conversation.version + 1,
                updated_at=utcnow(),
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            raise StaleConversation(
                f"conversation {conversation.id} changed while we were handling a message"
            )
        session.expire(conversation)

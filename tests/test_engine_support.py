"""Shared pieces for the conversation engine tests (no tests here): a fixed fake classifier and a chat driver."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from classifier.types import Triage
from intake.inbound import InboundMessage, InboundResult
from intake.models import Adjustment, Advocate, Case, Conversation, Outbox

# Known test phrases -> fixed triage. Checked in order; the first phrase found in the text wins.
FAKE_TRIAGE: list[tuple[str, Triage]] = [
    ("smell gas", Triage("service_request", 0.9, urgent=True, urgent_kind="gas")),
    ("end it all", Triage("other", 0.8, urgent=True, urgent_kind="self_harm")),
    ("sparking", Triage("complaint", 0.9, urgent=True, urgent_kind="electrics")),
    ("court claim", Triage("exclusion", 0.85, exclusion_reason="legal_proceedings")),
    ("council tax", Triage("exclusion", 0.85, exclusion_reason="other_organisation")),
    ("insurance claim", Triage("exclusion", 0.85, exclusion_reason="insurance_claim")),
    ("on behalf of my mum", Triage("complaint", 0.9, advocate=True)),
    ("nobody came", Triage("complaint", 0.92)),
    ("still not fixed", Triage("complaint", 0.92)),
    ("i'm deaf", Triage("complaint", 0.9, adjustments=("deaf",))),
    ("rude", Triage("complaint", 0.9)),
    ("not happy", Triage("complaint", 0.8)),
    ("loud music", Triage("asb_report", 0.9)),
    ("the plumber was brilliant", Triage("compliment", 0.95)),
    ("tap is dripping", Triage("service_request", 0.9)),
    (
        "boiler",
        Triage(
            "service_request",
            0.45,
            needs_review=True,
            probabilities={"service_request": 0.45, "complaint": 0.4, "other": 0.15},
        ),
    ),
    ("what time do you open", Triage("other", 0.9)),
    ("keep cancelling", Triage("complaint", 0.9, advocate=True, adjustments=("interpreter:gujarati",))),
    (
        "dzień dobry",
        Triage(
            "complaint",
            0.3,
            urgent=True,
            urgent_kind="other",
            needs_review=True,
            adjustments=("interpreter:polish",),
            unreadable_language="polish",
        ),
    ),
    ("crash please", None),  # makes the fake classifier fail, to test crash recovery
    # Like the real model at one point: a bare "I want to complain" read as a possible exclusion.
    (
        "i want to complain",
        Triage("exclusion", 0.98, exclusion_reason="other_organisation", needs_review=True),
    ),
]


def fake_classify(text: str, received_at=None) -> Triage:
    lowered = text.lower()
    for phrase, triage in FAKE_TRIAGE:
        if phrase in lowered:
            if triage is None:
                raise RuntimeError("classifier crashed")
            return triage
    return Triage("other", 0.9)


_ids = itertools.count(1)


@dataclass
class Chat:
    """A resident on one channel, talking to the real pipeline and database."""

    handler: object
    engine: object
    channel: str = "sms"
    address: str = "+447700900123"
    clock: datetime = field(default_factory=lambda: datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
    gap: timedelta = timedelta(minutes=1)
    turns: int = 0

    def send(
        self, text: str, *, provider_id: str | None = None, at: datetime | None = None, **kw
    ) -> InboundResult:
        self.turns += 1
        if at is None:
            self.clock += self.gap
            at = self.clock
        message = InboundMessage(
            channel=self.channel,
            sender=self.address,
            body=text,
            provider_message_id=provider_id or f"test-{next(_ids)}",
            received_at=at,
            **kw,
        )
        return self.handler(message)

    # --- what happened --------------------------------------------------------------------
    def outbox(self, include_cancelled: bool = False) -> list[Outbox]:
        with Session(self.engine) as session:
            rows = session.exec(
                select(Outbox).where(Outbox.to_address == self.address).order_by(Outbox.id)
            ).all()
        return [r for r in rows if include_cancelled or r.status != "cancelled"]

    def cases(self) -> list[Case]:
        with Session(self.engine) as session:
            return list(session.exec(select(Case).order_by(Case.id)).all())

    def conversation(self) -> Conversation:
        with Session(self.engine) as session:
            return session.exec(
                select(Conversation)
                .where(Conversation.address == self.address)
                .order_by(Conversation.id.desc())
            ).first()

    def adjustments(self, case: Case) -> list[str]:
        with Session(self.engine) as session:
            return list(session.exec(select(Adjustment.code).where(Adjustment.case_id == case.id)).all())

    def advocate(self, case: Case) -> Advocate | None:
        with Session(self.engine) as session:
            return session.exec(select(Advocate).where(Advocate.case_id == case.id)).first()


# --- the real classifier, when it exists --------------------------------------------------
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def real_classify():
    """classifier.classify, with its model built once per test session (skips if not importable)."""
    try:
        import classifier
        from classifier import classify
    except ImportError:
        pytest.skip("classifier.classify is not importable yet")
    ensure = getattr(classifier, "ensure_model", None)
    if ensure is not None:
        ensure()
    return classify

"""Demo data for the console: a handful of realistic cases and staff logins.

Used by the console's browser tests, the benchmark and anyone trying the console locally.
Cases are opened the one way the product opens them (intake.cases.open_case), each with the
resident's message stored as an inbound Message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from classifier.types import Evidence, Triage
from intake.cases import NewCase, open_case, record_advocate
from intake.contacts import find_or_create_contact
from intake.models import Case, Message, StaffUser, utcnow
from intake.policy import Policy
from intake.staff_users import create_user


def evidence_for(text: str, *phrases: tuple[str, str]) -> tuple[Evidence, ...]:
    """Evidence spans for (phrase, label) pairs, found in `text`."""
    spans = []
    for phrase, label in phrases:
        start = text.lower().find(phrase.lower())
        if start >= 0:
            spans.append(Evidence(start, start + len(phrase), label, text[start : start + len(phrase)]))
    return tuple(spans)


@dataclass
class DemoCase:
    text: str
    category: str
    channel: str
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    confidence: float = 0.9
    exclusion_reason: str | None = None
    urgent: bool = False
    urgent_kind: str | None = None
    needs_review: bool = False
    evidence: tuple[tuple[str, str], ...] = ()
    adjustments: tuple[str, ...] = ()
    days_ago: int = 1
    summary: str | None = None
    outcome_sought: str | None = None
    advocate: tuple[str, str] | None = None  # (name, relationship)


def seed_case(
    session: Session, policy: Policy, demo: DemoCase, *, received_at: datetime | None = None, number: int = 0
) -> Case:
    contact = find_or_create_contact(session, phone=demo.phone, email=demo.email, name=demo.name)
    received_at = received_at or (utcnow() - timedelta(days=demo.days_ago))
    triage = Triage(
        category=demo.category,
        confidence=demo.confidence,
        exclusion_reason=demo.exclusion_reason,
        urgent=demo.urgent,
        urgent_kind=demo.urgent_kind,
        adjustments=demo.adjustments,
        evidence=evidence_for(demo.text, *demo.evidence),
        model_version="demo",
    )
    case = open_case(
        session,
        policy,
        contact,
        NewCase(
            category=demo.category,
            channel=demo.channel,
            received_at=received_at,
            triage=triage,
            summary=demo.summary,
            outcome_sought=demo.outcome_sought,
            exclusion_reason=demo.exclusion_reason,
            urgent=demo.urgent,
            urgent_kind=demo.urgent_kind,
            adjustments=[(code, None) for code in demo.adjustments],
            needs_review=demo.needs_review or demo.confidence < 0.6,
            review_reason="low confidence" if demo.confidence < 0.6 else None,
        ),
    )
    session.add(
        Message(
            case_id=case.id,
            contact_id=contact.id,
            direction="in",
            channel=demo.channel,
            provider_message_id=f"demo-{case.reference}-{number}",
            sender=demo.phone or demo.email,
            subject="My complaint" if demo.channel == "email" else None,
            body=demo.text,
            processed=True,
            created_at=received_at,
        )
    )
    if demo.advocate:
        record_advocate(session, case, name=demo.advocate[0], relationship=demo.advocate[1])
    session.flush()
    return case


DEMO_CASES = (
    DemoCase(
        "This is the third time I have reported the leak under the sink and nobody turned up again. "
        "I want someone to fix it properly this week.",
        "complaint",
        "sms",
        "Aisha Khan",
        phone="07700 900101",
        evidence=(("third time I have reported", "complaint"), ("nobody turned up", "complaint")),
        summary="Leak under the kitchen sink reported three times; no visit.",
        outcome_sought="A proper repair this week.",
        days_ago=8,
    ),
    DemoCase(
        "I complained about the damp in my flat in 2023 and you gave me a final response then. It is the same "
        "problem and I am still not happy.",
        "exclusion",
        "email",
        "Peter Walsh",
        email="peter.walsh@example.org",
        confidence=0.72,
        exclusion_reason="previously_considered",
        evidence=(
            ("gave me a final response", "exclusion:previously_considered"),
            ("still not happy", "complaint"),
        ),
        days_ago=3,
    ),
    DemoCase(
        "My solicitor has filed a claim at the county court about the disrepair. I also want to complain that "
        "your surveyor was rude to me.",
        "exclusion",
        "email",
        "Grace Obi",
        email="grace.obi@example.org",
        confidence=0.66,
        exclusion_reason="legal_proceedings",
        evidence=(
            ("filed a claim at the county court", "exclusion:legal_proceedings"),
            ("rude", "complaint"),
        ),
        days_ago=2,
    ),
    DemoCase(
        "can someone look at the boiler please its making a banging noise",
        "service_request",
        "sms",
        "Tom Price",
        phone="07700 900102",
        confidence=0.48,
        evidence=(("look at the boiler", "service_request"),),
        days_ago=1,
    ),
    DemoCase(
        "There is a strong smell of gas on the landing outside flat 12 and my neighbour has two small children.",
        "service_request",
        "sms",
        "Dev Patel",
        phone="07700 900103",
        urgent=True,
        urgent_kind="gas",
        evidence=(("smell of gas", "urgent"),),
        days_ago=0,
    ),
    DemoCase(
        "The people upstairs play loud music until 3am every night and shout at my kids on the stairs.",
        "asb_report",
        "email",
        "Maria Silva",
        email="maria.silva@example.org",
        evidence=(("loud music until 3am", "asb_report"),),
        days_ago=4,
    ),
    DemoCase(
        "Just wanted to say thank you to Kev the plumber, he was brilliant and tidied up after himself.",
        "compliment",
        "sms",
        "June Hart",
        phone="07700 900104",
        evidence=(("thank you", "compliment"), ("brilliant", "compliment")),
        days_ago=5,
    ),
    DemoCase(
        "I am writing on behalf of my mum who is deaf. Her heating has been off for two weeks, you keep "
        "cancelling appointments and nobody answers her texts.",
        "complaint",
        "email",
        "Irene Bell",
        email="irene.bell@example.org",
        adjustments=("deaf",),
        evidence=(
            ("on behalf of my mum", "advocate"),
            ("deaf", "adjustment:deaf"),
            ("keep cancelling", "complaint"),
        ),
        summary="Heating off for two weeks; appointments cancelled; texts unanswered.",
        advocate=("Sarah Bell", "daughter"),
        days_ago=12,
    ),
)

DEMO_USERS = (
    ("agent", "agent", "Alex Agent"),
    ("officer", "complaints_officer", "Olivia Officer"),
    ("admin", "admin", "Adam Admin"),
)
DEMO_PASSWORD = "demo-password-123"


def seed_demo(session: Session, policy: Policy) -> list[Case]:
    """The demo cases, once (a second call adds nothing)."""
    if session.exec(select(Message).where(Message.provider_message_id.like("demo-%"))).first() is not None:
        return []
    cases = [seed_case(session, policy, demo, number=i) for i, demo in enumerate(DEMO_CASES)]
    session.commit()
    return cases


HISTORY_TEXTS = (
    "The repair to my bathroom ceiling was booked three times and nobody came.",
    "Your contractor left the kitchen in a mess and the cupboard is still broken.",
    "I have been waiting months for the damp in the bedroom to be treated.",
    "The officer never called me back about my rent account, as promised.",
    "The communal door has been broken for weeks and I have reported it four times.",
)


def seed_history(session: Session, policy: Policy, months: int = 12, seed: int = 7) -> int:
    """A year of answered complaints (acknowledged, responded to, some escalated), so the
    self-assessment page has something to show. Demo data only: stages are filled in directly."""
    import random

    from intake.models import CaseStage, uk_date

    rng = random.Random(seed)
    calendar = policy.calendar
    today = uk_date(utcnow())
    made = 0
    for back in range(months, 0, -1):
        year, month = today.year, today.month - back
        while month < 1:
            year, month = year - 1, month + 12
        for n in range(rng.randint(4, 11)):
            received = calendar.next_working_day(
                datetime(year, month, rng.randint(1, 26), 11, tzinfo=UTC).date()
            )
            demo = DemoCase(
                rng.choice(HISTORY_TEXTS),
                "complaint",
                rng.choice(("sms", "email", "web")),
                f"Resident {made + 1}",
                email=f"resident{year}{month:02d}{n}@example.org",
            )
            case = seed_case(
                session,
                policy,
                demo,
                received_at=datetime(received.year, received.month, received.day, 11, tzinfo=UTC),
                number=10_000 + made,
            )
            stage = session.exec(select(CaseStage).where(CaseStage.case_id == case.id)).one()
            acknowledged = calendar.add_working_days(received, rng.choice((1, 2, 3, 4, 5, 5, 6)))
            responded = calendar.add_working_days(acknowledged, rng.choice((5, 7, 8, 9, 10, 10, 12, 14)))
            stage.acknowledged_on, stage.due = acknowledged, policy.stage_due(1, acknowledged)
            stage.responded_on, stage.outcome = (
                responded,
                rng.choice(("upheld", "partly_upheld", "not_upheld")),
            )
            stage.escalation_by = policy.escalation_by(responded)
            case.acknowledged_on, case.response_due, case.responded_on = acknowledged, stage.due, responded
            case.status = "closed" if responded < today else "stage1_responded"
            session.add_all([stage, case])
            if rng.random() < 0.15 and responded < today:
                opened = calendar.add_working_days(responded, 5)
                due = policy.stage_due(2, opened)
                answered = calendar.add_working_days(opened, rng.choice((12, 18, 20, 24)))
                answered = answered if answered < today else None
                session.add(
                    CaseStage(
                        case_id=case.id,
                        stage=2,
                        opened_on=opened,
                        acknowledge_by=policy.stage_acknowledge_by(2, opened),
                        acknowledged_on=opened,
                        due=due,
                        responded_on=answered,
                        outcome="upheld" if answered else None,
                    )
                )
                case.stage, case.acknowledged_on, case.response_due, case.responded_on = (
                    2,
                    opened,
                    due,
                    answered,
                )
                case.status = "closed" if answered else "stage2_in_progress"
            made += 1
    session.commit()
    return made


def ensure_demo_users(session: Session, password: str = DEMO_PASSWORD) -> list[StaffUser]:
    users = []
    for username, role, display_name in DEMO_USERS:
        user = session.exec(select(StaffUser).where(StaffUser.username == username)).first()
        if user is None:
            user = create_user(session, username, password, role, display_name)
        users.append(user)
    session.commit()
    return users

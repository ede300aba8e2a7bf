"""The staff console's work queues: which cases are in each, their counts, filters and search.

Each queue is a condition on the case table, so the counts for every queue come from one
aggregate query, and a page of a queue from one indexed query (see bench/bench_console.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import and_, false, func, or_, true
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, select

from intake.contacts import InvalidPhoneNumber, normalise_phone
from intake.models import Case, Contact, StaffUser, uk_date, utcnow
from intake.policy import Policy

PAGE_SIZE = 25
REFERENCE = re.compile(r"^[A-Za-z]{2,4}-\d{4}-\d{1,9}$")
OPEN = Case.status.not_in(("closed", "superseded"))


@dataclass(frozen=True)
class Queue:
    key: str
    title: str
    description: str
    condition: Any
    order_by: tuple[Any, ...]
    deadline: str | None = None  # which date column the "working days left" column counts to


QUEUES: dict[str, Queue] = {
    q.key: q
    for q in (
        Queue(
            "needs_review",
            "Needs review",
            "Low-confidence triage and possible exclusions. A person decides each one.",
            and_(Case.needs_review == true(), OPEN),
            (Case.received_at.asc(), Case.id.asc()),
            "response_due",
        ),
        Queue(
            "urgent",
            "Urgent",
            "A risk to health or safety now. Act on these first.",
            and_(Case.urgent == true(), OPEN),
            (Case.received_at.asc(), Case.id.asc()),
        ),
        Queue(
            "awaiting_acknowledgement",
            "Awaiting acknowledgement",
            "Complaints we have not yet acknowledged, the nearest deadline first.",
            Case.status == "awaiting_acknowledgement",
            (Case.acknowledge_by.asc(), Case.id.asc()),
            "acknowledge_by",
        ),
        Queue(
            "stage1",
            "Stage 1 in progress",
            "Acknowledged Stage 1 complaints waiting for our response, the nearest deadline first.",
            Case.status == "stage1_in_progress",
            (Case.response_due.asc(), Case.id.asc()),
            "response_due",
        ),
        Queue(
            "stage2",
            "Stage 2 in progress",
            "Complaints under Stage 2 review, the nearest deadline first.",
            Case.status == "stage2_in_progress",
            (Case.response_due.asc(), Case.id.asc()),
            "response_due",
        ),
        Queue(
            "service_requests",
            "Service requests",
            "Repairs and other requests with no complaint about how we handled them.",
            and_(Case.category == "service_request", OPEN),
            (Case.received_at.desc(), Case.id.desc()),
        ),
        Queue(
            "asb",
            "ASB",
            "Reports of anti-social behaviour, for the ASB team.",
            and_(Case.category == "asb_report", OPEN),
            (Case.received_at.desc(), Case.id.desc()),
        ),
        Queue(
            "compliments",
            "Compliments",
            "Thanks and praise, to pass on.",
            and_(Case.category == "compliment", OPEN),
            (Case.received_at.desc(), Case.id.desc()),
        ),
        Queue(
            "all",
            "All cases",
            "Every case, open and closed, newest first.",
            true(),
            (Case.received_at.desc(), Case.id.desc()),
        ),
    )
}


@dataclass
class Filters:
    channel: str | None = None
    category: str | None = None
    officer: str | None = None  # a user id, "me" or "unassigned"
    received_from: date | None = None
    received_to: date | None = None
    search: str | None = None

    def active(self) -> bool:
        return any(
            (self.channel, self.category, self.officer, self.received_from, self.received_to, self.search)
        )


@dataclass
class QueueRow:
    case: Case
    contact_name: str | None
    officer: str | None
    deadline: date | None
    working_days_left: int | None

    @property
    def overdue(self) -> bool:
        return self.working_days_left is not None and self.working_days_left < 0


@dataclass
class QueuePage:
    queue: Queue
    rows: list[QueueRow]
    total: int
    page: int
    pages: int
    counts: dict[str, int] = field(default_factory=dict)


def queue_counts(session: Session) -> dict[str, int]:
    """How many cases are in each queue: one round trip, a count per queue, each from its own index."""
    counts = [
        select(func.count()).select_from(Case).where(q.condition).scalar_subquery().label(key)
        for key, q in QUEUES.items()
    ]
    row = session.exec(select(*counts)).one()
    return {key: int(value or 0) for key, value in row._mapping.items()}


MAX_CONTACT_MATCHES = 2_000


def _search_condition(session: Session, text: str) -> ColumnElement[bool]:
    """Reference (exact), phone or e-mail (exact, normalised) or part of the name.

    The matching contacts are looked up once (the name is the one part no index can answer), and
    the cases are then found through the indexed contact_id and reference columns."""
    text = text.strip()[:200]
    if REFERENCE.match(text):
        return Case.reference == text.upper()
    contact_options: list[ColumnElement[bool]] = []
    if "@" in text:
        contact_options.append(Contact.email == text.lower())
    digits = sum(ch.isdigit() for ch in text)
    if digits >= 6:
        try:
            contact_options.append(Contact.phone == normalise_phone(text))
        except InvalidPhoneNumber:
            pass
    if len(text) >= 2 and digits < 6 and "@" not in text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        if session.get_bind().dialect.name == "sqlite":
            # SQLite's LIKE already ignores case (ASCII); lower() on every row would triple the cost.
            contact_options.append(Contact.name.like(pattern, escape="\\"))
        else:
            contact_options.append(Contact.name.ilike(pattern, escape="\\"))
    options: list[ColumnElement[bool]] = [Case.reference == text.upper()]
    if contact_options:
        matches = select(Contact.id).where(or_(*contact_options))
        ids = session.exec(matches.limit(MAX_CONTACT_MATCHES + 1)).all()
        if len(ids) <= MAX_CONTACT_MATCHES:
            options.append(Case.contact_id.in_(ids) if ids else false())
        else:  # a very common name: let the database join rather than pass thousands of ids
            options.append(Case.contact_id.in_(matches))
    return or_(*options)


def _filter_conditions(session: Session, filters: Filters, user: StaffUser | None) -> list[Any]:
    conditions: list[Any] = []
    if filters.channel:
        conditions.append(Case.channel == filters.channel)
    if filters.category:
        conditions.append(Case.category == filters.category)
    if filters.officer == "unassigned":
        conditions.append(Case.assigned_to_id.is_(None))
    elif filters.officer == "me" and user is not None:
        conditions.append(Case.assigned_to_id == user.id)
    elif filters.officer and filters.officer.isdigit():
        conditions.append(Case.assigned_to_id == int(filters.officer))
    if filters.received_from:
        conditions.append(Case.received_on >= filters.received_from)
    if filters.received_to:
        conditions.append(Case.received_on <= filters.received_to)
    if filters.search and filters.search.strip():
        conditions.append(_search_condition(session, filters.search))
    return conditions


def queue_page(
    session: Session,
    policy: Policy,
    key: str,
    filters: Filters | None = None,
    page: int = 1,
    user: StaffUser | None = None,
    page_size: int = PAGE_SIZE,
    today: date | None = None,
) -> QueuePage:
    queue = QUEUES[key]
    filters = filters or Filters()
    conditions = [queue.condition, *_filter_conditions(session, filters, user)]
    total = session.exec(select(func.count()).select_from(Case).where(*conditions)).one()
    pages = max(1, -(-total // page_size))
    page = min(max(1, page), pages)

    # Find the page's ids from the index first, then fetch just those rows ("deferred join"),
    # so a deep page does not drag every skipped row out of the table.
    page_ids = (
        select(Case.id)
        .where(*conditions)
        .order_by(*queue.order_by)
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).subquery()
    query = (
        select(Case, Contact.name, StaffUser.display_name)
        .join(page_ids, page_ids.c.id == Case.id)
        .outerjoin(Contact, Contact.id == Case.contact_id)
        .outerjoin(StaffUser, StaffUser.id == Case.assigned_to_id)
        .order_by(*queue.order_by)
    )
    today = today or uk_date(utcnow())
    calendar = policy.calendar
    rows = []
    for case, contact_name, officer in session.exec(query).all():
        deadline = _deadline(case, queue)
        left = calendar.working_days_between(today, deadline) if deadline else None
        rows.append(QueueRow(case, contact_name, officer, deadline, left))
    return QueuePage(
        queue=queue, rows=rows, total=total, page=page, pages=pages, counts=queue_counts(session)
    )


def _deadline(case: Case, queue: Queue) -> date | None:
    """The date that matters for this case in this queue."""
    if case.status in ("closed", "excluded") or case.responded_on is not None:
        return None
    if queue.deadline:
        value = getattr(case, queue.deadline)
        if value is not None:
            return value
    if case.status == "awaiting_acknowledgement":
        return case.acknowledge_by
    return case.response_due

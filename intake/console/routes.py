"""The staff console under /staff: login, queues, the case page and its actions, the
self-assessment figures and user management. Server-rendered HTML; every POST form carries the
session's CSRF token; every route checks the member of staff's role."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlalchemy import and_, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, select

from intake import case_actions as actions
from intake.auth import (
    COOKIE_NAME,
    AdminDep,
    CsrfStaffDep,
    Forbidden,
    StaffDep,
    clear_session_cookie,
    end_session,
    login_csrf_ok,
    new_login_csrf_token,
    safe_next,
    set_login_csrf,
    set_session_cookie,
    start_session,
)
from intake.console.rendering import STATIC, PageNotFound, highlight, month_chart, render
from intake.errors import CaseActionError, ConflictError, IntakeError
from intake.models import (
    Adjustment,
    Advocate,
    Attachment,
    AuditEvent,
    Case,
    CaseStage,
    Contact,
    Conversation,
    Message,
    Outbox,
    StaffUser,
    as_utc,
    uk_date,
    utcnow,
)
from intake.notify import NoRouteToResident, resident_route
from intake.queues import QUEUES, Filters, queue_page
from intake.settings import Settings
from intake.staff_users import ROLES, authenticate, create_user
from intake.web import PolicyDep, SessionDep, SettingsDep, client_ip, rate_limit

router = APIRouter(prefix="/staff", include_in_schema=False)

DONE_MESSAGES = {
    "claim": "You have claimed this case.",
    "release": "You have released this case. It is back in the queue, unclaimed, for anyone to claim.",
    "assign": "The case has been assigned.",
    "reclassify": "The case has been reclassified. Thank you: the correction will help train the classifier.",
    "confirm_exclusion": "Exclusion confirmed. The decision letter is in the outbox.",
    "overturn_exclusion": "Exclusion overturned. The case is now a Stage 1 complaint.",
    "acknowledge": "Complaint acknowledged. The acknowledgement is in the outbox.",
    "extend": "Extension recorded. The resident will be told the new date.",
    "record_response": "Response recorded. The decision letter is in the outbox.",
    "escalate": "Escalated to Stage 2. The resident will be told the new date.",
    "close": "The case is closed.",
    "note": "Your note has been added.",
    "message": "Your message is in the outbox.",
    "consent": "The resident's answer about their representative has been recorded.",
}


# Static -------------------------------------------------------------------------------------


@router.get("/static/{name}")
def static(name: str) -> FileResponse:
    path = STATIC / name
    if name not in ("console.css", "console.js") or not path.exists():
        raise PageNotFound()
    media = "text/css" if name.endswith(".css") else "text/javascript"
    return FileResponse(path, media_type=media, headers={"Cache-Control": "max-age=3600"})


# Login --------------------------------------------------------------------------------------


def _login_page(
    request: Request, settings: Settings, next: str, error: str | None = None, status: int = 200
) -> Response:
    token = new_login_csrf_token()
    response = render(
        request, "login.html", status_code=status, next=safe_next(next), csrf_token=token, error=error
    )
    set_login_csrf(response, settings, token)
    return response


@router.get("/login")
def login_page(
    request: Request, settings: SettingsDep, next: Annotated[str, Query(max_length=500)] = "/staff"
) -> Response:
    return _login_page(request, settings, next)


@router.post("/login")
def login(
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "/staff",
) -> Response:
    limit = settings.login_rate_limit_per_minute

    def again(error: str, status: int) -> Response:
        return _login_page(request, settings, next, error, status)

    try:
        rate_limit(request, f"staff-login:ip:{client_ip(request)}", limit)
        rate_limit(request, f"staff-login:user:{username.strip().lower()[:80]}", limit)
    except HTTPException:
        return again("Too many sign-in attempts. Please wait a minute and try again.", 429)
    if not login_csrf_ok(request, csrf_token):
        return again("Your sign-in form had expired. Please try again.", 400)
    user = authenticate(session, username, password) if username and password else None
    if user is None:
        return again(
            "The username or password is not right. After 5 wrong attempts an account is locked for 15 minutes.",
            401,
        )
    cookie_value, _ = start_session(session, user)
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(response, settings, cookie_value)
    response.delete_cookie("triage_login_csrf", path="/staff")
    return response


@router.post("/logout")
def logout(request: Request, staff: CsrfStaffDep, settings: SettingsDep, session: SessionDep) -> Response:
    end_session(session, request.cookies.get(COOKIE_NAME))
    response = RedirectResponse("/staff/login", status_code=303)
    clear_session_cookie(response, settings)
    return response


# Queues -------------------------------------------------------------------------------------


@router.get("")
@router.get("/")
def home(staff: StaffDep) -> Response:
    return RedirectResponse("/staff/queues/needs_review", status_code=303)


def _date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _officers(session: Session) -> list[StaffUser]:
    active = StaffUser.active.is_(True)
    return list(session.exec(select(StaffUser).where(active).order_by(StaffUser.display_name)).all())


@router.get("/queues/{key}")
def queue(
    request: Request,
    key: str,
    staff: StaffDep,
    session: SessionDep,
    policy: PolicyDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    channel: Annotated[str | None, Query(max_length=20)] = None,
    category: Annotated[str | None, Query(max_length=30)] = None,
    officer: Annotated[str | None, Query(max_length=20)] = None,
    received_from: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    received_to: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    if key not in QUEUES:
        raise PageNotFound()
    filters = Filters(
        channel=channel or None,
        category=category or None,
        officer=officer or None,
        received_from=_date(received_from),
        received_to=_date(received_to),
        search=q or None,
    )
    result = queue_page(session, policy, key, filters, page, user=staff.user)
    params = {
        k: v
        for k, v in {
            "q": q,
            "channel": channel,
            "category": category,
            "officer": officer,
            "from": received_from,
            "to": received_to,
        }.items()
        if v
    }
    return render(
        request,
        "queue.html",
        staff=staff,
        queues=QUEUES,
        result=result,
        filters=filters,
        params=params,
        raw={"from": received_from or "", "to": received_to or ""},
        officers=_officers(session),
        active_nav="queues",
    )


# The case page ------------------------------------------------------------------------------


def _case_or_404(session: Session, public_id: str) -> Case:
    if len(public_id) > 64:
        raise PageNotFound()
    case = session.exec(select(Case).where(Case.public_id == public_id)).first()
    if case is None:
        raise PageNotFound()
    return case


def spans_by_message(
    inbound: list[Message], spans: list[dict[str, Any]]
) -> dict[int | None, list[dict[str, Any]]]:
    """Which inbound message each evidence span belongs to. The classifier's offsets are into the
    text it read: the first message, or several text fragments read together. A span whose
    offsets fit the first message stays there; any other goes to the first message with its words."""
    placed: dict[int | None, list[dict[str, Any]]] = {}
    if not inbound:
        return placed
    first = inbound[0]
    for span in spans:
        if not isinstance(span, dict):
            continue
        words = str(span.get("text") or "")
        start, end = span.get("start"), span.get("end")
        target = first
        if not (isinstance(start, int) and isinstance(end, int) and first.body[start:end] == words and words):
            target = next((m for m in inbound if words and words in m.body), first)
        placed.setdefault(target.id, []).append(span)
    return placed


def _case_context(session: Session, policy: Any, case: Case) -> dict[str, Any]:
    contact = session.get(Contact, case.contact_id) if case.contact_id else None
    # The whole conversation: this case's messages, the earlier turns of the conversations that
    # led to it ("hi", the bot's questions), and everything we sent, in the order it happened.
    conversation_ids = select(Conversation.id).where(Conversation.case_id == case.id)
    messages = session.exec(
        select(Message)
        .where(
            or_(
                Message.case_id == case.id,
                and_(Message.case_id.is_(None), Message.conversation_id.in_(conversation_ids)),
            )
        )
        .order_by(Message.created_at, Message.id)
    ).all()
    sent = session.exec(
        select(Outbox)
        .where(
            or_(Outbox.case_id == case.id, Outbox.conversation_id.in_(conversation_ids)),
            Outbox.kind != "staff_message",  # those are Message rows already
            Outbox.status != "cancelled",
        )
        .order_by(Outbox.created_at, Outbox.id)
    ).all()
    evidence = spans_by_message([m for m in messages if m.direction == "in"], case.triage_evidence or [])
    attachments: dict[int, list[dict[str, Any]]] = {}
    message_ids = [m.id for m in messages]
    if message_ids:
        # What the page lists, never the bytes themselves.
        rows = session.execute(
            sa_select(
                Attachment.message_id,
                Attachment.public_id,
                Attachment.filename,
                Attachment.content_type,
                Attachment.size,
                Attachment.truncated,
                Attachment.fetch_error,
                Attachment.url.is_not(None).label("held_by_provider"),
                Attachment.data.is_not(None).label("kept"),
            )
            .where(Attachment.message_id.in_(message_ids))
            .order_by(Attachment.id)
        ).all()
        for row in rows:
            attachments.setdefault(row.message_id, []).append(row._asdict())
    entries: list[dict[str, Any]] = [
        {
            "direction": m.direction,
            "channel": m.channel,
            "at": m.created_at,
            "by": (m.sender or "").replace("staff:", "") if m.direction == "out" else None,
            "subject": m.subject,
            "what": None,
            "html": highlight(m.body, evidence.get(m.id)),
            "attachments": attachments.get(m.id, []),
        }
        for m in messages
    ]
    entries += [
        {
            "direction": "out",
            "channel": o.channel,
            "at": o.created_at,
            "by": None,
            "subject": o.subject,
            "what": o.kind.replace("_", " "),
            "html": highlight(o.body, None),
        }
        for o in sent
    ]
    entries.sort(key=lambda e: as_utc(e["at"]))
    transcript = entries
    stages = session.exec(
        select(CaseStage).where(CaseStage.case_id == case.id).order_by(CaseStage.stage)
    ).all()
    calendar = policy.calendar
    today = uk_date(utcnow())

    def left(day: date | None) -> int | None:
        return calendar.working_days_between(today, day) if day else None

    deadlines: list[dict[str, Any]] = []
    if case.category == "exclusion" and case.exclusion_decision is None and case.response_due:
        deadlines.append(
            {
                "what": "Decide the possible exclusion",
                "due": case.response_due,
                "done": None,
                "left": left(case.response_due),
            }
        )
    for stage in stages:
        deadlines.append(
            {
                "what": f"Acknowledge Stage {stage.stage}",
                "due": stage.acknowledge_by,
                "done": stage.acknowledged_on,
                "left": None if stage.acknowledged_on else left(stage.acknowledge_by),
            }
        )
        if stage.due:
            extended = f" (extended by {stage.extension_days} working days)" if stage.extension_days else ""
            deadlines.append(
                {
                    "what": f"Stage {stage.stage} response{extended}",
                    "due": stage.due,
                    "done": stage.responded_on,
                    "left": None if stage.responded_on else left(stage.due),
                }
            )
    if case.category == "complaint" and case.stage == 1 and not stages:
        deadlines.append(
            {
                "what": "Acknowledge",
                "due": case.acknowledge_by,
                "done": case.acknowledged_on,
                "left": left(case.acknowledge_by),
            }
        )
    stage1 = next((s for s in stages if s.stage == 1), None)
    stage2 = next((s for s in stages if s.stage == 2), None)
    window_end = actions.escalation_window_end(policy, stage1) if stage1 else None
    escalation: dict[str, Any] | None = None
    if window_end is not None:
        at_least = "" if policy.escalation.counts_from_response else " (at least)"
        # The resident's deadline, not ours: no working days left or overdue marker.
        after_stage1 = max(
            i for i, d in enumerate(deadlines) if d["what"].startswith(("Acknowledge Stage 1", "Stage 1"))
        )
        deadlines.insert(
            after_stage1 + 1,
            {
                "what": f"Resident can ask for Stage 2 until{at_least}",
                "due": window_end,
                "done": None,
                "left": None,
            },
        )
        asked = stage2.opened_on if stage2 else None
        waiting = stage2 is None and case.status == "stage1_responded"
        escalation = {
            "by": window_end,
            "at_least": not policy.escalation.counts_from_response,
            "window_words": policy.escalation.window_words,
            # Still waiting at Stage 1 and the window has passed: staff should know before escalating.
            "passed": waiting and today > window_end,
            "days_passed": (today - window_end).days,
            # Escalated, but asked after the window: kept in view, and in the history.
            "late_request": (
                actions.late_escalation_warning(policy, window_end, asked)
                if asked is not None and asked > window_end
                else None
            ),
        }
    current = next((s for s in stages if s.stage == case.stage), None)
    extension_left = policy.extension_limit(current.stage) - current.extension_days if current else 0
    try:
        route = resident_route(session, case)
    except NoRouteToResident:
        route = None
    users = {u.id: u for u in session.exec(select(StaffUser)).all()}
    return {
        "case": case,
        "contact": contact,
        "transcript": transcript,
        "stages": stages,
        "current_stage": current,
        "escalation": escalation,
        "today": today,
        "extension_left": extension_left,
        "deadlines": deadlines,
        "adjustments": session.exec(
            select(Adjustment).where(Adjustment.case_id == case.id).order_by(Adjustment.id)
        ).all(),
        "advocates": session.exec(
            select(Advocate).where(Advocate.case_id == case.id).order_by(Advocate.id)
        ).all(),
        "audit": session.exec(
            select(AuditEvent)
            .where(AuditEvent.case_id == case.id)
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        ).all(),
        "outbox": session.exec(select(Outbox).where(Outbox.case_id == case.id).order_by(Outbox.id)).all(),
        "assigned": users.get(case.assigned_to_id) if case.assigned_to_id else None,
        "officers": [u for u in users.values() if u.active],
        "route": route,
        "policy": policy,
        "exclusion_options": [e.reason for e in policy.exclusions],
    }


@router.get("/cases/{public_id}")
def case_page(
    request: Request,
    public_id: str,
    staff: StaffDep,
    session: SessionDep,
    policy: PolicyDep,
    done: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    case = _case_or_404(session, public_id)
    return render(
        request,
        "case.html",
        staff=staff,
        done=DONE_MESSAGES.get(done or ""),
        error=None,
        can=lambda action: actions.can(staff.user, action),
        can_release=actions.can_release(staff.user, case),
        active_nav="queues",
        **_case_context(session, policy, case),
    )


# Attachments --------------------------------------------------------------------------------

# Served with their own type only when a browser cannot run them; anything else (HTML, SVG,
# scripts) is a download of unknown type, so it never runs in the console's origin.
SAFE_ATTACHMENT_TYPES = frozenset(
    {"image/jpeg", "image/png", "image/gif", "image/webp", "image/heic", "image/heif", "application/pdf"}
)


def safe_filename(name: str) -> str:
    """A resident-chosen file name reduced to letters, digits, dot, dash and underscore, no path."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[:100]
    return cleaned or "attachment"


def attachment_headers(attachment: Attachment) -> dict[str, str]:
    ascii_name = safe_filename(attachment.filename)
    # filename* keeps a non-ASCII name readable; both are quoted so nothing can break out.
    utf8_name = quote(attachment.filename.replace("/", "_").replace("\\", "_")[:150], safe="")
    return {
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{utf8_name}",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "no-store",
        "Referrer-Policy": "same-origin",
    }


@router.get("/attachments/{public_id}")
def attachment_download(public_id: str, staff: StaffDep, session: SessionDep) -> Response:
    """A resident's file, for staff only, always as a download (never shown inline)."""
    if len(public_id) > 64:
        raise PageNotFound()
    attachment = session.exec(select(Attachment).where(Attachment.public_id == public_id)).first()
    if attachment is None or attachment.data is None:
        raise PageNotFound()
    content_type = attachment.content_type.split(";")[0].strip().lower()
    media_type = content_type if content_type in SAFE_ATTACHMENT_TYPES else "application/octet-stream"
    return Response(attachment.data, media_type=media_type, headers=attachment_headers(attachment))


def _form_int(form: Any, name: str) -> int | None:
    value = form.get(name)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _form_text(form: Any, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


@router.post("/cases/{public_id}/{action}")
async def case_action(
    request: Request, public_id: str, action: str, staff: CsrfStaffDep, session: SessionDep, policy: PolicyDep
) -> Response:
    if action not in DONE_MESSAGES:
        raise PageNotFound()
    case = _case_or_404(session, public_id)
    form = await request.form()
    version = _form_int(form, "version")
    user = staff.user
    try:
        if action == "claim":
            actions.claim(session, case, user, version=version)
        elif action == "release":
            actions.release(session, case, user, version=version)
        elif action == "assign":
            target_id = _form_int(form, "assignee")
            target = session.get(StaffUser, target_id) if target_id else None
            if target_id and target is None:
                raise CaseActionError("Choose someone to assign the case to.")
            actions.assign(session, case, user, target, version=version)
        elif action == "reclassify":
            actions.reclassify(
                session,
                policy,
                case,
                user,
                category=_form_text(form, "category"),
                exclusion_reason=_form_text(form, "exclusion_reason") or None,
                reason=_form_text(form, "reason"),
                version=version,
            )
        elif action == "confirm_exclusion":
            actions.confirm_exclusion(
                session, policy, case, user, note=_form_text(form, "note"), version=version
            )
        elif action == "overturn_exclusion":
            actions.overturn_exclusion(
                session, policy, case, user, reason=_form_text(form, "reason"), version=version
            )
        elif action == "acknowledge":
            actions.acknowledge_case(session, policy, case, user, version=version)
        elif action == "extend":
            days = _form_int(form, "days")
            if days is None:
                raise CaseActionError("Give the number of working days to extend by.")
            actions.extend(
                session, policy, case, user, days=days, reason=_form_text(form, "reason"), version=version
            )
        elif action == "record_response":
            actions.record_response(
                session,
                policy,
                case,
                user,
                outcome=_form_text(form, "outcome"),
                response_text=_form_text(form, "response_text"),
                version=version,
            )
        elif action == "escalate":
            asked = _form_text(form, "requested_on").strip()
            requested_on = _date(asked)
            if asked and requested_on is None:
                raise CaseActionError("Enter the date the resident asked as day, month and year.")
            actions.escalate(
                session,
                policy,
                case,
                user,
                reason=_form_text(form, "reason"),
                requested_on=requested_on,
                version=version,
            )
        elif action == "close":
            actions.close(session, case, user, reason=_form_text(form, "reason"), version=version)
        elif action == "note":
            actions.add_note(session, case, user, _form_text(form, "text"))
        elif action == "message":
            actions.message_resident(session, policy, case, user, _form_text(form, "text"))
        elif action == "consent":
            actions.record_consent(
                session,
                case,
                user,
                advocate_id=_form_int(form, "advocate"),
                consent=_form_text(form, "consent"),
                how=_form_text(form, "how"),
            )
        session.commit()
    except actions.NotAllowed as exc:
        session.rollback()
        raise Forbidden(str(exc)) from None
    except (ConflictError, CaseActionError, NoRouteToResident, IntakeError) as exc:
        session.rollback()
        session.expire_all()
        case = _case_or_404(session, public_id)
        status = 409 if isinstance(exc, ConflictError) else 400
        return render(
            request,
            "case.html",
            status_code=status,
            staff=staff,
            done=None,
            error=str(exc),
            can=lambda name: actions.can(staff.user, name),
            can_release=actions.can_release(staff.user, case),
            active_nav="queues",
            **_case_context(session, policy, case),
        )
    return RedirectResponse(f"/staff/cases/{case.public_id}?done={action}", status_code=303)


# Messages that could not be sent ---------------------------------------------------------------


@router.get("/outbox")
def not_sent(
    request: Request,
    staff: StaffDep,
    session: SessionDep,
    done: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    rows = session.exec(
        select(Outbox, Case.reference, Case.public_id)
        .outerjoin(Case, Case.id == Outbox.case_id)
        .where(Outbox.status.in_(("parked", "failed")))
        .order_by(Outbox.created_at.desc(), Outbox.id.desc())
        .limit(200)
    ).all()
    return render(
        request,
        "outbox.html",
        staff=staff,
        rows=rows,
        done="The message is back in the outbox and will be sent again shortly." if done == "retry" else None,
        error=None,
        active_nav="outbox",
    )


@router.post("/outbox/retry")
async def retry(request: Request, staff: CsrfStaffDep, session: SessionDep) -> Response:
    form = await request.form()
    outbox_id = _form_int(form, "outbox_id")
    try:
        if outbox_id is None:
            raise CaseActionError("Choose a message to send again.")
        actions.retry_message(session, staff.user, outbox_id)
        session.commit()
    except actions.NotAllowed as exc:
        raise Forbidden(str(exc)) from None
    except IntakeError as exc:
        session.rollback()
        return render(
            request,
            "outbox.html",
            status_code=409,
            staff=staff,
            rows=[],
            done=None,
            error=str(exc),
            active_nav="outbox",
        )
    return RedirectResponse("/staff/outbox?done=retry", status_code=303)


# Self-assessment ----------------------------------------------------------------------------


def _period(date_from: str | None, date_to: str | None) -> tuple[date, date, str | None]:
    today = uk_date(utcnow())
    default_from = date(today.year - 1, today.month, 1)
    start = _date(date_from) or default_from
    end = _date(date_to) or today
    error = None
    if (date_from and _date(date_from) is None) or (date_to and _date(date_to) is None):
        error = "Enter dates as day, month and year, for example 2026-04-01."
    if end < start:
        error = "The end date is before the start date. Showing the period the other way round."
        start, end = end, start
    return start, end, error


def every_month(start: date, end: date, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The report's months with the empty ones filled in, so the chart's time axis is honest."""
    known = {row["month"]: row for row in rows}
    months = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month) and len(months) < 120:
        key = f"{year:04d}-{month:02d}"
        months.append(
            known.get(key)
            or {
                "month": key,
                "stage1_received": 0,
                "stage2_received": 0,
                "responses": 0,
                "responses_within_timescale_pct": None,
            }
        )
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def report_figures(
    session: SessionDep,
    policy: PolicyDep,
    date_from: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    date_to: Annotated[str | None, Query(alias="to", max_length=10)] = None,
) -> tuple[date, date, str | None, dict]:
    """The chosen period (or a default one, with a message) and its self-assessment figures."""
    from intake.report import self_assessment

    start, end, error = _period(date_from, date_to)
    return start, end, error, self_assessment(session, policy, start, end)


ReportDep = Annotated[tuple[date, date, str | None, dict], Depends(report_figures)]


@router.get("/self-assessment")
def self_assessment_page(request: Request, staff: StaffDep, report: ReportDep) -> Response:
    from intake.report import flatten

    start, end, error, figures = report
    return render(
        request,
        "self_assessment.html",
        staff=staff,
        figures=figures,
        rows=flatten(figures),
        chart=month_chart(every_month(start, end, figures.get("by_month", []))),
        start=start,
        end=end,
        error=error,
        active_nav="self_assessment",
    )


@router.get("/self-assessment.csv")
def self_assessment_csv(staff: StaffDep, report: ReportDep) -> Response:
    from intake.report import flatten

    start, end, _, figures = report
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["measure", "value"])
    writer.writerows(flatten(figures))
    months = figures.get("by_month", [])
    if months:
        writer.writerow([])
        writer.writerow(list(months[0].keys()))
        writer.writerows([list(m.values()) for m in months])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="self-assessment-{start}-to-{end}.csv"',
            "Cache-Control": "no-store",
        },
    )


# Users (admin) ------------------------------------------------------------------------------


@router.get("/users")
def users_page(request: Request, staff: AdminDep, session: SessionDep) -> Response:
    return _render_users(request, staff, session)


def _render_users(
    request: Request, staff, session, error: str | None = None, done: str | None = None
) -> Response:
    users = session.exec(select(StaffUser).order_by(StaffUser.username)).all()
    return render(
        request,
        "users.html",
        status_code=400 if error else 200,
        staff=staff,
        users=users,
        roles=ROLES,
        error=error,
        done=done,
        active_nav="users",
    )


@router.post("/users")
async def add_user(request: Request, staff: CsrfStaffDep, session: SessionDep) -> Response:
    if not staff.has_role("admin"):
        raise Forbidden("You need the admin role to manage users.")
    form = await request.form()
    error = done = None
    try:
        user = create_user(
            session,
            _form_text(form, "username"),
            _form_text(form, "password"),
            _form_text(form, "role"),
            _form_text(form, "display_name").strip()[:200],
        )
        session.commit()
        done = f"User {user.username} added."
    except IntakeError as exc:
        session.rollback()
        error = str(exc)
    return _render_users(request, staff, session, error, done)


@router.post("/users/{username}/active")
async def set_active(request: Request, username: str, staff: CsrfStaffDep, session: SessionDep) -> Response:
    if not staff.has_role("admin"):
        raise Forbidden("You need the admin role to manage users.")
    form = await request.form()
    user = session.exec(select(StaffUser).where(StaffUser.username == username)).first()
    if user is None:
        raise PageNotFound()
    if user.id == staff.user.id:
        raise Forbidden("You cannot switch off your own account.")
    user.active = _form_text(form, "active") == "1"
    if user.active:
        user.failed_logins, user.locked_until = 0, None
    session.add(user)
    session.commit()
    return RedirectResponse("/staff/users", status_code=303)

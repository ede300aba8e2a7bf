"""Staff login sessions for the console.

The cookie holds a random value; the database keeps only its SHA-256 (StaffSession.id), so a
copy of the database cannot be replayed as a login. Each session has its own CSRF token, which
every POST form carries and `check_csrf` compares in constant time. The login form, used before
there is a session, is protected with a double-submit cookie instead.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request, Response
from sqlalchemy import delete
from sqlmodel import Session

from intake.models import StaffSession, StaffUser, as_utc, utcnow
from intake.settings import Settings
from intake.staff_users import has_role
from intake.web import SessionDep

COOKIE_NAME = "triage_staff"
LOGIN_CSRF_COOKIE = "triage_login_csrf"
COOKIE_PATH = "/staff"
SESSION_LIFETIME = timedelta(hours=10)  # one working shift


class LoginRequired(Exception):
    """No valid session: the console sends the browser to the login page."""

    def __init__(self, next_path: str = "/staff") -> None:
        super().__init__("login required")
        self.next_path = next_path


class Forbidden(Exception):
    """Logged in, but the role (or the CSRF token) does not allow this: 403."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _hash(cookie_value: str) -> str:
    return hashlib.sha256(cookie_value.encode()).hexdigest()


def start_session(session: Session, user: StaffUser) -> tuple[str, StaffSession]:
    """Create a server-side session for `user`; returns the cookie value and the row."""
    now = utcnow()
    session.execute(delete(StaffSession).where(StaffSession.expires_at < now))  # tidy expired sessions
    cookie_value = secrets.token_urlsafe(32)
    row = StaffSession(
        id=_hash(cookie_value),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + SESSION_LIFETIME,
    )
    session.add(row)
    session.commit()
    return cookie_value, row


def end_session(session: Session, cookie_value: str | None) -> None:
    if cookie_value:
        session.execute(delete(StaffSession).where(StaffSession.id == _hash(cookie_value)))
        session.commit()


def load_session(session: Session, cookie_value: str | None) -> tuple[StaffSession, StaffUser] | None:
    if not cookie_value or len(cookie_value) > 200:
        return None
    row = session.get(StaffSession, _hash(cookie_value))
    if row is None:
        return None
    if as_utc(row.expires_at) <= utcnow():
        return None
    user = session.get(StaffUser, row.user_id)
    if user is None or not user.active:
        return None
    return row, user


def set_session_cookie(response: Response, settings: Settings, cookie_value: str) -> None:
    response.set_cookie(
        COOKIE_NAME,
        cookie_value,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path=COOKIE_PATH,
        secure=settings.secure_cookies,
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        COOKIE_NAME, path=COOKIE_PATH, secure=settings.secure_cookies, httponly=True, samesite="lax"
    )


def new_login_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def set_login_csrf(response: Response, settings: Settings, token: str) -> None:
    """The login form's double-submit cookie: the form's hidden field must match it."""
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        path=COOKIE_PATH,
        secure=settings.secure_cookies,
        httponly=True,
        samesite="strict",
    )


def login_csrf_ok(request: Request, submitted: str | None) -> bool:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    return bool(cookie and submitted) and hmac.compare_digest(cookie, submitted or "")


def safe_next(path: str | None) -> str:
    """Only ever redirect to a console page after login (no open redirect)."""
    if path and path.startswith("/staff") and not path.startswith("//") and "\\" not in path:
        return path
    return "/staff"


@dataclass
class Staff:
    """The member of staff making the request, and their session."""

    user: StaffUser
    session_row: StaffSession

    @property
    def csrf_token(self) -> str:
        return self.session_row.csrf_token

    def has_role(self, role: str) -> bool:
        return has_role(self.user, role)


def current_staff(request: Request, session: SessionDep) -> Staff:
    loaded = load_session(session, request.cookies.get(COOKIE_NAME))
    if loaded is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(quote(target, safe="/"))
    row, user = loaded
    return Staff(user=user, session_row=row)


StaffDep = Annotated[Staff, Depends(current_staff)]


async def check_csrf(request: Request, staff: StaffDep) -> Staff:
    """Every POST from the console carries the session's CSRF token in a hidden field."""
    form = await request.form()
    submitted = form.get("csrf_token")
    if not isinstance(submitted, str) or not hmac.compare_digest(submitted, staff.csrf_token):
        raise Forbidden(
            "This form has expired or did not come from this site. Go back, reload the page and try again."
        )
    return staff


CsrfStaffDep = Annotated[Staff, Depends(check_csrf)]


def require_role(role: str):
    """A dependency that lets through only `role` and above; anyone else gets 403."""

    def dependency(staff: StaffDep) -> Staff:
        if not staff.has_role(role):
            raise Forbidden(f"You need the {role.replace('_', ' ')} role to do this.")
        return staff

    return dependency


AdminDep = Annotated[Staff, Depends(require_role("admin"))]

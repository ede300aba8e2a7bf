"""Staff sign-in: server-side sessions, cookie flags, CSRF, lockout, rate limit, roles."""

from __future__ import annotations

import hashlib
import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from intake.auth import COOKIE_NAME
from intake.models import StaffSession, StaffUser
from intake.staff_users import MAX_FAILED_LOGINS, create_user

PASSWORD = "correct-horse-battery"


@pytest.fixture
def users(session):
    made = {
        role: create_user(session, role.replace("_", ""), PASSWORD, role)
        for role in ("agent", "complaints_officer", "admin")
    }
    session.commit()
    return made


def login_form_token(client: TestClient) -> str:
    page = client.get("/staff/login")
    assert page.status_code == 200
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD, **extra):
    token = login_form_token(client)
    return client.post(
        "/staff/login",
        data={"username": username, "password": password, "csrf_token": token, **extra},
        follow_redirects=False,
    )


def page_csrf(client: TestClient, path: str = "/staff/queues/all") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text).group(1)


def test_console_pages_need_a_login(client):
    response = client.get("/staff/queues/all", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/staff/login?next=/staff/queues/all")


def test_signing_in_keeps_only_a_hash_of_the_cookie_on_the_server(client, session, users):
    response = sign_in(client, "agent")
    assert response.status_code == 303 and response.headers["location"] == "/staff"
    cookie_value = response.cookies[COOKIE_NAME]
    stored = session.exec(select(StaffSession)).one()
    assert stored.id == hashlib.sha256(cookie_value.encode()).hexdigest()
    assert cookie_value not in stored.id
    assert client.get("/staff/queues/all").status_code == 200


def test_session_cookie_is_secure_httponly_and_samesite(app, users):
    app.state.settings = app.state.settings.model_copy(update={"secure_cookies": True})
    with TestClient(app, base_url="https://testserver") as client:
        response = sign_in(client, "agent")
        assert response.status_code == 303
        cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(f"{COOKIE_NAME}="))
        lowered = cookie.lower()
        assert (
            "; secure" in lowered
            and "; httponly" in lowered
            and "samesite=lax" in lowered
            and "path=/staff" in lowered
        )
        assert client.get("/staff/queues/all").status_code == 200


def test_wrong_password_then_lockout(client, session, users):
    for _ in range(MAX_FAILED_LOGINS):
        response = sign_in(client, "agent", "wrong-password")
        assert response.status_code == 401
        assert "not right" in response.text
    # Locked now: even the right password is refused, with the same words (no account probing).
    locked = sign_in(client, "agent")
    assert locked.status_code == 401
    session.expire_all()
    assert session.exec(select(StaffUser).where(StaffUser.username == "agent")).one().locked_until is not None


def test_login_is_rate_limited(app, client, users, monkeypatch):
    from datetime import UTC, datetime

    import intake.ratelimit

    # One fixed moment, so the five attempts can never straddle two one-minute windows.
    monkeypatch.setattr(intake.ratelimit, "utcnow", lambda: datetime(2026, 11, 26, 10, 0, 30, tzinfo=UTC))
    app.state.settings = app.state.settings.model_copy(update={"login_rate_limit_per_minute": 3})
    statuses = [sign_in(client, "nobody", "whatever-password").status_code for _ in range(5)]
    assert statuses[:3] == [401, 401, 401]
    assert statuses[3:] == [429, 429]


def test_login_form_needs_its_csrf_token(client, users):
    client.get("/staff/login")
    response = client.post(
        "/staff/login", data={"username": "agent", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert response.status_code == 400
    assert COOKIE_NAME not in response.cookies


def test_login_never_redirects_off_site(client, users):
    response = sign_in(client, "agent", next="https://evil.example/")
    assert response.headers["location"] == "/staff"
    response = sign_in(client, "agent", next="//evil.example/staff")
    assert response.headers["location"] == "/staff"


def test_logout_ends_the_session_on_the_server(client, session, users):
    sign_in(client, "agent")
    token = page_csrf(client)
    response = client.post("/staff/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert session.exec(select(StaffSession)).all() == []
    assert client.get("/staff/queues/all", follow_redirects=False).status_code == 303


def test_a_post_without_the_csrf_token_is_refused(client, users):
    sign_in(client, "agent")
    assert client.post("/staff/logout", data={}).status_code == 403
    assert client.post("/staff/logout", data={"csrf_token": "x" * 43}).status_code == 403


def test_a_switched_off_user_is_signed_out(client, session, users):
    sign_in(client, "agent")
    user = session.exec(select(StaffUser).where(StaffUser.username == "agent")).one()
    user.active = False
    session.add(user)
    session.commit()
    assert client.get("/staff/queues/all", follow_redirects=False).status_code == 303


def test_only_an_admin_manages_users(client, users):
    sign_in(client, "complaintsofficer")
    assert client.get("/staff/users").status_code == 403
    token = page_csrf(client)
    response = client.post(
        "/staff/users", data={"csrf_token": token, "username": "x", "password": "p" * 12, "role": "admin"}
    )
    assert response.status_code == 403


def test_an_admin_adds_a_user_who_can_then_sign_in(client, users):
    sign_in(client, "admin")
    token = page_csrf(client, "/staff/users")
    response = client.post(
        "/staff/users",
        data={
            "csrf_token": token,
            "username": "newbie",
            "display_name": "New Person",
            "password": "a-good-password",
            "role": "agent",
        },
    )
    assert response.status_code == 200 and "User newbie added." in response.text
    client.cookies.clear()
    assert sign_in(client, "newbie", "a-good-password").status_code == 303


def test_after_signing_in_you_land_on_the_page_you_asked_for(client, users):
    asked = client.get("/staff/queues/all?channel=sms&page=1", follow_redirects=False)
    login_url = asked.headers["location"]
    page = client.get(login_url)
    assert 'name="next" value="/staff/queues/all?channel=sms&amp;page=1"' in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = client.post(
        "/staff/login",
        data={
            "username": "agent",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "/staff/queues/all?channel=sms&page=1",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/staff/queues/all?channel=sms&page=1"

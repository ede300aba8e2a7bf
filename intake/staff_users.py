"""Staff accounts: argon2 password hashes, roles, lockout after repeated failures."""

from __future__ import annotations

import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from intake.errors import IntakeError
from intake.models import StaffUser, utcnow

ROLES = ("agent", "complaints_officer", "admin")
# What each role may do, cumulatively: an admin can do everything an officer can, and so on.
ROLE_RANK = {"agent": 1, "complaints_officer": 2, "admin": 3}
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 10

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def has_role(user: StaffUser, needed: str) -> bool:
    return ROLE_RANK.get(user.role, 0) >= ROLE_RANK[needed]


def create_user(
    session: Session, username: str, password: str, role: str, display_name: str = ""
) -> StaffUser:
    username = username.strip().lower()
    if role not in ROLES:
        raise IntakeError(f"Unknown role {role!r}. Use one of: {', '.join(ROLES)}.")
    if not username or not username.replace(".", "").replace("-", "").replace("_", "").isalnum():
        raise IntakeError("A username may use letters, numbers, dots, dashes and underscores only.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise IntakeError(f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.")
    if session.exec(select(StaffUser).where(StaffUser.username == username)).first():
        raise IntakeError(f"There is already a user called {username!r}.")
    user = StaffUser(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        role=role,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str) -> StaffUser | None:
    """The user if the password is right and the account is not locked; counts failures."""
    user = session.exec(select(StaffUser).where(StaffUser.username == username.strip().lower())).first()
    if user is None or not user.active:
        _hasher_dummy_verify()
        return None
    now = utcnow()
    if user.locked_until is not None and user.locked_until > now:
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
        session.add(user)
        session.commit()
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    session.add(user)
    session.commit()
    return user


def is_locked(user: StaffUser) -> bool:
    return user.locked_until is not None and user.locked_until > utcnow()


_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(12))


def _hasher_dummy_verify() -> None:
    """Spend the same time on an unknown username as on a known one."""
    try:
        _hasher.verify(_DUMMY_HASH, "not-the-password")
    except VerificationError:
        pass

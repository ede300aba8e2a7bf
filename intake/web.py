"""Typed dependencies shared by every router (FastAPI full-stack template style)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.engine import Engine
from sqlmodel import Session

from intake import ratelimit
from intake.policy import Policy
from intake.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_policy(request: Request) -> Policy:
    return request.app.state.policy


def get_session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
PolicyDep = Annotated[Policy, Depends(get_policy)]
SessionDep = Annotated[Session, Depends(get_session)]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def rate_limit(request: Request, key: str, limit: int) -> None:
    """Raise 429 when `key` has gone over `limit` requests this minute."""
    if not ratelimit.hit(request.app.state.engine, key, limit):
        raise HTTPException(status_code=429, detail="Too many requests. Please wait a minute and try again.")

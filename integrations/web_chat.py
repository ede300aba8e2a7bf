"""Web chat: the /chat page and its JSON API (Rasa-style channel module: input and output side).

Input: POST /chat/api/sessions starts a chat and returns an unguessable token (kept by the page in
sessionStorage, so the conversation survives a reload; no time-outs). POST /chat/api/messages
hands the resident's text to the inbound handler the app factory gave us; GET /chat/api/messages
is the history. The token travels in the X-Chat-Token header, never in a URL.

Output: replies are outbox rows like every other channel's. This page is their delivery: rows
for the chat are marked delivered when the page is given them (in the same request for a reply,
or by `send` when the dispatcher gets there first).
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from intake.inbound import InboundHandler, InboundMessage
from intake.models import Conversation, Message, Outbox, utcnow
from intake.outbox import DELIVERED, PENDING, SendResult
from intake.web import client_ip, rate_limit

CHANNEL = "web"
TOKEN_HEADER = "X-Chat-Token"
MAX_TEXT_CHARS = 2000
MAX_BODY_BYTES = 16 * 1024
SESSIONS_PER_IP_PER_MINUTE = 20
HISTORY_READS_PER_MINUTE = 120
NOT_SHOWN = ("cancelled", "parked", "failed")

HERE = Path(__file__).resolve().parent
STATIC_FILES = {"chat.js": "text/javascript", "chat.css": "text/css"}
_pages = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(["html"]))

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_\-]{20,64}$")
_CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


def send(row: Outbox) -> SendResult:
    """The dispatcher's sender for channel "web": the page shows the row, so it is delivered."""
    return SendResult(provider_message_id=f"web-{row.id}", status=DELIVERED)


def deliver_pending(engine: Engine, conversation_id: int) -> None:
    now = utcnow()
    with Session(engine) as session:
        session.execute(
            update(Outbox)
            .where(
                Outbox.channel == CHANNEL, Outbox.conversation_id == conversation_id, Outbox.status == PENDING
            )
            .values(
                status=DELIVERED,
                attempts=Outbox.attempts + 1,
                sent_at=now,
                delivered_at=now,
                delivery_status="shown",
            )
        )
        session.commit()


def _conversation_id(engine: Engine, token: str | None) -> int:
    if not token or not _TOKEN_RE.match(token):
        raise HTTPException(status_code=401, detail="This chat has not started. Please reload the page.")
    with Session(engine) as session:
        conversation_id = session.exec(
            select(Conversation.id).where(
                Conversation.channel == CHANNEL, Conversation.session_token == token
            )
        ).first()
    if conversation_id is None:
        raise HTTPException(status_code=404, detail="We could not find this chat. Please start a new one.")
    return conversation_id


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def history(engine: Engine, conversation_id: int) -> list[dict[str, Any]]:
    with Session(engine) as session:
        inbound = session.exec(
            select(Message)
            .where(Message.conversation_id == conversation_id, Message.direction == "in")
            .order_by(Message.id)
        ).all()
        outbound = session.exec(
            select(Outbox)
            .where(
                Outbox.conversation_id == conversation_id,
                Outbox.channel == CHANNEL,
                Outbox.status.not_in(NOT_SHOWN),
            )
            .order_by(Outbox.id)
        ).all()
    items = [(_naive_utc(m.created_at), 0, m.id, "resident", m.body) for m in inbound]
    items += [(_naive_utc(o.created_at), 1, o.id, "bot", o.body) for o in outbound]
    items.sort()
    return [{"from": who, "text": text, "at": at.isoformat() + "Z"} for at, _, _, who, text in items]


async def _bounded_json(request: Request) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    if declared and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        raise HTTPException(
            status_code=413, detail="That message is too long. Please send it in shorter parts."
        )
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise HTTPException(
                status_code=413, detail="That message is too long. Please send it in shorter parts."
            )
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise HTTPException(
            status_code=400, detail="We could not read that message. Please try again."
        ) from None
    if not isinstance(data, dict):
        raise HTTPException(status_code=400, detail="We could not read that message. Please try again.")
    return data


def web_chat_router(handle: InboundHandler) -> APIRouter:
    router = APIRouter()

    @router.get("/chat", response_class=HTMLResponse, include_in_schema=False)
    def chat_page(request: Request) -> HTMLResponse:
        policy = request.app.state.policy
        html = _pages.get_template("chat.html").render(policy=policy, max_chars=MAX_TEXT_CHARS)
        return HTMLResponse(html, headers=PAGE_HEADERS)

    @router.get("/chat/static/{name}", include_in_schema=False)
    def chat_static(name: str) -> FileResponse:
        if name not in STATIC_FILES:
            raise HTTPException(status_code=404)
        return FileResponse(
            HERE / "static" / name,
            media_type=STATIC_FILES[name],
            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
        )

    @router.post("/chat/api/sessions", status_code=201)
    def start_chat(request: Request) -> JSONResponse:
        rate_limit(request, f"webchat:start:{client_ip(request)}", SESSIONS_PER_IP_PER_MINUTE)
        token = secrets.token_urlsafe(32)
        with Session(request.app.state.engine) as session:
            session.add(
                Conversation(channel=CHANNEL, address=token, session_token=token, state="start", data={})
            )
            session.commit()
        return JSONResponse({"token": token}, status_code=201, headers={"Cache-Control": "no-store"})

    @router.post("/chat/api/messages")
    async def post_message(request: Request) -> JSONResponse:
        engine = request.app.state.engine
        settings = request.app.state.settings
        token = request.headers.get(TOKEN_HEADER)
        conversation_id = await run_in_threadpool(_conversation_id, engine, token)
        limit = settings.public_rate_limit_per_minute
        await run_in_threadpool(rate_limit, request, f"webchat:token:{token}", limit)
        await run_in_threadpool(rate_limit, request, f"webchat:ip:{client_ip(request)}", limit * 4)
        data = await _bounded_json(request)
        text = data.get("text")
        if not isinstance(text, str) or not text.strip():
            raise HTTPException(status_code=422, detail="Please type a message first.")
        text = text.strip()
        if len(text) > MAX_TEXT_CHARS:
            raise HTTPException(
                status_code=413, detail=f"Please keep each message under {MAX_TEXT_CHARS} characters."
            )
        client_id = data.get("client_id")
        if not isinstance(client_id, str) or not _CLIENT_ID_RE.match(client_id):
            client_id = secrets.token_hex(12)
        message = InboundMessage(
            channel=CHANNEL,
            sender=token,
            body=text,
            # scoped to the chat, so one chat can never collide with another's ids
            provider_message_id=f"{conversation_id}:{client_id}",
        )
        result = await run_in_threadpool(handle, message)
        await run_in_threadpool(deliver_pending, engine, conversation_id)
        return JSONResponse(
            {"duplicate": result.duplicate, "replies": [{"from": "bot", "text": r} for r in result.replies]},
            headers={"Cache-Control": "no-store"},
        )

    @router.get("/chat/api/messages")
    def get_history(request: Request) -> JSONResponse:
        engine = request.app.state.engine
        token = request.headers.get(TOKEN_HEADER)
        conversation_id = _conversation_id(engine, token)
        rate_limit(request, f"webchat:history:{token}", HISTORY_READS_PER_MINUTE)
        deliver_pending(engine, conversation_id)
        return JSONResponse(
            {"messages": history(engine, conversation_id)}, headers={"Cache-Control": "no-store"}
        )

    return router

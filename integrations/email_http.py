"""POST /inbound/email: raw MIME from a mail provider's inbound hook or a local MTA pipe.

Protected by a bearer token (settings.inbound_mail_token); the body is the message exactly as
received (message/rfc822), capped at settings.max_email_bytes. Every refusal is a 4xx with the
reason in words, so whoever wires up the mail route can fix it from the response alone.

    curl -X POST https://triage.example/inbound/email \\
         -H "Authorization: Bearer $INBOUND_MAIL_TOKEN" \\
         -H "Content-Type: message/rfc822" --data-binary @message.eml
"""

from __future__ import annotations

import hmac
import logging

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from intake.inbound import InboundHandler
from intake.settings import Settings
from integrations.email_in import receive_email

log = logging.getLogger(__name__)

EMAIL_PATH = "/inbound/email"


def check_token(request: Request, settings: Settings) -> None:
    expected = settings.inbound_mail_token.get_secret_value()
    if not expected:
        raise HTTPException(
            403, "Inbound e-mail over HTTP is switched off: set INBOUND_MAIL_TOKEN to turn it on."
        )
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(
            401,
            "Send the token as 'Authorization: Bearer <INBOUND_MAIL_TOKEN>'.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(token.strip().encode(), expected.encode()):
        log.warning(
            "inbound e-mail refused: wrong token (from %s)", request.client.host if request.client else "?"
        )
        raise HTTPException(403, "The token is not right.")


async def read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    too_big = f"The message is over the {limit // (1024 * 1024)} MB limit for e-mail."
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, too_big)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, too_big)
        chunks.append(chunk)
    return b"".join(chunks)


def email_router(handle: InboundHandler) -> APIRouter:
    router = APIRouter(tags=["email"])

    @router.post(EMAIL_PATH, include_in_schema=False)
    async def inbound_email(request: Request) -> JSONResponse:
        settings: Settings = request.app.state.settings
        check_token(request, settings)
        raw = await read_capped(request, settings.max_email_bytes)
        if not raw.strip():
            raise HTTPException(
                400, "The body is empty: send the raw e-mail (message/rfc822) as the request body."
            )
        try:
            message, result = await run_in_threadpool(
                receive_email, raw, engine=request.app.state.engine, handle=handle, settings=settings
            )
        except ValueError as exc:
            raise HTTPException(400, f"This is not an e-mail we can read: {exc}") from None
        return JSONResponse(
            {
                "duplicate": result.duplicate,
                "message_id": result.message_id,
                "automatic": message.automatic,
                "case_reference": result.case_reference or message.thread_reference,
            },
            status_code=200 if result.duplicate else 202,
        )

    return router

"""SMS through Twilio: the inbound webhook, the delivery-status callback, and the outbox sender.

Signatures are checked against the *configured* public URL (settings.twilio_webhook_url, or
public_base_url + path), never a URL rebuilt from the request's Host header: behind a proxy or
a Messaging Service pool that rebuilt URL differs from the one Twilio signed (Chatwoot reverted
its check for exactly this). A forged or unsigned request gets 403 and nothing is stored.

Every inbound message is keyed by its MessageSid; the unique (channel, provider_message_id)
constraint makes Twilio's retries harmless even when two copies race.

Opt-out keywords (STOP, UNSUBSCRIBE, ...) are handled here, before the engine: the message is
stored, the contact is marked opted out and nothing is sent back (Twilio's own opt-out handling
confirms on the carrier side; texting after STOP is not allowed). START re-subscribes and HELP is
answered with the office's contact details, both through the outbox.

Rate limit: more than settings.public_rate_limit_per_minute messages a minute from one number
are still stored (a resident's words are never lost) but marked automatic, so the engine
records them without answering (intake.ratelimit.limit_message). We choose silence over a
"slow down" note because a flood is most often another machine's auto-responder, and answering
it feeds the loop.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request, Response
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MultiDict
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.request_validator import RequestValidator, get_signature_algorithm
from twilio.rest import Client

from intake.contacts import InvalidPhoneNumber, find_or_create_contact, normalise_phone
from intake.inbound import InboundAttachment, InboundHandler, InboundMessage
from intake.models import Contact, Message, Outbox, utcnow
from intake.outbox import SendError, SendResult, enqueue, record_delivery
from intake.policy import Policy
from intake.settings import Settings

log = logging.getLogger(__name__)

CHANNEL = "sms"
INBOUND_PATH = "/twilio/sms"
STATUS_PATH = "/twilio/sms/status"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
MAX_REQUEST_BYTES = 64 * 1024  # a Twilio SMS webhook is a few KB even with ten media items
MAX_MEDIA = 10  # Twilio sends at most 10 media items per MMS

# Twilio's standard keywords (Advanced Opt-Out), matched on the whole message.
OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP"})
OPT_IN_IF_OPTED_OUT = frozenset({"YES"})  # "yes" is an ordinary answer unless they had opted out
HELP_KEYWORDS = frozenset({"HELP", "INFO"})

HELP_REPLY = (
    "{landlord}: for help with a complaint call {phone} ({hours}) or email {email}. "
    "Reply STOP to stop texts from us."
)
START_REPLY = "{landlord}: you'll get texts from us again. Reply STOP to stop, or HELP for help."

# Twilio error codes that mean "this will never work for this number".
PERMANENT_ERRORS = {21211, 21212, 21214, 21408, 21610, 21612, 21614, 30003, 30005, 30006, 30007}
OPTED_OUT_ERROR = 21610


class WebhookError(HTTPException):
    """A 4xx for a webhook request, with the reason in plain words."""

    keep: InboundMessage | None = None  # what can still be kept of a malformed request


def now():
    """When a webhook arrived (Twilio sends no timestamp). A function so tests can move time."""
    return utcnow()


def configured_url(settings: Settings, path: str) -> str:
    """The public URL Twilio was told to call for `path` (what it signed)."""
    if path == INBOUND_PATH and settings.twilio_webhook_url:
        return settings.twilio_webhook_url
    return settings.public_base_url.rstrip("/") + path


def status_callback_url(settings: Settings) -> str:
    return configured_url(settings, STATUS_PATH)


def mask_phone(number: str) -> str:
    """Enough of a number to recognise it in a log, not enough to text it."""
    return number[:-6] + "******" if len(number) > 6 else "***"


def keyword_of(body: str) -> str | None:
    """The Twilio keyword a whole message amounts to ("Stop." -> "STOP"), or None."""
    word = re.sub(r"[^A-Za-z]", "", body).upper()
    if len(body.strip()) > 20 or not word:
        return None
    if word in OPT_OUT_KEYWORDS | OPT_IN_KEYWORDS | OPT_IN_IF_OPTED_OUT | HELP_KEYWORDS:
        return word
    return None


async def read_form(request: Request) -> tuple[bytes, MultiDict]:
    """The request's raw form fields, size-capped. 400/413 with a clear reason otherwise."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_REQUEST_BYTES:
        raise WebhookError(413, f"Request body is over {MAX_REQUEST_BYTES} bytes; a Twilio webhook never is.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_REQUEST_BYTES:
            raise WebhookError(
                413, f"Request body is over {MAX_REQUEST_BYTES} bytes; a Twilio webhook never is."
            )
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise WebhookError(400, "Expected a form-encoded body (application/x-www-form-urlencoded).")
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise WebhookError(400, "The body is not valid form data.") from None
    return body, MultiDict(pairs)


def check_signature(request: Request, settings: Settings, form: MultiDict, path: str) -> None:
    """403 unless X-Twilio-Signature matches the configured URL. Logs why it failed."""
    token = settings.twilio_auth_token.get_secret_value()
    url = configured_url(settings, path)
    if request.url.query:
        url = f"{url}{'&' if '?' in url else '?'}{request.url.query}"
    signature = request.headers.get("x-twilio-signature")
    if not token:
        log.error(
            "Twilio webhook %s refused: TWILIO_AUTH_TOKEN is not set, so no signature can be checked", path
        )
        raise WebhookError(403, "Signature cannot be checked.")
    if not signature:
        log.warning(
            "Twilio webhook %s refused: no X-Twilio-Signature header (from %s)", path, _client(request)
        )
        raise WebhookError(403, "Missing signature.")
    algorithm = get_signature_algorithm(request.headers.get("x-twilio-webhooks-signature-settings"))
    if not RequestValidator(token).validate(url, form, signature, algorithm):
        log.warning(
            "Twilio webhook %s refused: signature does not match the configured URL %s "
            "(request arrived as %s, MessagingServiceSid=%s). If Twilio calls a different public URL, "
            "set TWILIO_WEBHOOK_URL / PUBLIC_BASE_URL to it.",
            path,
            url,
            str(request.url),
            form.get("MessagingServiceSid") or "-",
        )
        raise WebhookError(403, "Invalid signature.")


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def inbound_from_form(form: MultiDict, settings: Settings) -> InboundMessage:
    """Map Twilio's form fields to the neutral message. 400 for what cannot be a message.

    A signed request that lacks MessageSid or Body is answered 400, but if it still says who
    wrote (From) and something they wrote or sent, that is kept: recorded as automatic (never
    answered), keyed by a hash of the request so a repeat is still one message.
    """
    sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()
    sender = (form.get("From") or "").strip()
    missing = [name for name, value in (("MessageSid", sid), ("From", sender)) if not value]
    if "Body" not in form:
        missing.append("Body")
    if sid and not re.fullmatch(r"[A-Za-z]{2}[0-9a-fA-F]{32}", sid):
        raise WebhookError(400, "MessageSid is not a Twilio message id.")
    try:
        sender = normalise_phone(sender) if sender else ""
    except InvalidPhoneNumber:
        raise WebhookError(400, "From is not a phone number.") from None
    if missing:
        error = WebhookError(400, f"Missing required field(s): {', '.join(missing)}.")
        if sender and (form.get("Body") or form.get("MediaUrl0")):
            digest = hashlib.sha256(repr(sorted(form.multi_items())).encode()).hexdigest()[:32]
            kept = _message_from(form, settings, sid or f"XX{digest}", sender)
            error.keep = replace(kept, automatic=True, meta={**kept.meta, "malformed": missing})
        raise error
    return _message_from(form, settings, sid, sender)


def _message_from(form: MultiDict, settings: Settings, sid: str, sender: str) -> InboundMessage:
    body = form.get("Body") or ""
    meta: dict[str, Any] = {
        key: form.get(key)
        for key in ("AccountSid", "MessagingServiceSid", "NumSegments", "FromCountry", "FromCity")
        if form.get(key)
    }
    if len(body) > settings.max_message_chars:
        # Twilio caps a message at 1600 characters, so this is not Twilio; keep what we can.
        meta["truncated_from_chars"] = len(body)
        body = body[: settings.max_message_chars]
    attachments = []
    try:
        num_media = int(form.get("NumMedia") or 0)
    except ValueError:
        raise WebhookError(400, "NumMedia is not a number.") from None
    for index in range(min(max(num_media, 0), MAX_MEDIA)):
        url = form.get(f"MediaUrl{index}")
        if not url:
            continue
        content_type = (form.get(f"MediaContentType{index}") or "application/octet-stream")[:120]
        extension = content_type.split("/")[-1].split(";")[0][:10] or "bin"
        attachments.append(
            InboundAttachment(
                filename=f"media-{index + 1}.{extension}", content_type=content_type, size=0, url=url[:1000]
            )
        )
    return InboundMessage(
        channel=CHANNEL,
        received_at=now(),
        sender=sender,
        body=body,
        provider_message_id=sid,
        recipient=(form.get("To") or "").strip() or None,
        attachments=tuple(attachments),
        raw_body=body,
        meta=meta,
    )


def store_keyword_message(engine: Engine, message: InboundMessage, keyword: str, policy: Policy) -> bool:
    """Handle STOP/START/HELP without the engine. False if this MessageSid was seen before."""
    with Session(engine, expire_on_commit=False) as session:
        contact = find_or_create_contact(session, phone=message.sender)
        row = Message(
            contact_id=contact.id,
            direction="in",
            channel=CHANNEL,
            provider_message_id=message.provider_message_id,
            sender=message.sender,
            recipient=message.recipient,
            body=message.body,
            meta={**message.meta, "keyword": keyword},
            processed=True,
        )
        session.add(row)
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            return False
        if keyword in OPT_OUT_KEYWORDS:
            contact.sms_opted_out = True
            log.info("SMS opt-out (%s) from %s", keyword, mask_phone(message.sender))
        elif keyword in OPT_IN_KEYWORDS | OPT_IN_IF_OPTED_OUT:
            contact.sms_opted_out = False
            enqueue(
                session,
                channel=CHANNEL,
                to=message.sender,
                kind="sms_opt_in",
                body=START_REPLY.format(landlord=policy.landlord),
            )
            log.info("SMS opt-in (%s) from %s", keyword, mask_phone(message.sender))
        elif keyword in HELP_KEYWORDS and not contact.sms_opted_out:
            office = policy.office
            enqueue(
                session,
                channel=CHANNEL,
                to=message.sender,
                kind="sms_help",
                body=HELP_REPLY.format(
                    landlord=policy.landlord, phone=office.phone, hours=office.hours, email=office.email
                ),
            )
        session.add(contact)
        session.commit()
    return True


def is_opted_out(engine: Engine, phone: str) -> bool:
    with Session(engine) as session:
        return bool(
            session.exec(
                select(Contact.id).where(Contact.phone == phone, Contact.sms_opted_out.is_(True))
            ).first()
        )


def process_inbound(request: Request, handle: InboundHandler, message: InboundMessage) -> dict[str, Any]:
    """Everything after the signature check; runs in a worker thread (database work is blocking)."""
    app = request.app
    settings: Settings = app.state.settings
    engine: Engine = app.state.engine
    keyword = keyword_of(message.body) if not message.attachments else None
    if keyword in OPT_IN_IF_OPTED_OUT and not is_opted_out(engine, message.sender):
        keyword = None
    if keyword:
        created = store_keyword_message(engine, message, keyword, app.state.policy)
        return {"keyword": keyword, "duplicate": not created}
    # Counted where the message is stored, in the same transaction (see intake.ratelimit).
    message = replace(message, rate_limit=(f"sms:{message.sender}", settings.public_rate_limit_per_minute))
    if settings.sms_replies_from_worker and hasattr(handle, "accept"):
        result = handle.accept(message)  # stored; a worker answers it (the reply goes by the outbox anyway)
    else:
        result = handle(message)
    return {"duplicate": result.duplicate, "message_id": result.message_id}


def twilio_router(handle: InboundHandler) -> APIRouter:
    """POST /twilio/sms (inbound messages) and POST /twilio/sms/status (delivery reports)."""
    router = APIRouter(tags=["twilio"])

    @router.post(INBOUND_PATH, include_in_schema=False)
    async def inbound(request: Request) -> Response:
        settings: Settings = request.app.state.settings
        _raw, form = await read_form(request)
        check_signature(request, settings, form, INBOUND_PATH)
        try:
            message = inbound_from_form(form, settings)
        except WebhookError as error:
            if error.keep is not None:
                log.warning("malformed Twilio webhook (%s): the text is kept, not answered", error.detail)
                await run_in_threadpool(handle, error.keep)
            raise
        outcome = await run_in_threadpool(process_inbound, request, handle, message)
        if outcome.get("duplicate"):
            log.info("Twilio retry of %s ignored: already stored", message.provider_message_id)
        return Response(EMPTY_TWIML, media_type="application/xml")

    @router.post(STATUS_PATH, include_in_schema=False)
    async def status(request: Request) -> Response:
        settings: Settings = request.app.state.settings
        _raw, form = await read_form(request)
        check_signature(request, settings, form, STATUS_PATH)
        sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()
        status_value = (form.get("MessageStatus") or form.get("SmsStatus") or "").strip().lower()
        if not sid or not status_value:
            raise WebhookError(400, "Missing MessageSid or MessageStatus.")
        error_code = form.get("ErrorCode")
        await run_in_threadpool(
            apply_status, request.app.state.engine, sid, status_value, error_code, form.get("To")
        )
        return Response(status_code=204)

    return router


def apply_status(engine: Engine, sid: str, status_value: str, error_code: str | None, to: str | None) -> None:
    with Session(engine) as session:
        known = record_delivery(session, CHANNEL, sid, status_value[:30])
        if not known:
            log.info("status %s for unknown message %s ignored", status_value, sid)
        if error_code == str(OPTED_OUT_ERROR) and to:
            _mark_opted_out(session, to)
        session.commit()


def _mark_opted_out(session: Session, phone: str) -> None:
    try:
        phone = normalise_phone(phone)
    except InvalidPhoneNumber:
        return
    for contact in session.exec(select(Contact).where(Contact.phone == phone)).all():
        contact.sms_opted_out = True
        session.add(contact)


# --- sending ---------------------------------------------------------------------------------


def make_client(settings: Settings) -> Client:
    """A twilio.rest.Client; settings.twilio_api_base_url points it at another host (tests, proxies).

    The client's `api` domain carries its base URL as a plain attribute (twilio.base.domain.Domain),
    so overriding it keeps the library's own request building, auth and error handling.
    """
    client = Client(settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value())
    if settings.twilio_api_base_url:
        client.api.base_url = settings.twilio_api_base_url.rstrip("/")
    return client


class TwilioSender:
    """The outbox sender for channel "sms". Never texts an opted-out number."""

    def __init__(self, settings: Settings, engine: Engine, client: Client | None = None) -> None:
        if not settings.twilio_credentials_set:
            raise ValueError("Twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
        if not settings.twilio_from_number and not settings.twilio_messaging_service_sid:
            raise ValueError("Twilio needs TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID")
        self.settings = settings
        self.engine = engine
        self.client = client or make_client(settings)

    def __call__(self, row: Outbox) -> SendResult:
        try:
            to = normalise_phone(row.to_address)
        except InvalidPhoneNumber:
            raise SendError(f"{row.to_address!r} is not a phone number", permanent=True) from None
        if is_opted_out(self.engine, to):
            raise SendError("the resident has opted out of texts (STOP)", permanent=True)
        kwargs: dict[str, Any] = {
            "to": to,
            "body": row.body,
            "status_callback": status_callback_url(self.settings),
        }
        if self.settings.twilio_messaging_service_sid:
            kwargs["messaging_service_sid"] = self.settings.twilio_messaging_service_sid
        else:
            kwargs["from_"] = self.settings.twilio_from_number
        try:
            message = self.client.messages.create(**kwargs)
        except TwilioRestException as exc:
            if exc.code == OPTED_OUT_ERROR:
                with Session(self.engine) as session:
                    _mark_opted_out(session, to)
                    session.commit()
            permanent = exc.code in PERMANENT_ERRORS or (400 <= (exc.status or 0) < 500 and exc.status != 429)
            raise SendError(
                f"Twilio refused the message ({exc.status}, code {exc.code}): {exc.msg}", permanent
            ) from None
        except TwilioException as exc:
            raise SendError(f"Twilio could not be reached: {exc}") from None
        return SendResult(provider_message_id=message.sid, status="sent")


def build_sms_sender(settings: Settings, engine: Engine) -> Callable[[Outbox], SendResult] | None:
    """The sender, or None when Twilio is not configured (SMS then waits in the outbox)."""
    try:
        return TwilioSender(settings, engine)
    except ValueError as exc:
        log.info("SMS sending is off: %s", exc)
        return None


__all__ = [
    "INBOUND_PATH",
    "STATUS_PATH",
    "TwilioSender",
    "build_sms_sender",
    "make_client",
    "twilio_router",
]

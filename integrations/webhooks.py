"""Outbound webhooks: posts the case events intake/events.py queued, signed so the receiver
knows they are ours and unaltered.

Headers on every delivery:
    X-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with WEBHOOK_SECRET>
    X-Timestamp: <unix seconds of this delivery attempt>
    X-Event: case.created | case.updated
    X-Event-Id: <the body's "id">: the same on every retry, so receivers can drop duplicates
Retries with back-off are the outbox's: a 5xx, a timeout or a refused connection is tried again;
a 4xx (other than 408/429) is parked for staff to look at.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time

import httpx

from intake.models import Outbox
from intake.outbox import SendError, SendResult
from intake.settings import Settings

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Signature"
TIMESTAMP_HEADER = "X-Timestamp"


def sign(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, signature: str) -> bool:
    """What a receiver does (and what our tests do)."""
    return hmac.compare_digest(sign(secret, body), signature or "")


class WebhookSender:
    def __init__(self, settings: Settings, client: httpx.Client | None = None, timeout: float = 10.0) -> None:
        secret = settings.webhook_secret.get_secret_value()
        if not secret:
            raise ValueError("webhooks need WEBHOOK_SECRET to sign events")
        self.secret = secret.encode()
        self.client = client or httpx.Client(timeout=timeout, follow_redirects=False)

    def __call__(self, row: Outbox) -> SendResult:
        body = row.body.encode()
        try:
            event_id = json.loads(row.body).get("id", "")
        except ValueError:
            event_id = ""
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "complaint-triage-webhooks/1",
            SIGNATURE_HEADER: sign(self.secret, body),
            TIMESTAMP_HEADER: str(int(time.time())),
            "X-Event": row.kind,
            "X-Event-Id": str(event_id),
        }
        try:
            response = self.client.post(row.to_address, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise SendError(
                f"could not deliver {row.kind} to {row.to_address}: {type(exc).__name__}: {exc}"
            ) from None
        if response.is_success:
            return SendResult(provider_message_id=str(event_id) or None, status="delivered")
        permanent = 400 <= response.status_code < 500 and response.status_code not in (408, 425, 429)
        raise SendError(
            f"{row.to_address} answered {response.status_code} to {row.kind}", permanent=permanent
        )


def build_webhook_sender(settings: Settings) -> WebhookSender | None:
    if not settings.webhook_urls.strip():
        return None
    try:
        return WebhookSender(settings)
    except ValueError as exc:
        log.warning("webhooks are configured but off: %s", exc)
        return None

"""MMS media: a MediaUrl from Twilio's webhook points at Twilio's API; it needs the account's
credentials and Twilio may delete the media, so the worker downloads each one into its
attachment row (never in the webhook, never inside a message's transaction)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from intake.models import Attachment, Message, utcnow
from intake.settings import Settings
from integrations.twilio_sms import CHANNEL

log = logging.getLogger(__name__)

# Only Twilio's own hosts are fetched (the URL came in a request, so it is never trusted as given);
# Twilio answers with a redirect to its media store, which is followed without the credentials.

TWILIO_MEDIA_HOSTS = frozenset({"api.twilio.com", "media.twiliocdn.com"})
MAX_FETCH_ATTEMPTS = 5
FETCH_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
FETCH_LEASE = timedelta(minutes=5)  # how long a download holds its row before another worker may try
MAX_REDIRECTS = 3


class MediaRefused(Exception):
    """A media URL we will not fetch (not one of Twilio's hosts)."""


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port)


def media_url_allowed(url: str, settings: Settings) -> bool:
    """True for https on Twilio's media hosts, or the configured settings.twilio_api_base_url origin."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return False
    if settings.twilio_api_base_url:
        configured = httpx.URL(settings.twilio_api_base_url)
        if _origin(parsed) == _origin(configured):
            return True
    return parsed.scheme == "https" and parsed.port in (None, 443) and parsed.host in TWILIO_MEDIA_HOSTS


def _media_client(settings: Settings) -> httpx.Client:
    return httpx.Client(timeout=FETCH_TIMEOUT, follow_redirects=False)


def _due_media(session: Session, now_utc: datetime, limit: int) -> list[Attachment]:
    waiting = or_(Attachment.next_fetch_at.is_(None), Attachment.next_fetch_at <= now_utc)
    return list(
        session.exec(
            select(Attachment)
            .join(Message, Message.id == Attachment.message_id)
            .where(
                Message.channel == CHANNEL,
                Attachment.url.is_not(None),
                Attachment.data.is_(None),
                Attachment.truncated.is_(False),
                Attachment.fetched_at.is_(None),
                Attachment.fetch_attempts < MAX_FETCH_ATTEMPTS,
                waiting,
            )
            .order_by(Attachment.id)
            .limit(limit)
        ).all()
    )


def _claim(engine: Engine, attachment: Attachment, now_utc: datetime) -> bool:
    """Count the attempt and take a lease, compare-and-set, so two workers never fetch one row and
    a crash mid-download still counts against MAX_FETCH_ATTEMPTS."""
    with Session(engine) as session:
        claimed = session.execute(
            update(Attachment)
            .where(
                Attachment.id == attachment.id,
                Attachment.fetch_attempts == attachment.fetch_attempts,
                Attachment.data.is_(None),
                Attachment.fetched_at.is_(None),
            )
            .values(fetch_attempts=attachment.fetch_attempts + 1, next_fetch_at=now_utc + FETCH_LEASE)
        ).rowcount
        session.commit()
    return claimed == 1


def _download(
    client: httpx.Client, url: str, settings: Settings, cap: int, fallback_type: str
) -> tuple[bytes | None, int, str]:
    """(bytes, or None when over the cap; size; content type). Raises httpx errors and MediaRefused.

    Redirects are followed here, not by httpx, so each hop is checked before it is requested: the
    credentials go only to the Twilio URL itself, and Twilio's redirect (to its media store) must
    be https, or the configured API origin."""
    auth: tuple[str, str] | None = (
        settings.twilio_account_sid,
        settings.twilio_auth_token.get_secret_value(),
    )
    for _hop in range(MAX_REDIRECTS + 1):
        with client.stream("GET", url, auth=auth, follow_redirects=False) as response:
            if response.is_redirect and "location" in response.headers:
                target = response.url.join(response.headers["location"])
                if target.scheme != "https" and not media_url_allowed(str(target), settings):
                    raise MediaRefused(f"redirected to {target.scheme}://{target.host}")
                if _origin(target) != _origin(response.url):
                    auth = None
                url = str(target)
                continue
            response.raise_for_status()
            content_type = (response.headers.get("content-type") or fallback_type).strip()[:120]
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > cap:
                return None, int(declared), content_type
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > cap:
                    return None, size, content_type
                chunks.append(chunk)
            return b"".join(chunks), size, content_type
    raise MediaRefused("too many redirects")


def _record(engine: Engine, attachment_id: int, **values: Any) -> None:
    with Session(engine) as session:
        session.execute(update(Attachment).where(Attachment.id == attachment_id).values(**values))
        session.commit()


def _retry_after(attempts: int) -> timedelta:
    return timedelta(seconds=30 * 4 ** max(attempts - 1, 0))  # 30 s, 2 min, 8 min, 32 min


def fetch_media(
    engine: Engine, settings: Settings, client: httpx.Client | None = None, limit: int = 20
) -> int:
    """Download MMS media that Twilio still holds into their attachment rows. Returns how many
    were stored (or found too large to keep).

    Runs in the worker, outside any request or message transaction. Each row is tried at most
    MAX_FETCH_ATTEMPTS times with back-off; after that (or at once for a URL that is not
    Twilio's, or media Twilio no longer has) it keeps its URL and the reason, and is left alone.
    Over settings.max_attachment_bytes the metadata is kept and the row marked truncated."""
    if not settings.twilio_credentials_set:
        return 0
    with Session(engine) as session:
        due = _due_media(session, utcnow(), limit)
    if not due:
        return 0
    own_client = client is None
    client = client or _media_client(settings)
    done = 0
    try:
        for attachment in due:
            if attachment.id is None or attachment.url is None:  # the query selects only rows with a URL
                continue
            if not media_url_allowed(attachment.url, settings):
                log.warning("attachment %s: media URL is not on Twilio's hosts; not fetched", attachment.id)
                _record(
                    engine,
                    attachment.id,
                    fetch_attempts=MAX_FETCH_ATTEMPTS,
                    next_fetch_at=None,
                    fetch_error="Not a Twilio address, so not downloaded.",
                )
                continue
            if not _claim(engine, attachment, utcnow()):
                continue  # another worker has it
            attempts = attachment.fetch_attempts + 1
            try:
                data, size, content_type = _download(
                    client, attachment.url, settings, settings.max_attachment_bytes, attachment.content_type
                )
            except (httpx.HTTPError, MediaRefused) as exc:
                gone = isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code in (404, 410)
                if isinstance(exc, httpx.HTTPStatusError):
                    reason = f"Twilio answered {exc.response.status_code}."
                elif isinstance(exc, MediaRefused):
                    reason = f"Not downloaded: Twilio {exc}, which is not a safe address."
                else:
                    reason = f"Could not download: {type(exc).__name__}."
                # A refused address will be refused again: no point retrying it.
                final = gone or isinstance(exc, MediaRefused) or attempts >= MAX_FETCH_ATTEMPTS
                log.warning(
                    "attachment %s: download attempt %s failed (%s)%s",
                    attachment.id,
                    attempts,
                    reason,
                    "; giving up" if final else "",
                )
                _record(
                    engine,
                    attachment.id,
                    fetch_attempts=MAX_FETCH_ATTEMPTS if final else attempts,
                    next_fetch_at=None if final else utcnow() + _retry_after(attempts),
                    fetch_error=reason[:200],
                )
                continue
            _record(
                engine,
                attachment.id,
                data=data,
                size=size,
                content_type=content_type,
                truncated=data is None,
                fetched_at=utcnow(),
                next_fetch_at=None,
                fetch_error=None,
            )
            done += 1
    finally:
        if own_client:
            client.close()
    return done


def fetch_media_forever(
    engine: Engine, settings: Settings, should_stop: Callable[[], bool] = lambda: False, every: float = 5.0
) -> None:
    """The worker's media loop (`triage run`, `triage worker`): fetch_media every few seconds."""
    while not should_stop():
        try:
            fetch_media(engine, settings)
        except Exception:  # the database may be away for a moment; try again next round
            log.exception("downloading MMS media failed")
        deadline = time.monotonic() + every
        while not should_stop() and time.monotonic() < deadline:
            time.sleep(min(0.5, every))


__all__ = ["MAX_FETCH_ATTEMPTS", "fetch_media", "fetch_media_forever", "media_url_allowed"]

"""A resident's whole complaint by text, through the real app (create_app), the real engine and
database, signed Twilio webhooks in, the outbox and a local Twilio-speaking server out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import Session, select
from test_engine_support import fake_classify
from twilio.request_validator import RequestValidator

from intake.models import Attachment, Case, Contact, Message, Outbox
from intake.outbox import DELIVERED, Dispatcher
from integrations import twilio_media, twilio_sms
from tests.fake_twilio import FakeTwilio

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "e2e-twilio-token"
PUBLIC = "https://complaints.example-housing.org.uk"
RESIDENT = "+447700900123"


class Phone:
    """The resident's phone, texting through Twilio to our webhook."""

    def __init__(self, client: TestClient, monkeypatch, number: str = RESIDENT, worker: bool = True):
        self.client = client
        self.worker = worker  # run the conversation worker's next step after each text
        self.number = number
        self.count = 0
        self.clock = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
        monkeypatch.setattr(twilio_sms, "now", lambda: self.clock)

    def text(
        self,
        body: str,
        *,
        sid: str | None = None,
        media: list[tuple[str, str]] = (),
        gap=timedelta(minutes=1),
    ):
        self.count += 1
        self.clock += gap
        sid = sid or f"SM{self.count:032x}"
        form = {
            "MessageSid": sid,
            "SmsSid": sid,
            "AccountSid": ACCOUNT_SID,
            "From": self.number,
            "To": "+447700900000",
            "Body": body,
            "NumMedia": str(len(media)),
        }
        for n, (url, content_type) in enumerate(media):
            form[f"MediaUrl{n}"], form[f"MediaContentType{n}"] = url, content_type
        signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + twilio_sms.INBOUND_PATH, form)
        response = self.client.post(
            twilio_sms.INBOUND_PATH, data=form, headers={"X-Twilio-Signature": signature}
        )
        assert response.status_code == 200, response.text
        app = self.client.app
        if self.worker and app.state.settings.sms_replies_from_worker:
            # What `triage worker` (or the worker thread of `triage run`) does next.
            app.state.inbound_handler.process_pending(deferred_channels=("sms",))
        return form


@pytest.fixture
def fake_twilio():
    fake = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN).start()
    yield fake
    fake.stop()


@pytest.fixture
def twilio_settings(settings, fake_twilio):
    return settings.model_copy(
        update={
            "public_base_url": PUBLIC,
            "twilio_account_sid": ACCOUNT_SID,
            "twilio_auth_token": SecretStr(AUTH_TOKEN),
            "twilio_from_number": "+447700900000",
            "twilio_api_base_url": fake_twilio.base_url,
        }
    )


@pytest.fixture(params=[True, False], ids=["answered-by-worker", "answered-in-request"])
def sms_settings(request, twilio_settings):
    """Both ways of answering a text: stored by the webhook and answered by the conversation
    worker (the default), or answered inside the webhook request."""
    return twilio_settings.model_copy(update={"sms_replies_from_worker": request.param})


@pytest.fixture
def client(sms_settings, engine):
    from bot.app import create_app

    with TestClient(create_app(sms_settings, engine=engine, classify=fake_classify)) as client:
        yield client


def outbox(engine, to=RESIDENT):
    with Session(engine) as session:
        rows = session.exec(select(Outbox).where(Outbox.to_address == to).order_by(Outbox.id)).all()
    return [r for r in rows if r.status != "cancelled"]


def counts(engine):
    with Session(engine) as session:
        return {model.__name__: len(session.exec(select(model)).all()) for model in (Message, Case, Outbox)}


def test_a_full_complaint_by_text_ends_with_a_case_and_an_acknowledgement_sent_through_twilio(
    client, engine, monkeypatch, sms_settings, fake_twilio
):
    phone = Phone(client, monkeypatch)
    phone.text(
        "I'm writing on behalf of my mum. Her heating is still not fixed and nobody came to the appointment."
    )
    assert "When did this happen" in outbox(engine)[-1].body
    phone.text("Three weeks ago")
    phone.text("Fix the heating and say sorry")
    phone.text("She is deaf, so text only please")
    phone.text("I'm John Smith, her son. She's happy for me to help.")
    last = phone.text("Text me in the evenings")
    with Session(engine) as session:
        [case] = session.exec(select(Case)).all()
        assert case.category == "complaint" and case.channel == "sms" and case.stage == 1
        assert session.exec(select(Contact).where(Contact.phone == RESIDENT)).one().id == case.contact_id
    acknowledgement = outbox(engine)[-1]
    assert acknowledgement.kind == "acknowledgement" and case.reference in acknowledgement.body

    # Twilio retries the last webhook (it timed out on their side): nothing new happens.
    before = counts(engine)
    response = client.post(
        twilio_sms.INBOUND_PATH,
        data=last,
        headers={
            "X-Twilio-Signature": RequestValidator(AUTH_TOKEN).compute_signature(
                PUBLIC + twilio_sms.INBOUND_PATH, last
            )
        },
    )
    assert response.status_code == 200
    assert counts(engine) == before

    # The dispatcher sends every reply through the twilio client to our fake Twilio, once each.
    from bot.senders import build_senders

    senders = build_senders(sms_settings, engine)
    dispatcher = Dispatcher(
        engine, {"sms": senders["sms"]}, clock=lambda: datetime.now(UTC) + timedelta(minutes=5)
    )
    while dispatcher.run_once():
        pass
    sent = [r.form["Body"] for r in fake_twilio.messages]
    assert sent == [row.body for row in outbox(engine)]
    assert all(
        r.form["To"] == RESIDENT and r.form["StatusCallback"] == PUBLIC + twilio_sms.STATUS_PATH
        for r in fake_twilio.messages
    )

    # Twilio reports the acknowledgement delivered, on the signed status callback.
    acknowledgement = outbox(engine)[-1]
    form = {
        "MessageSid": acknowledgement.provider_message_id,
        "MessageStatus": "delivered",
        "AccountSid": ACCOUNT_SID,
    }
    signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + twilio_sms.STATUS_PATH, form)
    assert (
        client.post(twilio_sms.STATUS_PATH, data=form, headers={"X-Twilio-Signature": signature}).status_code
        == 204
    )
    assert outbox(engine)[-1].status == DELIVERED


def test_stop_mid_conversation_means_no_more_texts_and_start_resumes(
    client, engine, monkeypatch, sms_settings, fake_twilio
):
    phone = Phone(client, monkeypatch)
    phone.text(
        "Your contractor was rude to me last Tuesday and left a mess. I want an apology and the mess cleaned up."
    )
    phone.text("STOP")
    with Session(engine) as session:
        assert session.exec(select(Contact).where(Contact.phone == RESIDENT)).one().sms_opted_out
    replies_before = len(outbox(engine))
    phone.text("no thanks")  # still recorded, never answered by text
    assert len(outbox(engine)) == replies_before
    from bot.senders import build_senders

    dispatcher = Dispatcher(
        engine,
        {"sms": build_senders(sms_settings, engine)["sms"]},
        clock=lambda: datetime.now(UTC) + timedelta(minutes=5),
    )
    while dispatcher.run_once():
        pass
    assert fake_twilio.messages == []  # the replies queued before STOP are not sent either
    phone.text("START")
    assert outbox(engine)[-1].kind == "sms_opt_in"


def test_an_mms_photo_is_recorded_on_the_case(client, engine, monkeypatch):
    phone = Phone(client, monkeypatch)
    media = [("https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM1/Media/ME1", "image/jpeg")]
    phone.text(
        "Your contractor was rude to me last Tuesday and left a mess. I want an apology and the mess cleaned up.",
        media=media,
    )
    with Session(engine) as session:
        [attachment] = session.exec(select(Attachment)).all()
        message = session.get(Message, attachment.message_id)
        assert attachment.url == media[0][0] and attachment.content_type == "image/jpeg"
        assert message.sender == RESIDENT


def test_a_forged_webhook_through_the_real_app_stores_nothing(client, engine):
    form = {"MessageSid": "SM" + "f" * 32, "From": RESIDENT, "To": "+447700900000", "Body": "I smell gas"}
    response = client.post(twilio_sms.INBOUND_PATH, data=form, headers={"X-Twilio-Signature": "Zm9yZ2Vk"})
    assert response.status_code == 403
    assert counts(engine) == {"Message": 0, "Case": 0, "Outbox": 0}


def test_over_the_per_number_limit_words_are_kept_on_the_conversation_but_not_answered(
    sms_settings, engine, monkeypatch
):
    import intake.ratelimit
    from bot.app import create_app

    monkeypatch.setattr(
        intake.ratelimit, "utcnow", lambda: datetime(2026, 11, 26, 9, 0, 30, tzinfo=UTC)
    )  # one window
    settings = sms_settings.model_copy(update={"public_rate_limit_per_minute": 2})
    with TestClient(create_app(settings, engine=engine, classify=fake_classify)) as client:
        phone = Phone(client, monkeypatch)
        phone.text(
            "Your contractor was rude to me last Tuesday and left a mess. I want an apology and the mess cleaned up."
        )
        answered = len(outbox(engine))
        phone.text("no thanks", gap=timedelta(seconds=10))
        assert len(outbox(engine)) > answered
        answered = len(outbox(engine))
        phone.text("hello?? anyone", gap=timedelta(seconds=10))  # third in a minute: over the limit
    assert len(outbox(engine)) == answered
    with Session(engine) as session:
        last = session.exec(
            select(Message).where(Message.direction == "in").order_by(Message.id.desc())
        ).first()
        assert last.body == "hello?? anyone" and last.meta["rate_limited"] is True and last.processed
        assert last.conversation_id is not None


def test_with_replies_from_the_worker_the_webhook_only_stores_and_the_worker_answers(
    twilio_settings, engine, monkeypatch
):
    from datetime import timedelta as td

    from bot.app import create_app

    deferred = twilio_settings.model_copy(update={"sms_replies_from_worker": True})
    app = create_app(deferred, engine=engine, classify=fake_classify)
    with TestClient(app) as client:
        phone = Phone(client, monkeypatch, worker=False)
        phone.text("The repair is still not fixed and nobody came")
        phone.text("The repair is still not fixed and nobody came", sid="SM" + "1".rjust(32, "0"))  # a retry
        assert counts(engine) == {"Message": 1, "Case": 0, "Outbox": 0}  # stored, not yet answered
        handler = app.state.inbound_handler
        # A web or email message being handled by its own request is left alone for the grace period.
        assert handler.process_pending(older_than=td(seconds=10), deferred_channels=()) == 0
        assert handler.process_pending(older_than=td(seconds=10), deferred_channels=("sms",)) == 1
        assert handler.process_pending(older_than=td(seconds=10), deferred_channels=("sms",)) == 0
    replies = outbox(engine)
    assert len(replies) == 1 and "complaint" in replies[0].body


# --- MMS media: downloaded by the worker, not in the webhook ----------------------------------

JPEG = b"\xff\xd8\xff\xe0" + b"mould on the bathroom ceiling" * 20


@pytest.fixture
def worker_client(twilio_settings, engine):
    from bot.app import create_app

    with TestClient(create_app(twilio_settings, engine=engine, classify=fake_classify)) as client:
        yield client


def attachment_row(engine) -> Attachment:
    with Session(engine) as session:
        [attachment] = session.exec(select(Attachment)).all()
        return attachment


def text_photo(client, monkeypatch, url: str, content_type: str = "image/jpeg"):
    Phone(client, monkeypatch).text(
        "There is black mould all over the bathroom ceiling, here is a photo", media=[(url, content_type)]
    )


def test_the_worker_downloads_an_mms_photo_from_twilio_with_the_accounts_credentials(
    worker_client, engine, monkeypatch, twilio_settings, fake_twilio
):
    url = fake_twilio.add_media(JPEG, "image/jpeg")
    text_photo(worker_client, monkeypatch, url)
    assert fake_twilio.media_requests == []  # the webhook and the reply never fetch media
    assert attachment_row(engine).data is None

    assert twilio_media.fetch_media(engine, twilio_settings) == 1
    attachment = attachment_row(engine)
    assert attachment.data == JPEG and attachment.size == len(JPEG)
    assert attachment.content_type == "image/jpeg" and not attachment.truncated
    assert attachment.fetched_at is not None and attachment.fetch_attempts == 1
    assert attachment.url == url  # kept: where it came from
    first, redirected = fake_twilio.media_requests
    assert first.auth == (ACCOUNT_SID, AUTH_TOKEN) and redirected.path.startswith("/media-store/")
    assert twilio_media.fetch_media(engine, twilio_settings) == 0  # nothing left to do
    assert len(fake_twilio.media_requests) == 2


@pytest.mark.parametrize(
    "url",
    [
        "{other}/2010-04-01/Accounts/AC0/Messages/MM1/Media/ME1",  # a server that is not Twilio
        "http://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM1/Media/ME1",  # not https
        "https://api.twilio.com.evil.example/2010-04-01/Media/ME1",
        "https://169.254.169.254/latest/meta-data/",
        "file:///etc/passwd",
    ],
)
def test_a_media_url_that_is_not_twilios_is_never_fetched(
    worker_client, engine, monkeypatch, twilio_settings, fake_twilio, url
):
    other = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN).start()  # stands for an internal service
    try:
        text_photo(worker_client, monkeypatch, url.format(other=other.base_url))
        assert twilio_media.fetch_media(engine, twilio_settings) == 0
        assert other.requests == [] and fake_twilio.media_requests == []
    finally:
        other.stop()
    attachment = attachment_row(engine)
    assert attachment.data is None and attachment.url == url.format(other=other.base_url)
    assert attachment.fetch_attempts == twilio_media.MAX_FETCH_ATTEMPTS and "Not a Twilio address" in (
        attachment.fetch_error or ""
    )
    assert twilio_media.fetch_media(engine, twilio_settings) == 0  # given up: not tried again


def test_a_redirect_away_from_twilio_to_a_plain_http_service_is_not_followed(
    worker_client, engine, monkeypatch, twilio_settings, fake_twilio
):
    other = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN).start()  # stands for an internal service
    try:
        fake_twilio.media_redirect_to = other.base_url
        text_photo(worker_client, monkeypatch, fake_twilio.add_media(JPEG, "image/jpeg"))
        assert twilio_media.fetch_media(engine, twilio_settings) == 0
        assert other.requests == []  # the credentials, or anything else, never reach it
    finally:
        other.stop()
    attachment = attachment_row(engine)
    assert attachment.data is None and "redirected to http://" in (attachment.fetch_error or "")
    assert attachment.fetch_attempts == twilio_media.MAX_FETCH_ATTEMPTS  # refused for good, not retried


def test_the_accounts_credentials_go_to_twilio_only_not_to_the_host_it_redirects_to(twilio_settings):
    seen: list[tuple[str, str | None]] = []

    def twilio_and_its_media_store(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.host, request.headers.get("authorization")))
        if request.url.host == "api.twilio.com":
            return httpx.Response(307, headers={"Location": "https://media-store.example.net/ME1?sig=x"})
        return httpx.Response(200, content=JPEG, headers={"Content-Type": "image/jpeg"})

    client = httpx.Client(transport=httpx.MockTransport(twilio_and_its_media_store))
    url = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM1/Media/ME1"
    data, size, content_type = twilio_media._download(client, url, twilio_settings, 10_000, "image/jpeg")
    assert data == JPEG and size == len(JPEG) and content_type == "image/jpeg"
    (first_host, first_auth), (second_host, second_auth) = seen
    assert first_host == "api.twilio.com" and first_auth and first_auth.startswith("Basic ")
    assert second_host == "media-store.example.net" and second_auth is None


def test_media_over_the_size_cap_keeps_its_details_and_is_marked_too_large(
    worker_client, engine, monkeypatch, twilio_settings, fake_twilio
):
    url = fake_twilio.add_media(b"x" * 5000, "video/mp4")
    text_photo(worker_client, monkeypatch, url, "video/mp4")
    capped = twilio_settings.model_copy(update={"max_attachment_bytes": 1000})
    assert twilio_media.fetch_media(engine, capped) == 1
    attachment = attachment_row(engine)
    assert attachment.truncated and attachment.data is None and attachment.size == 5000
    assert attachment.content_type == "video/mp4" and attachment.fetched_at is not None
    assert twilio_media.fetch_media(engine, capped) == 0


def test_a_failing_download_is_retried_with_back_off_then_given_up_keeping_the_url(
    worker_client, engine, monkeypatch, twilio_settings, fake_twilio
):
    url = fake_twilio.add_media(JPEG, "image/jpeg")
    fake_twilio.media_fail[url.rsplit("/", 1)[1]] = 500
    text_photo(worker_client, monkeypatch, url)
    clock = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    monkeypatch.setattr(twilio_media, "utcnow", lambda: clock)
    assert twilio_media.fetch_media(engine, twilio_settings) == 0
    assert len(fake_twilio.media_requests) == 1
    assert twilio_media.fetch_media(engine, twilio_settings) == 0  # backing off: not tried again yet
    assert len(fake_twilio.media_requests) == 1
    attachment = attachment_row(engine)
    assert attachment.fetch_attempts == 1 and attachment.fetch_error == "Twilio answered 500."
    for _ in range(10):
        clock += timedelta(hours=2)
        twilio_media.fetch_media(engine, twilio_settings)
    assert len(fake_twilio.media_requests) == twilio_media.MAX_FETCH_ATTEMPTS
    attachment = attachment_row(engine)
    assert attachment.fetch_attempts == twilio_media.MAX_FETCH_ATTEMPTS
    assert attachment.data is None and attachment.url == url and attachment.fetched_at is None


def test_media_twilio_no_longer_has_is_given_up_at_once(
    worker_client, engine, monkeypatch, twilio_settings, fake_twilio
):
    url = fake_twilio.add_media(JPEG, "image/jpeg")
    del fake_twilio.media[url.rsplit("/", 1)[1]]  # deleted on Twilio's side
    text_photo(worker_client, monkeypatch, url)
    assert twilio_media.fetch_media(engine, twilio_settings) == 0
    attachment = attachment_row(engine)
    assert attachment.fetch_attempts == twilio_media.MAX_FETCH_ATTEMPTS and attachment.url == url
    assert attachment.fetch_error == "Twilio answered 404."


def test_the_worker_loop_fetches_media_until_told_to_stop(
    worker_client, engine, monkeypatch, twilio_settings, fake_twilio
):
    url = fake_twilio.add_media(JPEG, "image/png")
    text_photo(worker_client, monkeypatch, url)
    rounds = iter([False, True])
    twilio_media.fetch_media_forever(
        engine, twilio_settings, should_stop=lambda: next(rounds, True), every=0.01
    )
    attachment = attachment_row(engine)
    assert attachment.data == JPEG and attachment.content_type == "image/png"

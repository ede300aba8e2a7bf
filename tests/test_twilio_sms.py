"""SMS through Twilio: recorded webhook payloads replayed, signed with Twilio's own validator."""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import Session, select
from twilio.request_validator import RequestValidator

from intake.models import Attachment, Contact, Message, Outbox
from intake.outbox import DELIVERED, FAILED, PARKED, SENT, Dispatcher, enqueue
from integrations.twilio_sms import INBOUND_PATH, STATUS_PATH, TwilioSender, twilio_router
from tests.fake_twilio import FakeTwilio
from tests.recording_handler import RecordingHandler

FIXTURES = Path(__file__).parent / "fixtures" / "sms"
ACCOUNT_SID = "AC00000000000000000000000000000000"
AUTH_TOKEN = "test-twilio-auth-token-0123456789"
PUBLIC = "https://complaints.example-housing.org.uk"


def fixture(name: str, **changes: str) -> dict[str, str]:
    payload = json.loads((FIXTURES / name).read_text())
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not None}


def sign(url: str, form: dict[str, str], token: str = AUTH_TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, form)


@pytest.fixture
def sms_settings(settings):
    return settings.model_copy(
        update={
            "public_base_url": PUBLIC,
            "twilio_account_sid": ACCOUNT_SID,
            "twilio_auth_token": SecretStr(AUTH_TOKEN),
            "twilio_from_number": "+447700900000",
        }
    )


@pytest.fixture
def handler(engine):
    return RecordingHandler(engine)


def make_app(settings, engine, policy, handle) -> FastAPI:
    app = FastAPI()
    app.state.settings = settings
    app.state.engine = engine
    app.state.policy = policy
    app.include_router(twilio_router(handle))
    return app


@pytest.fixture
def sms_client(sms_settings, engine, policy, handler):
    # Twilio calls the public https URL; the test client arrives as http://testserver, like a
    # request that came through a TLS-terminating proxy.
    with TestClient(make_app(sms_settings, engine, policy, handler)) as client:
        yield client


def post(client, form, *, path=INBOUND_PATH, url=None, signature=None, headers=None):
    url = url or PUBLIC + path
    all_headers = {"X-Twilio-Signature": signature if signature is not None else sign(url, form)}
    all_headers.update(headers or {})
    if signature == "":
        del all_headers["X-Twilio-Signature"]
    return client.post(path, data=form, headers=all_headers)


def stored(engine, model=Message):
    with Session(engine) as session:
        return session.exec(select(model).order_by(model.id)).all()


# --- signatures ------------------------------------------------------------------------------


def test_a_signed_message_is_handed_on_as_a_neutral_inbound_message(sms_client, handler, engine):
    form = fixture("inbound_complaint.json")
    response = post(sms_client, form)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert "<Response></Response>" in response.text  # replies go through the outbox, not TwiML
    [message] = handler.calls
    assert message.channel == "sms"
    assert message.sender == "+447700900123"
    assert message.recipient == "+447700900000"
    assert message.provider_message_id == form["MessageSid"]
    assert message.body.startswith("Hi my boiler has been broken")
    assert not message.automatic
    assert [m.body for m in stored(engine)] == [form["Body"]]


def test_a_forged_signature_is_refused_and_nothing_is_stored(sms_client, handler, engine, caplog):
    form = fixture("inbound_complaint.json")
    with caplog.at_level(logging.WARNING):
        response = post(sms_client, form, signature=sign(PUBLIC + INBOUND_PATH, form, token="not-the-token"))
    assert response.status_code == 403
    assert handler.calls == [] and stored(engine) == []
    assert "signature does not match the configured URL" in caplog.text


def test_a_missing_signature_is_refused_and_nothing_is_stored(sms_client, handler, engine, caplog):
    with caplog.at_level(logging.WARNING):
        response = post(sms_client, fixture("inbound_complaint.json"), signature="")
    assert response.status_code == 403
    assert handler.calls == [] and stored(engine) == []
    assert "no X-Twilio-Signature" in caplog.text


def test_a_body_altered_after_signing_is_refused(sms_client, handler):
    form = fixture("inbound_complaint.json")
    signature = sign(PUBLIC + INBOUND_PATH, form)
    form["Body"] = "something else"
    assert post(sms_client, form, signature=signature).status_code == 403
    assert handler.calls == []


def test_a_signature_over_the_url_rebuilt_from_the_host_header_is_not_accepted(sms_client, handler):
    # What an app that trusts Host would check against: it is not the URL Twilio was given.
    form = fixture("inbound_complaint.json")
    assert post(sms_client, form, url="http://testserver" + INBOUND_PATH).status_code == 403
    assert handler.calls == []


def test_a_pooled_messaging_service_number_is_accepted(sms_client, handler, engine):
    """Chatwoot's regression: a number in a Messaging Service pool posts with MessagingServiceSid
    and a To that is not our main number; the signature is over the configured URL."""
    form = fixture("inbound_pooled_messaging_service.json")
    assert form["To"] != "+447700900000" and form["MessagingServiceSid"].startswith("MG")
    response = post(
        sms_client, form, headers={"Host": "internal-lb.local:8080", "X-Forwarded-Proto": "https"}
    )
    assert response.status_code == 200
    [message] = handler.calls
    assert message.recipient == "+447700900555"
    assert message.meta["MessagingServiceSid"] == form["MessagingServiceSid"]
    assert len(stored(engine)) == 1


def test_the_explicit_webhook_url_setting_is_what_signatures_are_checked_against(
    sms_settings, engine, policy, handler
):
    configured = "https://proxy.example.net/hooks/sms-in"
    settings = sms_settings.model_copy(update={"twilio_webhook_url": configured})
    form = fixture("inbound_complaint.json")
    with TestClient(make_app(settings, engine, policy, handler)) as client:
        assert post(client, form).status_code == 403  # signed over public_base_url + path
        assert post(client, form, url=configured).status_code == 200


def test_a_sha256_shared_key_signature_is_accepted(sms_client, handler):
    form = fixture("inbound_complaint.json")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + INBOUND_PATH, form, "HMAC_SHA256")
    response = post(
        sms_client,
        form,
        signature=signature,
        headers={"X-Twilio-Webhooks-Signature-Settings": "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"},
    )
    assert response.status_code == 200 and len(handler.calls) == 1


def test_without_an_auth_token_every_webhook_is_refused(sms_settings, engine, policy, handler, caplog):
    settings = sms_settings.model_copy(update={"twilio_auth_token": SecretStr("")})
    with TestClient(make_app(settings, engine, policy, handler)) as client, caplog.at_level(logging.ERROR):
        assert post(client, fixture("inbound_complaint.json")).status_code == 403
    assert "TWILIO_AUTH_TOKEN is not set" in caplog.text
    assert handler.calls == []


# --- retries ---------------------------------------------------------------------------------


def test_a_twilio_retry_creates_nothing_new(sms_client, handler, engine):
    form = fixture("inbound_complaint.json")
    assert post(sms_client, form).status_code == 200
    assert post(sms_client, form).status_code == 200
    assert len(stored(engine)) == 1
    assert len(stored(engine, Outbox)) == 1  # one reply, not two


def test_two_racing_identical_posts_store_one_message_and_one_reply(sms_settings, engine, policy):
    barrier = threading.Barrier(2)
    handler = RecordingHandler(engine, barrier=barrier)  # both requests are inside the handler at once
    form = fixture("inbound_complaint.json")
    with TestClient(make_app(sms_settings, engine, policy, handler)) as client:
        with ThreadPoolExecutor(2) as pool:
            responses = list(pool.map(lambda _: post(client, form), range(2)))
    assert [r.status_code for r in responses] == [200, 200]
    assert len(handler.calls) == 2
    assert len(stored(engine)) == 1
    assert len(stored(engine, Outbox)) == 1


# --- malformed -------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["From", "Body", "MessageSid"])
def test_a_webhook_missing_a_required_field_gets_a_clear_400(sms_client, handler, engine, missing):
    form = fixture("inbound_complaint.json")
    del form[missing]
    if missing == "MessageSid":
        del form["SmsSid"], form["SmsMessageSid"]
    response = post(sms_client, form)
    assert response.status_code == 400
    assert missing in response.json()["detail"]
    if missing == "MessageSid":  # who wrote and what they wrote: kept, never answered
        [kept] = handler.calls
        assert kept.automatic and kept.meta["malformed"] == ["MessageSid"] and kept.body == form["Body"]
        assert post(sms_client, form).status_code == 400
        assert len(stored(engine)) == 1 and stored(engine, Outbox) == []  # a repeat is still one message
    else:
        assert handler.calls == []


def test_junk_that_is_not_form_data_gets_a_400(sms_client, handler):
    junk = b"\xff\xfe{not: a form"
    response = sms_client.post(
        INBOUND_PATH,
        content=junk,
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "x"},
    )
    assert response.status_code == 400
    response = sms_client.post(INBOUND_PATH, json={"Body": "hi"}, headers={"X-Twilio-Signature": "x"})
    assert response.status_code == 400 and "form-encoded" in response.json()["detail"]
    assert handler.calls == []


def test_a_huge_body_is_refused_before_it_is_read(sms_client, handler):
    form = fixture("inbound_complaint.json", Body="x" * 100_000)
    response = post(sms_client, form)
    assert response.status_code == 413
    assert handler.calls == []


def test_a_long_but_acceptable_body_is_kept_up_to_the_limit(sms_settings, engine, policy, handler):
    settings = sms_settings.model_copy(update={"max_message_chars": 1000})
    form = fixture("inbound_complaint.json", Body="damp " * 1000)
    with TestClient(make_app(settings, engine, policy, handler)) as client:
        assert post(client, form).status_code == 200
    [message] = handler.calls
    assert len(message.body) == 1000 and message.meta["truncated_from_chars"] == 5000


def test_an_mms_without_text_is_kept(sms_client, handler):
    form = fixture("inbound_mms.json", Body="")
    assert post(sms_client, form).status_code == 200
    assert handler.calls[0].body == "" and len(handler.calls[0].attachments) == 2


# --- MMS -------------------------------------------------------------------------------------


def test_mms_media_are_recorded_as_attachments_with_their_urls(sms_client, handler, engine):
    form = fixture("inbound_mms.json")
    assert post(sms_client, form).status_code == 200
    [message] = handler.calls
    assert [(a.content_type, a.url) for a in message.attachments] == [
        ("image/jpeg", form["MediaUrl0"]),
        ("image/png", form["MediaUrl1"]),
    ]
    rows = stored(engine, Attachment)
    assert [r.filename for r in rows] == ["media-1.jpeg", "media-2.png"]
    assert all(r.url and r.data is None for r in rows)


# --- STOP / START / HELP ---------------------------------------------------------------------


def contact(engine, phone):
    with Session(engine) as session:
        return session.exec(select(Contact).where(Contact.phone == phone)).one()


def test_stop_opts_the_number_out_stores_the_message_and_sends_nothing(sms_client, handler, engine):
    form = fixture("inbound_stop.json")
    assert post(sms_client, form).status_code == 200
    assert handler.calls == []  # the engine does not answer STOP
    assert contact(engine, "+447700900126").sms_opted_out
    [message] = stored(engine)
    assert message.body == "Stop" and message.meta["keyword"] == "STOP"
    assert stored(engine, Outbox) == []
    assert post(sms_client, form).status_code == 200  # a retry of STOP is harmless
    assert len(stored(engine)) == 1


@pytest.mark.parametrize("word", ["UNSUBSCRIBE", "cancel", "End", "QUIT", "stopall", "STOP!"])
def test_every_twilio_opt_out_keyword_is_honoured(sms_client, engine, word):
    form = fixture("inbound_stop.json", Body=word)
    assert post(sms_client, form).status_code == 200
    assert contact(engine, "+447700900126").sms_opted_out


def test_a_sentence_containing_stop_is_not_an_opt_out(sms_client, handler, engine):
    form = fixture("inbound_stop.json", Body="Please can you stop the noise from next door")
    post(sms_client, form)
    assert len(handler.calls) == 1
    with Session(engine) as session:
        assert session.exec(select(Contact).where(Contact.sms_opted_out == True)).all() == []  # noqa: E712


def test_start_resubscribes_and_confirms(sms_client, engine):
    post(sms_client, fixture("inbound_stop.json"))
    start = fixture("inbound_stop.json", Body="START", MessageSid="SM" + "1" * 32, SmsSid="SM" + "1" * 32)
    assert post(sms_client, start).status_code == 200
    assert not contact(engine, "+447700900126").sms_opted_out
    [reply] = stored(engine, Outbox)
    assert reply.kind == "sms_opt_in" and "STOP" in reply.body


def test_yes_resubscribes_only_someone_who_had_opted_out(sms_client, handler, engine):
    yes = fixture("inbound_stop.json", Body="Yes", MessageSid="SM" + "2" * 32, SmsSid="SM" + "2" * 32)
    post(sms_client, yes)
    assert len(handler.calls) == 1  # an ordinary answer, for the engine


def test_help_answers_with_the_office_contact_details(sms_client, handler, engine, policy):
    form = fixture("inbound_stop.json", Body="HELP")
    assert post(sms_client, form).status_code == 200
    assert handler.calls == []
    [reply] = stored(engine, Outbox)
    assert reply.kind == "sms_help" and reply.to_address == "+447700900126"
    assert policy.office.phone in reply.body and policy.office.email in reply.body
    from intake.sms_text import sms_segments

    assert sms_segments(reply.body) <= 2


# --- rate limit ------------------------------------------------------------------------------


def test_over_the_per_number_limit_messages_are_stored_but_not_answered(
    sms_settings, engine, policy, handler, monkeypatch
):
    import intake.ratelimit

    monkeypatch.setattr(
        intake.ratelimit, "utcnow", lambda: datetime(2026, 11, 26, 9, 0, 30, tzinfo=UTC)
    )  # one window
    settings = sms_settings.model_copy(update={"public_rate_limit_per_minute": 3})
    with TestClient(make_app(settings, engine, policy, handler)) as client:
        for n in range(5):
            sid = f"SM{n:032x}"
            assert (
                post(
                    client, fixture("inbound_complaint.json", Body=f"message {n}", MessageSid=sid, SmsSid=sid)
                ).status_code
                == 200
            )
        other = fixture("inbound_pooled_messaging_service.json")
        assert post(client, other).status_code == 200
    rows = sorted(stored(engine), key=lambda m: m.id)
    assert len(rows) == 6  # every word kept
    assert [bool(m.meta.get("automatic")) for m in rows] == [False, False, False, True, True, False]
    assert [bool(m.meta.get("rate_limited")) for m in rows] == [False, False, False, True, True, False]
    assert {m.rate_limit[1] for m in handler.calls} == {3}  # the adapter asks for the per-number limit
    assert len(stored(engine, Outbox)) == 4  # three answered, the other number answered


# --- sending through the outbox --------------------------------------------------------------


@pytest.fixture
def fake_twilio():
    fake = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN).start()
    yield fake
    fake.stop()


@pytest.fixture
def sender(sms_settings, engine, fake_twilio):
    settings = sms_settings.model_copy(update={"twilio_api_base_url": fake_twilio.base_url})
    return TwilioSender(settings, engine)


def queue_sms(engine, to="+447700900123", body="Thank you. Your reference is CMP-2026-000001."):
    with Session(engine) as session:
        row = enqueue(session, channel="sms", to=to, body=body, kind="test")
        session.commit()
        return row.id


def test_replies_are_sent_through_the_twilio_client_with_a_status_callback(engine, sender, fake_twilio):
    row_id = queue_sms(engine)
    assert Dispatcher(engine, {"sms": sender}).run_once() == 1
    [request] = fake_twilio.messages
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert request.form["To"] == "+447700900123"
    assert request.form["From"] == "+447700900000"
    assert request.form["Body"].startswith("Thank you.")
    assert request.form["StatusCallback"] == PUBLIC + STATUS_PATH
    with Session(engine) as session:
        row = session.get(Outbox, row_id)
        assert row.status == SENT and row.provider_message_id.startswith("SM")


def test_a_messaging_service_sends_from_its_pool(sms_settings, engine, fake_twilio):
    settings = sms_settings.model_copy(
        update={"twilio_api_base_url": fake_twilio.base_url, "twilio_messaging_service_sid": "MG" + "1" * 32}
    )
    queue_sms(engine)
    Dispatcher(engine, {"sms": TwilioSender(settings, engine)}).run_once()
    [request] = fake_twilio.messages
    assert request.form["MessagingServiceSid"] == "MG" + "1" * 32 and "From" not in request.form


def test_a_signed_delivery_callback_updates_the_outbox(sms_client, engine, sender, fake_twilio):
    row_id = queue_sms(engine)
    Dispatcher(engine, {"sms": sender}).run_once()
    with Session(engine) as session:
        sid = session.get(Outbox, row_id).provider_message_id
    form = fixture("status_delivered.json", MessageSid=sid, SmsSid=sid)
    assert post(sms_client, form, path=STATUS_PATH, signature="forged").status_code == 403
    assert post(sms_client, form, path=STATUS_PATH).status_code == 204
    with Session(engine) as session:
        row = session.get(Outbox, row_id)
        assert row.status == DELIVERED and row.delivery_status == "delivered" and row.delivered_at


def test_an_undelivered_callback_for_an_opted_out_number_marks_the_contact(sms_client, engine, sender):
    with Session(engine) as session:
        session.add(Contact(phone="+447700900123"))
        session.commit()
    row_id = queue_sms(engine)
    Dispatcher(engine, {"sms": sender}).run_once()
    with Session(engine) as session:
        sid = session.get(Outbox, row_id).provider_message_id
    form = fixture("status_undelivered_opted_out.json", MessageSid=sid, SmsSid=sid)
    assert post(sms_client, form, path=STATUS_PATH).status_code == 204
    assert contact(engine, "+447700900123").sms_opted_out
    with Session(engine) as session:
        assert session.get(Outbox, row_id).status == FAILED


def test_we_never_text_an_opted_out_number(sms_client, engine, sender, fake_twilio):
    post(sms_client, fixture("inbound_stop.json"))
    row_id = queue_sms(engine, to="+447700900126")
    Dispatcher(engine, {"sms": sender}).run_once()
    assert fake_twilio.messages == []
    with Session(engine) as session:
        row = session.get(Outbox, row_id)
        assert row.status == PARKED and "opted out" in row.last_error


def test_twilio_refusing_an_unsubscribed_number_parks_the_message_and_opts_out(engine, sender, fake_twilio):
    with Session(engine) as session:
        session.add(Contact(phone="+447700900123"))
        session.commit()
    fake_twilio.fail["+447700900123"] = (400, 21610)
    row_id = queue_sms(engine)
    Dispatcher(engine, {"sms": sender}).run_once()
    with Session(engine) as session:
        row = session.get(Outbox, row_id)
        assert row.status == PARKED and "21610" in row.last_error
    assert contact(engine, "+447700900123").sms_opted_out


def test_a_twilio_outage_is_retried(engine, sender, fake_twilio):
    fake_twilio.fail["+447700900123"] = (503, 20500)
    row_id = queue_sms(engine)
    Dispatcher(engine, {"sms": sender}).run_once()
    with Session(engine) as session:
        row = session.get(Outbox, row_id)
        assert row.status == "pending" and row.attempts == 1

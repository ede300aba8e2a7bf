"""Web chat over real HTTP (TestClient) and the real database: sessions, conversations for every
category, history after a reload, escaping, limits, and delivery through the outbox."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from test_engine_support import fake_classify, real_classify  # noqa: F401

from intake.models import Case, Outbox
from intake.outbox import Dispatcher
from integrations import web_chat


@pytest.fixture
def make_client(settings, engine):
    def make(classify=fake_classify, **overrides):
        from bot.app import create_app

        app = create_app(settings.model_copy(update=overrides), engine=engine, classify=classify)
        return TestClient(app)

    return make


@pytest.fixture
def web(make_client):
    with make_client() as client:
        yield client


class Resident:
    def __init__(self, client: TestClient):
        self.client = client
        response = client.post("/chat/api/sessions")
        assert response.status_code == 201
        self.token = response.json()["token"]

    def say(self, text: str, client_id: str | None = None) -> list[str]:
        response = self.client.post(
            "/chat/api/messages",
            json={"text": text, "client_id": client_id or uuid.uuid4().hex},
            headers={"X-Chat-Token": self.token},
        )
        assert response.status_code == 200, response.text
        return [r["text"] for r in response.json()["replies"]]

    def history(self) -> list[dict]:
        response = self.client.get("/chat/api/messages", headers={"X-Chat-Token": self.token})
        assert response.status_code == 200
        return response.json()["messages"]


def cases(engine) -> list[Case]:
    with Session(engine) as session:
        return list(session.exec(select(Case).order_by(Case.id)).all())


def test_the_page_has_the_emergency_numbers_and_an_accessible_chat(web):
    response = web.get("/chat")
    assert response.status_code == 200
    html = response.text
    assert "0800 111 999" in html and 'href="tel:999"' in html and "116 123" in html
    assert 'role="log"' in html and 'aria-live="polite"' in html
    assert '<label for="message">' in html and 'id="message"' in html and ">Send</button>" in html
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "<script>" not in html  # no inline script: everything from /chat/static under the CSP


def test_static_files_and_nothing_else(web):
    assert web.get("/chat/static/chat.js").status_code == 200
    assert web.get("/chat/static/chat.css").headers["content-type"].startswith("text/css")
    assert web.get("/chat/static/..%2fweb_chat.py").status_code == 404
    assert web.get("/chat/static/chat.html").status_code == 404
    assert "innerHTML" not in web.get("/chat/static/chat.js").text.replace("never innerHTML", "")


def test_session_tokens_are_unguessable(web):
    tokens = {Resident(web).token for _ in range(5)}
    assert len(tokens) == 5 and all(len(t) >= 40 for t in tokens)


def test_a_whole_complaint_on_the_web_and_it_survives_a_reload(web, engine):
    resident = Resident(web)
    resident.say("I'm writing on behalf of my mum. Her heating is still not fixed and nobody came.")
    resident.say("Since last Monday")
    resident.say("Fix it and say sorry")
    resident.say("She is deaf")
    resident.say("I'm John Smith, her son")
    replies = resident.say("Email me at john@example.com in the mornings")
    [case] = cases(engine)
    assert case.category == "complaint" and case.reference in replies[-1]
    with Session(engine) as session:
        rows = session.exec(select(Outbox).order_by(Outbox.id)).all()
        assert rows and all(r.channel == "web" and r.status == "delivered" for r in rows)
        assert all(r.to_address == resident.token for r in rows)
        from intake.models import Contact

        contact = session.get(Contact, case.contact_id)
        assert contact.email == "john@example.com" and contact.preferred_time == "mornings"
    # A reload: a new page with the same token sees the whole conversation, in order.
    history = resident.history()
    assert [m["from"] for m in history[:2]] == ["resident", "bot"]
    assert history[-1]["from"] == "bot" and case.reference in history[-1]["text"]
    assert sum(1 for m in history if m["from"] == "resident") == 6


@pytest.mark.parametrize(
    "messages, category, words",
    [
        (["My neighbour plays loud music every night"], "asb_report", "ASB team"),
        (["The tap is dripping in the bathroom", "no"], "service_request", "service request"),
        (["The plumber was brilliant"], "compliment", "thank you"),
        (["There's a court claim already started about the damp"], "exclusion", "Housing Ombudsman"),
        (["I can smell gas"], "service_request", "0800 111 999"),
    ],
)
def test_every_category_on_the_web(web, engine, messages, category, words):
    resident = Resident(web)
    replies = []
    for text in messages:
        replies += resident.say(text)
    assert [c.category for c in cases(engine)] == [category]
    assert words.lower() in " ".join(replies).lower()


def test_other_on_the_web_answers_from_the_faq(web, engine):
    assert "Monday to Friday" in Resident(web).say("What time do you open?")[0]
    assert cases(engine) == []


def test_resident_text_is_returned_as_data_never_as_markup(web):
    resident = Resident(web)
    nasty = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    resident.say(nasty)
    assert resident.history()[0]["text"] == nasty
    assert nasty not in web.get("/chat").text


def test_a_retried_post_is_taken_once(web, engine):
    resident = Resident(web)
    first = resident.say("The plumber was brilliant", client_id="abc123")
    again = web.post(
        "/chat/api/messages",
        json={"text": "The plumber was brilliant", "client_id": "abc123"},
        headers={"X-Chat-Token": resident.token},
    ).json()
    assert first and again["duplicate"] and again["replies"] == []
    assert len(cases(engine)) == 1


def test_one_chat_cannot_collide_with_anothers_message_ids(web, engine):
    Resident(web).say("The plumber was brilliant", client_id="same")
    Resident(web).say("The plumber was brilliant", client_id="same")
    assert len(cases(engine)) == 2


def test_bad_tokens_and_bad_bodies(web):
    resident = Resident(web)
    headers = {"X-Chat-Token": resident.token}
    assert web.post("/chat/api/messages", json={"text": "hi"}).status_code == 401
    assert (
        web.post("/chat/api/messages", json={"text": "hi"}, headers={"X-Chat-Token": "x" * 43}).status_code
        == 404
    )
    assert web.get("/chat/api/messages", headers={"X-Chat-Token": "nope"}).status_code == 401
    assert web.post("/chat/api/messages", json={"text": "   "}, headers=headers).status_code == 422
    assert web.post("/chat/api/messages", json={"text": "a" * 2001}, headers=headers).status_code == 413
    big = web.post("/chat/api/messages", content=b'{"text": "' + b"a" * 20_000 + b'"}', headers=headers)
    assert big.status_code == 413
    assert web.post("/chat/api/messages", content=b"not json", headers=headers).status_code == 400
    assert web.post("/chat/api/messages", json=["a list"], headers=headers).status_code == 400


def test_messages_are_rate_limited_per_chat(make_client):
    with make_client(public_rate_limit_per_minute=3) as client:
        resident = Resident(client)
        for _ in range(3):
            resident.say("hi")
        response = client.post(
            "/chat/api/messages", json={"text": "hi"}, headers={"X-Chat-Token": resident.token}
        )
        assert response.status_code == 429 and "wait a minute" in response.json()["detail"]


def test_new_sessions_are_rate_limited_per_address(web, monkeypatch):
    monkeypatch.setattr(web_chat, "SESSIONS_PER_IP_PER_MINUTE", 2)
    codes = [web.post("/chat/api/sessions").status_code for _ in range(3)]
    assert codes == [201, 201, 429]


def test_the_dispatcher_can_deliver_web_rows_too(engine):
    with Session(engine) as session:
        from intake.outbox import enqueue

        enqueue(session, channel="web", to="token", body="A letter from staff", kind="bot_reply")
        session.commit()
    Dispatcher(engine, {"web": web_chat.send}).run_once()
    with Session(engine) as session:
        row = session.exec(select(Outbox)).one()
        assert row.status == "delivered" and row.delivered_at is not None


def test_stop_then_carry_on_in_the_same_chat(web, engine):
    resident = Resident(web)
    resident.say("stop")
    replies = resident.say("The plumber was brilliant")
    assert cases(engine)[0].category == "compliment" and replies


def test_the_real_app_and_classifier_on_the_web(make_client, engine, real_classify):  # noqa: F811
    with make_client(classify=None) as client:
        resident = Resident(client)
        replies = resident.say("My neighbour plays loud music every night until 3am")
        assert any("ASB" in r for r in replies)
        replies = resident.say("I can smell gas in the hallway")
        assert "0800 111 999" in replies[0]

"""`triage run` migrates, prints a demo staff login, and serves; several processes share one database."""

import re

import httpx
from sqlmodel import Session, select

from intake.db import make_engine
from intake.models import Case, StaffUser
from intake.staff_users import authenticate
from tests.servers import running_app


def test_run_prints_a_working_demo_login_and_serves(tmp_path, database_url, engine):
    with running_app(database_url, tmp_path) as (base, _process, log):
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        log.seek(0)
        output = log.read()
    assert f"{base}/chat" in output and f"{base}/staff" in output
    match = re.search(r"username demo, password (\S+)", output)
    assert match, output
    with Session(make_engine(database_url)) as session:
        user = session.exec(select(StaffUser).where(StaffUser.username == "demo")).one()
        assert user.password_hash.startswith("$argon2")
        assert authenticate(session, "demo", match.group(1)) is not None


def test_two_app_processes_share_one_conversation_through_the_database(tmp_path, database_url, engine):
    """A resident's web chat alternates between two app processes and ends as one case."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with running_app(database_url, tmp_path / "a", "--no-demo") as (first, *_):
        with running_app(database_url, tmp_path / "b", "--no-demo") as (second, *_):
            token = httpx.post(f"{first}/chat/api/sessions").json()["token"]
            turns = [
                "The landlord still hasn't fixed my leaking roof after three visits, I'm fed up",
                "It started in September",
                "Fix the roof properly and repaint the ceiling",
                "No support needed, thanks",
                "No, it's just me",
                "Text me on 07700 900456 any time",
            ]
            replies = []
            for n, text in enumerate(turns):
                base = (first, second)[n % 2]
                response = httpx.post(
                    f"{base}/chat/api/messages",
                    json={"text": text, "client_id": f"turn-{n}"},
                    headers={"X-Chat-Token": token},
                    timeout=30,
                )
                assert response.status_code == 200, response.text
                replies.extend(r["text"] for r in response.json()["replies"])
            history = httpx.get(f"{second}/chat/api/messages", headers={"X-Chat-Token": token}).json()[
                "messages"
            ]
    with Session(make_engine(database_url)) as session:
        [case] = session.exec(select(Case)).all()
    assert case.category == "complaint" and case.stage == 1
    assert any(case.reference in reply for reply in replies)
    assert sum(1 for m in history if m["from"] == "resident") == len(turns)

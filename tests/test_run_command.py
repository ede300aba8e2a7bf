"""`triage run` migrates, prints a demo staff login, and serves; several processes share one database."""

import re

import httpx
from sqlmodel import Session, select

from intake.db import make_engine
from intake.models import StaffUser
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


def test_two_app_processes_serve_one_database(tmp_path, database_url, engine):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with running_app(database_url, tmp_path / "a", "--no-demo") as (first, *_):
        with running_app(database_url, tmp_path / "b", "--no-demo") as (second, *_):
            for base in (first, second):
                assert httpx.get(f"{base}/healthz").status_code == 200

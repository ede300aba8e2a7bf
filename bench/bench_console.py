"""Benchmark: the staff console's queue page and case page with 50,000 cases.

Seeds the cases by bulk insert (contacts, cases, stages, messages, audit events), then serves
the pages through the real app in-process (FastAPI TestClient: routing, auth, queries,
templates) many times and prints p50/p95/max server time. Target: <= 300 ms.

    .venv/bin/python bench/bench_console.py                      # SQLite (temporary file)
    .venv/bin/python bench/bench_console.py --postgres           # PostgreSQL
    ... --reuse [--sqlite-file PATH]                              # measure again without reseeding

PostgreSQL uses BENCH_DATABASE_URL, or else TEST_DATABASE_URL with the database name changed
to `bench_console` (created if missing), so the benchmark never empties a test database.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import func, insert, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlmodel import Session, SQLModel, select  # noqa: E402

from bot.app import create_app  # noqa: E402
from intake.db import make_engine, normalise_url  # noqa: E402
from intake.migrate import upgrade  # noqa: E402
from intake.models import AuditEvent, Case, CaseStage, Contact, Message, new_public_id  # noqa: E402
from intake.policy import load_policy  # noqa: E402
from intake.settings import Settings  # noqa: E402
from intake.staff_users import create_user  # noqa: E402

PASSWORD = "bench-password-123"
CATEGORIES = [
    ("complaint", 45),
    ("service_request", 25),
    ("asb_report", 8),
    ("exclusion", 5),
    ("compliment", 7),
    ("other", 10),
]
FIRST = [
    "Aisha",
    "Peter",
    "Grace",
    "Tom",
    "Dev",
    "Maria",
    "June",
    "Irene",
    "Sam",
    "Olu",
    "Chris",
    "Megan",
    "Ravi",
    "Zofia",
]
LAST = [
    "Khan",
    "Walsh",
    "Obi",
    "Price",
    "Patel",
    "Silva",
    "Hart",
    "Bell",
    "Jones",
    "Smith",
    "Nowak",
    "Evans",
    "Begum",
]
TEXT = (
    "This is the third time I have reported the leak under the sink and nobody turned up again. "
    "The damp is spreading to the bedroom and my son has asthma. I want it fixed properly this week. "
)


def postgres_url() -> str:
    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        return url
    test_url = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    bench = make_url(normalise_url(test_url)).set(database="bench_console")
    admin = make_engine(bench.set(database="postgres").render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        exists = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = 'bench_console'")).first()
        if not exists:
            connection.execute(text("CREATE DATABASE bench_console"))
    admin.dispose()
    return bench.render_as_string(hide_password=False)


def reset(engine) -> None:
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    upgrade(engine)


def seed(engine, policy, count: int, rng: random.Random) -> None:
    """Bulk insert `count` cases with their contacts, first messages, stages and audit events."""
    today = date.today()
    calendar = policy.calendar
    names = [c for c, w in CATEGORIES for _ in range(w)]
    chunk = 5_000
    with Session(engine) as session:
        for offset in range(0, count, chunk):
            contacts, cases, messages, stages, events = [], [], [], [], []
            for n in range(offset, min(count, offset + chunk)):
                number = n + 1
                contacts.append(
                    {
                        "id": number,
                        "public_id": new_public_id(),
                        "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                        "phone": f"+4477009{number:05d}" if n % 2 == 0 else None,
                        "email": f"resident{number}@example.org" if n % 2 else None,
                        "sms_opted_out": False,
                        "created_at": datetime.now(UTC),
                    }
                )
                category = rng.choice(names)
                received_on = today - timedelta(days=int(rng.expovariate(1 / 120)) % 700)
                received_at = datetime(received_on.year, received_on.month, received_on.day, 10, tzinfo=UTC)
                row = {
                    "id": number,
                    "public_id": new_public_id(),
                    "reference": f"{'CMP' if category in ('complaint', 'exclusion') else 'SR'}-{received_on.year}-{number:06d}",
                    "contact_id": number,
                    "category": category,
                    "status": "open",
                    "stage": None,
                    "channel": ("sms", "email", "web")[n % 3],
                    "received_at": received_at,
                    "received_on": received_on,
                    "acknowledge_by": None,
                    "acknowledged_on": None,
                    "response_due": None,
                    "responded_on": None,
                    "extension_days": 0,
                    "summary": "Leak under the sink; third report.",
                    "exclusion_reason": "out_of_time" if category == "exclusion" else None,
                    "triage_category": category,
                    "triage_confidence": round(rng.uniform(0.35, 0.99), 2),
                    "triage_evidence": [{"start": 12, "end": 39, "label": "complaint", "text": TEXT[12:39]}],
                    "needs_review": False,
                    "urgent": rng.random() < 0.02,
                    "assigned_to_id": None,
                    "created_at": received_at,
                    "updated_at": received_at,
                    "version": 1,
                }
                row["needs_review"] = category == "exclusion" or row["triage_confidence"] < 0.45
                old = (today - received_on).days > 60
                if category in ("complaint", "exclusion"):
                    row["acknowledge_by"] = calendar.add_working_days(received_on, 5)
                if category == "complaint":
                    row["stage"] = 1
                    acknowledged = (
                        None
                        if (not old and rng.random() < 0.3)
                        else calendar.add_working_days(received_on, 3)
                    )
                    stage = {
                        "case_id": number,
                        "stage": 1,
                        "opened_on": received_on,
                        "acknowledge_by": row["acknowledge_by"],
                        "acknowledged_on": acknowledged,
                        "extension_days": 0,
                    }
                    if acknowledged is None:
                        row["status"] = "awaiting_acknowledgement"
                    else:
                        due = calendar.add_working_days(acknowledged, 10)
                        stage["due"] = due
                        row.update(acknowledged_on=acknowledged, response_due=due)
                        if old:
                            responded = calendar.add_working_days(acknowledged, rng.randint(5, 14))
                            stage.update(responded_on=responded, outcome="upheld")
                            row.update(responded_on=responded, status="closed")
                        else:
                            row["status"] = "stage1_in_progress"
                    stages.append(stage)
                elif category == "exclusion":
                    row["status"] = "exclusion_review" if not old else "excluded"
                    row["needs_review"] = not old
                    row["response_due"] = calendar.add_working_days(received_on, 10)
                elif old:
                    row["status"] = "closed"
                cases.append(row)
                messages.append(
                    {
                        "case_id": number,
                        "contact_id": number,
                        "direction": "in",
                        "channel": row["channel"],
                        "provider_message_id": f"bench-{number}",
                        "body": TEXT,
                        "meta": {},
                        "processed": True,
                        "created_at": received_at,
                    }
                )
                events.append({"case_id": number, "actor": "bot", "action": "case.opened", "at": received_at})
            session.execute(insert(Contact.__table__), contacts)
            session.execute(insert(Case.__table__), cases)
            session.execute(insert(Message.__table__), messages)
            if stages:
                session.execute(
                    insert(CaseStage.__table__),
                    [{"due": None, "responded_on": None, "outcome": None, **s} for s in stages],
                )
            session.execute(insert(AuditEvent.__table__), events)
            session.commit()
        if engine.dialect.name == "postgresql":
            for table in ("contact", "case", "message", "casestage", "auditevent"):
                session.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), (SELECT max(id) FROM \"{table}\"))"
                    )
                )
            session.commit()
            # The steady state autovacuum keeps a live database in: statistics and the visibility
            # map (which lets counts be answered from indexes alone).
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("VACUUM ANALYZE"))
        else:
            session.execute(text("ANALYZE"))
            session.commit()
        create_user(session, "bench", PASSWORD, "complaints_officer", "Bench Officer")
        session.commit()


def timed(client: TestClient, path: str, repeat: int) -> list[float]:
    client.get(path)  # warm
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(path)
        out.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}")
    return out


def report(label: str, samples: list[float]) -> tuple[str, float, float, float]:
    ordered = sorted(samples)
    p95 = ordered[max(0, int(round(0.95 * len(ordered))) - 1)]
    return label, statistics.median(ordered), p95, ordered[-1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=100, help="requests per page measured")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--reuse", action="store_true", help="keep an already seeded database (same --cases)")
    parser.add_argument("--sqlite-file", type=Path, help="SQLite file to use (default: a temporary one)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-console-"))
    sqlite_file = args.sqlite_file.resolve() if args.sqlite_file else workdir / "bench.db"
    url = postgres_url() if args.postgres else f"sqlite:///{sqlite_file}"
    engine = make_engine(url)
    policy = load_policy("code-default")
    rng = random.Random(20261126)
    seeded = False
    if args.reuse:
        try:
            with Session(engine) as session:
                seeded = session.exec(select(func.count(Case.id))).one() == args.cases
        except Exception:  # noqa: BLE001 - no tables yet
            seeded = False
    if not seeded:
        reset(engine)
        start = time.perf_counter()
        seed(engine, policy, args.cases, rng)
        print(f"seeded {args.cases:,} cases in {time.perf_counter() - start:.1f} s ({engine.dialect.name})")

    settings = Settings(
        data_dir=workdir,
        database_url=url,
        secure_cookies=False,
        secret_key="bench",
        login_rate_limit_per_minute=1000,
        _env_file=None,
    )
    app = create_app(settings, engine=engine)
    with TestClient(app) as client, Session(engine) as session:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/staff/login").text).group(1)
        response = client.post(
            "/staff/login",
            data={"username": "bench", "password": PASSWORD, "csrf_token": token},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text[:500]
        ids = session.exec(select(Case.public_id).order_by(func.random()).limit(args.requests)).all()
        references = session.exec(select(Case.reference).order_by(func.random()).limit(20)).all()
        rows = []
        for label, path in (
            ("queue: needs review", "/staff/queues/needs_review"),
            ("queue: awaiting acknowledgement", "/staff/queues/awaiting_acknowledgement"),
            ("queue: stage 1 in progress", "/staff/queues/stage1"),
            ("queue: all, page 1", "/staff/queues/all"),
            ("queue: all, page 1000", "/staff/queues/all?page=1000"),
            ("queue: all, sms + complaint", "/staff/queues/all?channel=sms&category=complaint"),
            ("queue: search by name", "/staff/queues/all?q=Zofia+Begum"),
            ("queue: search by reference", f"/staff/queues/all?q={references[0]}"),
            ("queue: search by phone", "/staff/queues/all?q=07700900123"),
        ):
            rows.append(report(label, timed(client, path, args.requests)))
        samples = []
        for public_id in ids:
            start = time.perf_counter()
            response = client.get(f"/staff/cases/{public_id}")
            samples.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200
        rows.append(report(f"case page ({len(ids)} different cases)", samples))
    print(
        f"\n{engine.dialect.name}, {args.cases:,} cases, {args.requests} requests per line (ms of server time, in-process)"
    )
    print(f"{'page':42} {'p50':>8} {'p95':>8} {'max':>8}")
    for label, p50, p95, worst in rows:
        flag = "" if p95 <= 300 else "  over 300 ms"
        print(f"{label:42} {p50:8.1f} {p95:8.1f} {worst:8.1f}{flag}")
    engine.dispose()


if __name__ == "__main__":
    SQLModel.metadata  # noqa: B018 - models imported above register the tables
    main()

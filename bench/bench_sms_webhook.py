"""Benchmark: signed Twilio SMS webhooks against real uvicorn workers and PostgreSQL, on loopback.

    .venv/bin/python bench/bench_sms_webhook.py                      # 200 req/s for 60 s
    .venv/bin/python bench/bench_sms_webhook.py --rate 50 --duration 10 --workers 2
    .venv/bin/python bench/bench_sms_webhook.py --replies-in-request --rate 40   # the other mode

What it does:
1. Creates a fresh PostgreSQL database (from --database-url, default $TEST_DATABASE_URL or
   postgresql://postgres@127.0.0.1:5432/test) and migrates it; drops it at the end (--keep to keep).
2. Starts `uvicorn bot.app:create_app --factory --workers N` on 127.0.0.1 with the real engine
   and classifier, and warms every worker up (loads the model) with requests that are not timed.
   As the product does by default (SMS_REPLIES_FROM_WORKER=true), the webhook stores each text
   and `triage worker --no-send` processes (--worker-processes, at `nice` --worker-nice) answer
   them; with --replies-in-request each webhook works out its reply itself.
3. Sends --rate signed webhook requests a second for --duration seconds, open loop (each request
   leaves at its scheduled time whether or not earlier ones have finished, as Twilio's do), from
   distinct numbers, with realistic texts; --retry-fraction of them are Twilio-style retries
   (the same MessageSid and signature again, a moment later).
4. Prints latency percentiles and errors, then checks the database: every distinct MessageSid
   stored exactly once and processed, retries stored nothing, every number answered, and no
   reply in the outbox twice.

Load stays on loopback. Exit status 0 only if p99 <= --p99-ms, no error, and every check holds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp
import httpx
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AUTH_TOKEN = "bench-twilio-auth-token"
ACCOUNT_SID = "AC" + "b" * 32
PUBLIC = "https://complaints.example-housing.org.uk"
PATH = "/twilio/sms"

TEXTS = [
    "Hi my boiler has been broken for 3 weeks and nobody has come out. I've rung 4 times. Not good enough",
    "The kitchen tap is dripping, can someone come and look at it please",
    "My neighbour plays loud music every night until 3am and I can't sleep",
    "I want to complain about the repairs man who was rude to me on Monday and left mess everywhere",
    "There is black mould in my sons bedroom and he has asthma, reported it in september nothing done",
    "Just wanted to say the plumber who came yesterday was brilliant, thank you",
    "what time does the office open on saturday",
    "my front door lock is broken and wont close properly. been waiting 2 weeks",
    "Still no hot water. Third time I'm texting. I want compensation for this",
    "Damp coming through the wall in the living room again after you said it was fixed",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_table() -> dict[int, tuple[int, str, float]]:
    """pid -> (parent pid, command line, CPU seconds used so far), from /proc (Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        table[int(entry.name)] = (int(fields[1]), command, (int(fields[11]) + int(fields[12])) / ticks)
    return table


def cpu_by_pid(roots: dict[str, int], database: str) -> dict[int, tuple[str, float]]:
    """CPU seconds so far of each process in a role: a root process and its descendants, or a
    PostgreSQL backend serving `database` (others on the machine are not ours)."""
    table = process_table()
    found = {}
    for pid, (_, command, seconds) in table.items():
        if command.startswith("postgres:") and f" {database} " in command:
            found[pid] = ("postgresql", seconds)
            continue
        seen = pid
        while seen > 1 and seen in table:
            role = next((role for role, root in roots.items() if root == seen), None)
            if role:
                found[pid] = (role, seconds)
                break
            seen = table[seen][0]
    return found


def cpu_used(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds each role used between two readings (a process that ended in between is lost)."""
    totals: dict[str, float] = {}
    for pid, (role, seconds) in after.items():
        totals[role] = totals.get(role, 0.0) + seconds - before.get(pid, (role, 0.0))[1]
    return totals


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def make_request(n: int, validator: RequestValidator) -> tuple[dict[str, str], str]:
    sid = "SM" + secrets.token_hex(16)
    number = f"+447{n:09d}"  # one number per message: no fragments joined, no per-number limit hit
    form = {
        "ToCountry": "GB",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "SmsSid": sid,
        "SmsStatus": "received",
        "Body": TEXTS[n % len(TEXTS)],
        "FromCountry": "GB",
        "To": "+447700900000",
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": number,
        "ApiVersion": "2010-04-01",
    }
    return form, validator.compute_signature(PUBLIC + PATH, form)


async def post(
    client: aiohttp.ClientSession,
    form,
    signature,
    results: list,
    timed: bool,
    scheduled: float | None = None,
    gate: asyncio.Semaphore | None = None,
) -> None:
    """One webhook. Latency is counted from when the request was due to leave (so time spent
    waiting for a free connection counts: no coordinated omission) and from when it was sent."""
    scheduled = scheduled or time.perf_counter()
    async with gate or _NO_GATE:
        started = time.perf_counter()
        try:
            async with client.post(PATH, data=form, headers={"X-Twilio-Signature": signature}) as response:
                await response.read()
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            status = f"{type(exc).__name__}"
        finished = time.perf_counter()
    if timed:
        results.append((finished - scheduled, finished - started, status, form["MessageSid"]))


class _NoGate:
    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return False


_NO_GATE = _NoGate()


async def run_load(
    base_url: str, rate: float, duration: float, retry_fraction: float, warmup: int, seed: int
):
    validator = RequestValidator(AUTH_TOKEN)
    rng = random.Random(seed)
    # Twilio opens many connections at once; 256 in flight is more than this load ever needs.
    # aiohttp rather than httpx for the load: its client costs a fraction of the CPU per request,
    # and CPU the load generator burns on this shared machine is CPU the server under test loses.
    connector = aiohttp.TCPConnector(limit=256, keepalive_timeout=60)
    gate = asyncio.Semaphore(256)
    sent_forms: list[dict[str, str]] = []
    retries = 0
    results: list[tuple[float, float, object, str]] = []
    async with aiohttp.ClientSession(
        base_url=base_url, connector=connector, timeout=aiohttp.ClientTimeout(total=30)
    ) as client:
        # warm up: every worker loads the classifier model before timing starts
        warm = []
        for n in range(warmup):
            form, signature = make_request(10_000_000 + n, validator)
            sent_forms.append(form)
            warm.append(post(client, form, signature, [], timed=False))
        await asyncio.gather(*warm)
        total = int(rate * duration)
        tasks = []
        start = time.perf_counter()
        lateness = []
        for n in range(total):
            scheduled = start + n / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                lateness.append(-delay)
            if sent_forms and rng.random() < retry_fraction:
                form = rng.choice(sent_forms[-200:])  # Twilio retries soon after the first try
                signature = validator.compute_signature(PUBLIC + PATH, form)
                retries += 1
            else:
                form, signature = make_request(n, validator)
                sent_forms.append(form)
            tasks.append(asyncio.create_task(post(client, form, signature, results, True, scheduled, gate)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return results, sent_forms, retries, elapsed, lateness


def check_database(url: str, sent_forms: list[dict[str, str]], accepted: set[str]) -> list[str]:
    from sqlalchemy import func
    from sqlmodel import Session, select

    from intake.db import make_engine
    from intake.models import Message, Outbox

    problems: list[str] = []
    sids = {form["MessageSid"] for form in sent_forms}
    numbers = {form["From"] for form in sent_forms}
    engine = make_engine(url)
    with Session(engine) as session:
        rows = session.exec(
            select(Message.provider_message_id, func.count(), func.bool_and(Message.processed))
            .where(Message.channel == "sms", Message.direction == "in")
            .group_by(Message.provider_message_id)
        ).all()
        stored = {sid: (count, processed) for sid, count, processed in rows}
        missing = sids - stored.keys()
        extra = stored.keys() - sids
        twice = [sid for sid, (count, _) in stored.items() if count != 1]
        unprocessed = [sid for sid, (_, processed) in stored.items() if not processed]
        answered = set(
            session.exec(
                select(Outbox.to_address).where(Outbox.channel == "sms", Outbox.status != "cancelled")
            ).all()
        )
        duplicates = session.exec(
            select(Outbox.to_address, Outbox.kind, Outbox.body, func.count())
            .where(Outbox.channel == "sms")
            .group_by(Outbox.to_address, Outbox.kind, Outbox.body)
            .having(func.count() > 1)
        ).all()
        outbox_total = session.exec(select(func.count()).select_from(Outbox)).one()
    engine.dispose()
    print(f"  messages stored: {len(stored)} for {len(sids)} distinct MessageSids sent")
    print(f"  outbox rows: {outbox_total}, numbers answered: {len(answered & numbers)} of {len(numbers)}")
    if missing & accepted:
        problems.append(f"{len(missing & accepted)} messages answered 200 were not stored (lost)")
    if missing - accepted:
        problems.append(
            f"{len(missing - accepted)} messages whose request failed were not stored (the sender saw the failure)"
        )
    if extra:
        problems.append(f"{len(extra)} stored messages were never sent")
    if twice:
        problems.append(f"{len(twice)} messages stored more than once")
    if unprocessed:
        problems.append(f"{len(unprocessed)} messages stored but not processed")
    if numbers - answered:
        problems.append(f"{len(numbers - answered)} numbers got no reply in the outbox")
    if duplicates:
        problems.append(f"{len(duplicates)} replies are in the outbox more than once")
    return problems


def wait_until_processed(url: str, timeout: float) -> float:
    from sqlalchemy import func
    from sqlmodel import Session, select

    from intake.db import make_engine
    from intake.models import Message

    engine = make_engine(url)
    start = time.monotonic()
    try:
        while time.monotonic() - start < timeout:
            with Session(engine) as session:
                left = session.exec(
                    select(func.count())
                    .select_from(Message)
                    .where(Message.direction == "in", Message.processed.is_(False))
                ).one()
            if not left:
                break
            time.sleep(0.5)
    finally:
        engine.dispose()
    return time.monotonic() - start


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=200, help="requests a second (default 200)")
    parser.add_argument("--duration", type=float, default=60, help="seconds of load (default 60)")
    parser.add_argument(
        "--workers", type=int, default=max(2, os.cpu_count() or 2), help="uvicorn worker processes"
    )
    parser.add_argument(
        "--retry-fraction", type=float, default=0.05, help="share of requests that are retries"
    )
    parser.add_argument("--p99-ms", type=float, default=100.0, help="the p99 latency target")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    parser.add_argument(
        "--replies-in-request",
        action="store_true",
        help="SMS_REPLIES_FROM_WORKER=false: each webhook request works out and queues its reply",
    )
    parser.add_argument(
        "--worker-processes", type=int, default=1, help="`triage worker` processes answering texts"
    )
    parser.add_argument(
        "--worker-nice",
        type=int,
        default=10,
        help="scheduling priority of the workers (answering can wait a moment; Twilio's request cannot)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--app", default="bot.app:create_app", help="app factory to serve (for experiments)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up the server and database on TERM

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from intake.db import make_engine, normalise_url
    from intake.migrate import upgrade

    base = make_url(normalise_url(args.database_url))
    if base.host not in ("127.0.0.1", "localhost", "::1", None):
        print("This benchmark only runs against PostgreSQL on loopback.", file=sys.stderr)
        return 2
    name = f"bench_sms_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    server = background = None
    try:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "PUBLIC_BASE_URL": PUBLIC,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "PUBLIC_RATE_LIMIT_PER_MINUTE": "30",
            "DATA_DIR": str(ROOT / "data" / "bench"),
            "SECRET_KEY": "bench-secret-key",
        }
        env["SMS_REPLIES_FROM_WORKER"] = "false" if args.replies_in_request else "true"
        if not args.replies_in_request:
            background = [
                subprocess.Popen(
                    [sys.executable, "-m", "bot.cli", "worker", "--no-send"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                    preexec_fn=lambda: os.nice(args.worker_nice),
                )
                for _ in range(args.worker_processes)
            ]
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                args.app,
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
                "--log-level",
                "warning",
                "--no-access-log",
                "--timeout-keep-alive",  # longer than the client idles, so no request races a close
                "75",
            ],
            cwd=ROOT,
            env={**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))},
            start_new_session=True,
        )
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 90
        while True:
            try:
                if httpx.get(base_url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline or server.poll() is not None:
                print("The app did not start.", file=sys.stderr)
                return 1
            time.sleep(0.3)
        print(f"uvicorn: {args.workers} workers on {base_url}; PostgreSQL database {name}")
        print(
            f"load: {args.rate:g} signed SMS webhooks/s for {args.duration:g} s "
            f"({int(args.rate * args.duration)} requests, ~{args.retry_fraction:.0%} retries)"
        )
        roles = {"web (uvicorn)": server.pid, "load client": os.getpid()}
        for number, process in enumerate(background or [], start=1):
            roles[f"worker {number}"] = process.pid
        cpu_before = cpu_by_pid(roles, name)
        results, sent_forms, retries, elapsed, lateness = asyncio.run(
            run_load(
                base_url,
                args.rate,
                args.duration,
                args.retry_fraction,
                warmup=args.workers * 8,
                seed=args.seed,
            )
        )
        cpu_during = cpu_used(cpu_before, cpu_by_pid(roles, name))
        latencies = [seconds * 1000 for seconds, _, _, _ in results]
        service = [seconds * 1000 for _, seconds, _, _ in results]
        statuses = Counter(status for _, _, status, _ in results)
        accepted = {sid for _, _, status, sid in results if status == 200}
        errors = sum(n for status, n in statuses.items() if status != 200)
        print(
            f"sent {len(results)} requests ({retries} retries) in {elapsed:.1f} s = {len(results) / elapsed:.1f} req/s"
        )
        if lateness:
            print(
                f"  client fell behind schedule on {len(lateness)} requests (max {max(lateness) * 1000:.0f} ms)"
            )
        print(
            f"latency ms (from when each request was due): p50 {percentile(latencies, 50):.1f}  "
            f"p90 {percentile(latencies, 90):.1f}  p99 {percentile(latencies, 99):.1f}  max {max(latencies):.1f}  "
            f"mean {statistics.mean(latencies):.1f}"
        )
        print(
            f"latency ms (from when each was sent):     p50 {percentile(service, 50):.1f}  "
            f"p90 {percentile(service, 90):.1f}  p99 {percentile(service, 99):.1f}  max {max(service):.1f}"
        )
        print(f"responses: {dict(statuses)}  errors: {errors}")
        print(
            f"CPU during the load ({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}): "
            + ", ".join(
                f"{role} {used / elapsed * 100:.0f}% ({used / len(results) * 1000:.2f} ms/request)"
                for role, used in cpu_during.items()
            )
        )
        time.sleep(1)
        if background:
            waited = wait_until_processed(url, timeout=300)
            print(f"  the workers finished answering {waited:.1f} s after the load ended")
        problems = check_database(url, sent_forms, accepted)
        p99 = percentile(latencies, 99)
        if p99 > args.p99_ms:
            problems.append(f"p99 {p99:.1f} ms is over {args.p99_ms:g} ms")
        if errors:
            problems.append(f"{errors} requests failed")
        print("RESULT: " + ("PASS" if not problems else "FAIL: " + "; ".join(problems)))
        return 0 if not problems else 1
    finally:
        for process in background or []:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=20)
        if server is not None and server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        if not args.keep:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    sys.exit(main())

"""The console as staff use it: headless Chromium against a real uvicorn server on a temporary
SQLite database seeded with cases. Also an axe-core scan of every page and screenshots for the
README (docs/screenshots/console-*.png)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, select

from intake.console.demo import DEMO_PASSWORD, DemoCase, ensure_demo_users, seed_case, seed_demo, seed_history
from intake.db import make_engine
from intake.migrate import upgrade
from intake.models import Attachment, Case, Correction, Message, Outbox
from intake.outbox import enqueue
from intake.policy import load_policy
from tests.browser import BROWSER_TESTS, SCREENSHOTS, chromium, serious_violations
from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
XSS = '<script>alert(1)</script> and <img src=x onerror=alert(1)> and "><svg onload=alert(1)>'

REVIEW_CASES = (
    DemoCase(
        "The fence panel blew down in the storm in March 2024 and nobody replaced it. I am only writing now.",
        "exclusion",
        "sms",
        "Ken Adams",
        phone="07700 900201",
        confidence=0.61,
        exclusion_reason="out_of_time",
        evidence=(("in March 2024", "exclusion:out_of_time"), ("nobody replaced it", "complaint")),
        days_ago=1,
    ),
    DemoCase(
        "hello is anyone there its about my sister's flat",
        "other",
        "web",
        "Lena Novak",
        email="lena.novak@example.org",
        confidence=0.41,
        days_ago=1,
    ),
    DemoCase(
        "Ive put in a claim with your insurers about the water damage from the flat above but I also want to "
        "complain that it took 3 weeks for anyone to come out",
        "exclusion",
        "email",
        "Sam Reid",
        email="sam.reid@example.org",
        confidence=0.58,
        exclusion_reason="insurance_claim",
        evidence=(
            ("put in a claim with your insurers", "exclusion:insurance_claim"),
            ("took 3 weeks", "complaint"),
        ),
        days_ago=0,
    ),
)

pytestmark = BROWSER_TESTS


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real server process on a free loopback port, with its own seeded SQLite database."""
    data_dir = tmp_path_factory.mktemp("console-server")
    url = f"sqlite:///{data_dir / 'triage.db'}"
    engine = make_engine(url)
    upgrade(engine)
    policy = load_policy("code-default")
    with Session(engine, expire_on_commit=False) as session:
        ensure_demo_users(session)
        seed_demo(session, policy)
        seed_history(session, policy)
        for number, extra in enumerate(REVIEW_CASES, start=80):
            seed_case(session, policy, extra, number=number)
        sms = seed_case(
            session,
            policy,
            DemoCase(XSS, "complaint", "sms", "Xss Sms", phone="07700 900999", days_ago=2),
            number=90,
        )
        email = seed_case(
            session,
            policy,
            DemoCase(XSS, "complaint", "email", "Xss <b>Email</b>", email="xss@example.org", days_ago=2),
            number=91,
        )
        sms_message = session.exec(select(Message).where(Message.case_id == sms.id)).one()
        session.add_all(
            [
                Attachment(
                    message_id=sms_message.id,
                    filename=XSS + ".html",
                    content_type="text/html",
                    size=90,
                    data=XSS.encode(),
                ),
                Attachment(
                    message_id=sms_message.id,
                    filename="walls.mp4",
                    content_type="video/mp4",
                    size=9 << 20,
                    truncated=True,
                ),
                Attachment(
                    message_id=sms_message.id,
                    filename="media-1.jpeg",
                    content_type="image/jpeg",
                    size=0,
                    url="https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM1/Media/ME1",
                ),
            ]
        )
        letter = enqueue(
            session,
            channel="email",
            to="old.address@example.org",
            body="...",
            kind="acknowledgement",
            case=email,
        )
        letter.status, letter.attempts, letter.last_error = "parked", 6, "550 5.1.1 mailbox unavailable"
        session.commit()
        xss_cases = {"sms": sms.public_id, "email": email.public_id}
    port = free_port()
    env = dict(
        os.environ,
        DATABASE_URL=url,
        DATA_DIR=str(data_dir),
        SECURE_COOKIES="false",
        SECRET_KEY="browser-test-secret-key",
        POLICY="code-default",
        LOGIN_RATE_LIMIT_PER_MINUTE="100",
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "bot.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=data_dir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server did not start: {process.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        process.terminate()
        raise RuntimeError("server did not answer within 60 seconds")
    yield {"base": base, "engine": engine, "xss": xss_cases}
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
    engine.dispose()


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser):
    # bypass_csp: the XSS checks must prove the escaping itself, not lean on the CSP header.
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-GB", bypass_csp=True)
    page = context.new_page()
    page.dialogs = []  # type: ignore[attr-defined]
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))  # type: ignore[attr-defined]
    yield page
    context.close()


def login(page, base: str, username: str) -> None:
    page.goto(f"{base}/staff/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/staff/queues/**")


def open_section(page, title: str) -> None:
    """Open a folded action section (a <details>), as a person would: click its summary if closed."""
    details = page.locator("details.action").filter(has=page.locator("summary", has_text=title))
    if details.get_attribute("open") is None:
        details.locator("summary").click()


def axe_check(page, name: str) -> None:
    serious = serious_violations(page)
    assert not serious, f"{name}: " + "; ".join(serious)


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"console-{name}.png"), full_page=True)


def test_an_agent_reviews_and_reclassifies_a_case(server, page):
    base = server["base"]
    login(page, base, "agent")
    page.get_by_role("navigation", name="Queues").get_by_role("link", name="Needs review").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Needs review"
    row = page.get_by_role("row").filter(has_text="Tom Price")
    reference = row.get_by_role("link").inner_text()
    row.get_by_role("link").click()
    assert page.get_by_role("heading", level=1).inner_text().endswith(reference)
    assert page.locator(".message__body mark.evidence").first.inner_text().startswith("look at the boiler")
    open_section(page, "Change the category")
    page.get_by_label("New category").select_option("complaint")
    page.get_by_label("Why (this helps train the classifier)").fill(
        "Second report: the contractor did not fix it"
    )
    page.get_by_role("button", name="Save the new category").click()
    page.get_by_role("status").filter(has_text="reclassified").wait_for()
    assert "Complaint" in page.locator(".case-head .tags").inner_text()
    with Session(server["engine"]) as session:
        case = session.exec(select(Case).where(Case.reference == reference)).one()
        assert case.category == "complaint" and case.stage == 1
        correction = session.exec(select(Correction).where(Correction.case_id == case.id)).one()
        assert correction.staff_username == "agent" and correction.to_category == "complaint"
    # An agent cannot confirm exclusions: the form is not offered.
    page.goto(f"{base}/staff/queues/needs_review")
    page.get_by_role("row").filter(has_text="Grace Obi").get_by_role("link").click()
    assert page.get_by_role("button", name="Confirm exclusion and send the decision letter").count() == 0


def test_an_officer_confirms_an_exclusion_and_the_letter_is_in_the_outbox(server, page):
    base = server["base"]
    login(page, base, "officer")
    page.get_by_role("row").filter(has_text="Grace Obi").get_by_role("link").click()
    reference = page.get_by_role("heading", level=1).inner_text().split()[-1]
    page.get_by_label("Anything else to tell the resident (optional)").fill(
        "We are sorry about the surveyor."
    )
    page.get_by_role("button", name="Confirm exclusion and send the decision letter").click()
    page.get_by_role("status").filter(has_text="Exclusion confirmed").wait_for()
    assert "Exclusion decision" in page.get_by_role("region", name="Letters and messages sent").inner_text()
    with Session(server["engine"]) as session:
        case = session.exec(select(Case).where(Case.reference == reference)).one()
        letter = session.exec(
            select(Outbox).where(Outbox.case_id == case.id, Outbox.kind == "exclusion_decision")
        ).one()
        assert letter.to_address == "grace.obi@example.org"
        assert "Housing Ombudsman" in letter.body and "court" in letter.body
        assert case.exclusion_decision == "confirmed"


@pytest.mark.parametrize("channel", ["sms", "email"])
def test_a_stored_xss_payload_renders_inert(server, page, channel):
    base = server["base"]
    login(page, base, "agent")
    page.goto(f"{base}/staff/queues/all?q=xss")
    assert page.get_by_role("row").filter(has_text="Xss").count() == 2
    assert page.get_by_text("Xss <b>Email</b>").count() == 1  # the name is shown as typed, not as bold
    page.goto(f"{base}/staff/cases/{server['xss'][channel]}")
    body = page.locator(".message__body").first
    assert "<script>alert(1)</script>" in body.inner_text()
    assert "<img src=x onerror=alert(1)>" in body.inner_text()
    assert page.locator(".message__body script, .message__body img, .message__body svg").count() == 0
    assert page.locator(".attachments script, .attachments img, .attachments svg").count() == 0
    page.wait_for_timeout(300)
    assert page.dialogs == []


def test_every_page_passes_axe_and_is_screenshotted(server, page):
    base = server["base"]
    page.goto(f"{base}/staff/login")
    axe_check(page, "login")
    shot(page, "login")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("alert").wait_for()
    axe_check(page, "login with an error")
    login(page, base, "agent")
    page.goto(f"{base}/staff/users")
    assert page.get_by_role("heading", level=1).inner_text() == "You cannot do this"
    axe_check(page, "403 page")
    page.goto(f"{base}/staff/cases/not-a-real-case-id")
    axe_check(page, "404 page")
    page.context.clear_cookies()
    login(page, base, "admin")
    for key in ("needs_review", "awaiting_acknowledgement", "all"):
        page.goto(f"{base}/staff/queues/{key}")
        axe_check(page, key)
    shot(page, "queue")
    page.goto(f"{base}/staff/queues/needs_review")
    shot(page, "needs-review")
    page.get_by_role("row").filter(has_text="Peter Walsh").get_by_role("link").click()
    axe_check(page, "case (exclusion)")
    shot(page, "case-exclusion")
    page.goto(f"{base}/staff/queues/all?q=Irene")
    page.get_by_role("row").filter(has_text="Irene Bell").get_by_role("link").click()
    for summary in page.locator("details.action > summary").all():
        open_section(page, summary.inner_text())
    axe_check(page, "case (complaint)")
    shot(page, "case")
    page.goto(f"{base}/staff/cases/{server['xss']['sms']}")
    assert "too large to keep" in page.locator(".attachments").inner_text()
    axe_check(page, "case (files sent with a text)")
    page.goto(f"{base}/staff/self-assessment")
    axe_check(page, "self-assessment")
    shot(page, "self-assessment")
    page.goto(f"{base}/staff/users")
    axe_check(page, "users")
    shot(page, "users")
    page.goto(f"{base}/staff/outbox")
    assert "mailbox unavailable" in page.locator("main").inner_text()
    axe_check(page, "messages not sent")
    shot(page, "not-sent")

"""The web chat in headless Chromium against a real uvicorn server: keyboard only, screen-reader
live region, escaping, reload, 200% text, visible focus, and an axe-core scan."""

from __future__ import annotations

import threading
import time

import pytest
from test_engine_support import fake_classify

from tests.browser import BROWSER_TESTS, SCREENSHOTS, chromium, serious_violations
from tests.servers import free_port

pytestmark = BROWSER_TESTS


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import uvicorn

    from bot.app import create_app
    from intake.db import make_engine
    from intake.migrate import upgrade
    from intake.settings import Settings

    data_dir = tmp_path_factory.mktemp("chat")
    settings = Settings(
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'chat.db'}",
        policy="code-default",
        secret_key="browser-test-secret",
        secure_cookies=False,
        public_rate_limit_per_minute=1000,
        _env_file=None,
    )
    engine = make_engine(settings.effective_database_url)
    upgrade(engine)
    app = create_app(settings, engine=engine, classify=fake_classify)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started:
        assert time.time() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    engine.dispose()


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{server}/chat")
    yield page
    context.close()


def wait_until(page, script: str, arg=None, timeout: float = 15) -> None:
    """Poll from Python: the page's CSP forbids eval, which Playwright's wait_for_function needs."""
    deadline = time.time() + timeout
    while not page.evaluate(script, arg):
        assert time.time() < deadline, f"timed out waiting for {script}"
        time.sleep(0.05)


def send_by_keyboard(page, text: str) -> None:
    bot_count = page.locator("#log .msg.bot").count()
    page.keyboard.type(text)
    page.keyboard.press("Enter")
    wait_until(page, "n => document.querySelectorAll('#log .msg.bot').length > n", bot_count)
    wait_until(page, "() => !document.getElementById('send').disabled")


def focus_message_box_with_keyboard(page) -> None:
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "message":
            return
    raise AssertionError("the message box cannot be reached with the Tab key")


def test_the_first_screen_shows_the_emergency_numbers(page):
    safety = page.locator(".safety")
    assert safety.is_visible()
    text = safety.inner_text()
    assert "0800 111 999" in text and "999" in text and "116 123" in text
    log = page.locator("#log")
    assert log.get_attribute("role") == "log" and log.get_attribute("aria-live") == "polite"
    assert page.get_by_label("Your message").is_visible()
    assert page.get_by_role("button", name="Send").is_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "chat-first-screen.png"))


def test_a_whole_complaint_by_keyboard_only_survives_a_reload(page):
    focus_message_box_with_keyboard(page)
    send_by_keyboard(page, "The repair is still not fixed and nobody came last Tuesday")
    assert "complaint is about" in page.locator("#log .msg.bot").last.inner_text()
    for answer in (
        "Fix it and say sorry",
        "I'm deaf, text only please",
        "no",
        "Text me on 07700 900123 in the evenings",
    ):
        send_by_keyboard(page, answer)
    last = page.locator("#log .msg.bot").last.inner_text()
    assert "we have your complaint, ref CMP-" in last
    assert page.evaluate("document.activeElement.id") == "message"  # focus stays where the resident types
    before = page.locator("#log .msg").all_inner_texts()
    page.reload()
    wait_until(page, "n => document.querySelectorAll('#log .msg').length >= n", len(before))
    assert page.locator("#log .msg").all_inner_texts() == before
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "chat.png"), full_page=True)


def test_resident_text_is_shown_as_text_never_run(page):
    nasty = '<img src=x onerror="alert(1)"><script>alert(2)</script><b>bold</b>'
    page.get_by_label("Your message").focus()
    send_by_keyboard(page, nasty)
    assert page.locator("#log .msg.resident .text").last.inner_text() == nasty
    assert page.locator("#log img, #log script, #log b").count() == 0
    page.reload()
    wait_until(page, "() => document.querySelectorAll('#log .msg.resident').length >= 1")
    assert page.locator("#log .msg.resident .text").last.inner_text() == nasty
    assert page.dialogs == []


def test_an_empty_message_gets_a_clear_prompt(page):
    page.get_by_label("Your message").focus()
    page.keyboard.press("Enter")
    assert "Please type a message first" in page.locator("#status").inner_text()


def test_urgent_gas_reply_in_the_browser(page):
    page.get_by_label("Your message").focus()
    send_by_keyboard(page, "I can smell gas in the kitchen")
    first_reply = page.locator("#log .msg.bot").nth(1).inner_text()
    assert "0800 111 999" in first_reply


def test_focus_is_visible_on_every_control(page):
    for selector in ("#message", "#send", "#new-chat", ".safety a"):
        page.locator(selector).first.focus()
        style = page.evaluate(
            "s => { const e = document.activeElement; const c = getComputedStyle(e);"
            " return [c.outlineStyle, c.outlineWidth, c.boxShadow]; }",
            selector,
        )
        assert style[0] != "none" and style[1] != "0px", (selector, style)


def test_it_works_at_200_percent_text(page):
    page.evaluate("document.documentElement.style.fontSize = '200%'")
    page.set_viewport_size({"width": 640, "height": 900})
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1
    box = page.get_by_label("Your message")
    box.focus()
    send_by_keyboard(page, "The plumber was brilliant")
    assert page.get_by_role("button", name="Send").is_visible()
    assert "thank you" in page.locator("#log .msg.bot").last.inner_text().lower()


def test_no_serious_or_critical_accessibility_problems(page):
    assert serious_violations(page) == []
    page.get_by_label("Your message").focus()
    send_by_keyboard(page, "My neighbour plays loud music every night")
    page.keyboard.press("Enter")  # an empty send shows the error state too
    assert serious_violations(page) == []


def test_start_a_new_chat_by_keyboard(page):
    page.get_by_label("Your message").focus()
    send_by_keyboard(page, "My neighbour plays loud music every night")
    assert "ASB team" in page.locator("#log .msg.bot").last.inner_text()
    old_token = page.evaluate("() => sessionStorage.getItem('chatToken')")
    page.get_by_role("button", name="Start a new chat").focus()
    page.keyboard.press("Enter")
    assert page.locator("#log .msg").count() == 1  # only the greeting
    assert "new chat has started" in page.locator("#status").inner_text()
    page.get_by_label("Your message").focus()
    send_by_keyboard(page, "The plumber was brilliant")
    assert page.evaluate("() => sessionStorage.getItem('chatToken')") != old_token


def test_it_reflows_on_a_small_phone(page):
    page.set_viewport_size({"width": 320, "height": 640})
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1
    assert page.locator(".safety").is_visible() and page.get_by_role("button", name="Send").is_visible()

"""`triage shell`: the real engine from a terminal, with piped lines and a JSON report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from test_engine_support import fake_classify
from typer.testing import CliRunner

from bot.commands import shell as shell_module

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cli(monkeypatch, engine, database_url, tmp_path):
    """The shell command on its own Typer app, against the test database, with the fake classifier."""
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        pass

    shell_module.register(app)
    monkeypatch.setattr(shell_module, "load_classify", lambda: fake_classify)
    env = {"DATABASE_URL": database_url, "DATA_DIR": str(tmp_path / "data"), "POLICY": "code-default"}
    runner = CliRunner()

    def run(*args: str, lines: list[str] | None = None):
        return runner.invoke(app, ["shell", *args], input="\n".join(lines or []) + "\n", env=env)

    return run


def report(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_complete_complaint_through_the_shell(cli, policy):
    from datetime import date

    result = cli(
        "--now",
        "2026-03-02",
        "--json",
        lines=[
            "I'm writing on behalf of my mum. Her heating is still not fixed and nobody came to the appointment.",
            "Three weeks ago",
            "Fix the heating and say sorry",
            "She is deaf, so text only please",
            "I'm John Smith, her son. She's happy for me to help.",
            "Text me in the evenings",
        ],
    )
    out = report(result)
    assert set(out) == {"conversation", "cases", "outbound"}
    assert out["conversation"]["state"] == "done" and out["conversation"]["channel"] == "sms"
    [case] = out["cases"]
    assert set(case) == {
        "reference",
        "category",
        "stage",
        "status",
        "urgent",
        "exclusion_reason",
        "adjustments",
        "advocate",
        "acknowledge_by",
        "outcome_sought",
    }
    assert case["category"] == "complaint" and case["stage"] == 1 and case["status"] == "stage1_in_progress"
    assert case["acknowledge_by"] == policy.acknowledge_by(date(2026, 3, 2)).isoformat()
    assert case["adjustments"] == ["deaf", "written_only"]
    assert case["advocate"] == {"name": "John Smith", "relationship": "son", "consent": "to_obtain"}
    assert case["outcome_sought"] == "Fix the heating and say sorry"
    assert len(out["outbound"]) == 6
    assert all(row["channel"] == "sms" and row["to"] == "+447700900001" for row in out["outbound"])
    assert case["reference"] in out["outbound"][-1]["body"]


@pytest.mark.parametrize(
    "lines, category",
    [
        (["My neighbour plays loud music every night"], "asb_report"),
        (["The tap is dripping in the bathroom", "no"], "service_request"),
        (["The plumber was brilliant"], "compliment"),
        (["There's a court claim already started about the damp"], "exclusion"),
        (["I can smell gas"], "service_request"),
    ],
)
def test_every_category_through_the_shell(cli, lines, category):
    out = report(cli("--json", "--now", "2026-03-02", lines=lines))
    assert [c["category"] for c in out["cases"]] == [category]
    if "gas" in lines[0]:
        assert out["cases"][0]["urgent"] and "0800 111 999" in out["outbound"][0]["body"]


def test_other_through_the_shell_answers_without_a_case(cli):
    out = report(cli("--json", lines=["What time do you open?"]))
    assert out["cases"] == [] and "Monday to Friday" in out["outbound"][0]["body"]


def test_web_and_email_channels(cli):
    out = report(cli("--json", "--channel", "web", lines=["The plumber was brilliant"]))
    assert out["outbound"][0]["channel"] == "web" and out["conversation"]["channel"] == "web"
    out = report(
        cli(
            "--json",
            "--channel",
            "email",
            "--from",
            "Resident <Someone@Example.COM>",
            lines=["The plumber was brilliant"],
        )
    )
    assert out["outbound"][0]["to"] == "someone@example.com"
    assert "Dear" in out["outbound"][0]["body"] or "Hello" in out["outbound"][0]["body"]


def test_without_json_it_prints_the_conversation(cli):
    result = cli(lines=["hi", "", "The plumber was brilliant"])
    assert result.exit_code == 0
    assert "You: hi" in result.stdout and "Bot: Hello" in result.stdout and "CPL-" in result.stdout


def test_each_shell_run_is_a_fresh_conversation(cli):
    first = report(cli("--json", lines=["I want to complain"]))
    second = report(cli("--json", lines=["hi"]))
    assert first["conversation"]["id"] != second["conversation"]["id"]
    assert second["conversation"]["state"] == "start"


@pytest.mark.parametrize(
    "args, words",
    [
        (["--channel", "fax"], "--channel must be one of"),
        (["--now", "tomorrow"], "--now must be a date"),
        (["--now", "2026-02-30"], "not a real date"),
        (["--from", "not a phone"], "--from must be a phone number"),
        (["--channel", "email", "--from", "nobody"], "--from must be an email address"),
        (["--channel", "web", "--from", "<script>"], "chat session token"),
    ],
)
def test_bad_arguments_give_a_clear_message_and_no_traceback(cli, args, words):
    result = cli(*args, lines=["hi"])
    assert result.exit_code == 2
    assert words in result.output and "Traceback" not in result.output


def test_the_installed_triage_command_runs_the_shell(engine, database_url, tmp_path):
    """The real `triage shell` in a subprocess, with the real classifier (skips if it cannot be imported)."""
    try:
        import classifier  # noqa: F401
        from classifier import classify  # noqa: F401
    except ImportError:
        pytest.skip("classifier.classify is not importable yet")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DATA_DIR": str(tmp_path / "data"),
        "POLICY": "code-default",
    }
    triage = Path(sys.executable).parent / "triage"
    result = subprocess.run(
        [str(triage), "shell", "--now", "2026-03-02", "--json"],
        input="The plumber was brilliant, thank you\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout)
    assert [c["category"] for c in out["cases"]] == ["compliment"]
    bad = subprocess.run(
        [str(triage), "shell", "--now", "nope"],
        input="",
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "--now" in bad.stderr


def test_interactive_at_a_terminal(engine, database_url, tmp_path):
    """At a real terminal (a pseudo-terminal here) the shell prompts, answers, and ends on Ctrl-D."""
    import pty
    import select
    import time

    try:
        from classifier import classify  # noqa: F401
    except ImportError:
        pytest.skip("classifier.classify is not importable yet")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DATA_DIR": str(tmp_path / "data"),
        "POLICY": "code-default",
    }
    master, slave = pty.openpty()
    triage = Path(sys.executable).parent / "triage"
    process = subprocess.Popen(
        [str(triage), "shell", "--now", "2026-03-02"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=ROOT,
    )
    os.close(slave)
    seen = b""

    def read_until(token: bytes, timeout: float = 120) -> None:
        nonlocal seen
        deadline = time.time() + timeout
        while token not in seen and time.time() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(master, 4096)
                except OSError:
                    return

    try:
        read_until(b"You: ")
        os.write(master, b"The plumber was brilliant, thank you\r")
        read_until(b"CPL-")
        read_until(b"You: ")
        os.write(master, b"\x04")  # Ctrl-D
        assert process.wait(60) == 0
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    text = seen.decode(errors="replace")
    assert "Ctrl-D to finish" in text and "Bot: " in text and "CPL-2026-" in text

"""`triage deadlines`: the Code's deadlines for a complaint, in working days."""

from __future__ import annotations

import json
from datetime import date

import typer

from bot.commands import fail, friendly_errors


def parse_date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option} must be a date written as YYYY-MM-DD, for example 2026-03-31 (got {value!r}).")
        raise  # unreachable: fail() exits


def register(app: typer.Typer) -> None:
    @app.command()
    def deadlines(
        received: str = typer.Option(..., "--received", help="Date the complaint was received (YYYY-MM-DD)."),
        acknowledged: str | None = typer.Option(
            None,
            "--acknowledged",
            help="Date it was acknowledged (YYYY-MM-DD). Default: the acknowledgement deadline.",
        ),
        policy: str | None = typer.Option(
            None, "--policy", help="Policy name (code-default, connect, connexus, saha) or a .toml file."
        ),
    ) -> None:
        """Print the acknowledgement and response deadlines as JSON."""
        from intake.policy import load_policy
        from intake.settings import get_settings

        received_on = parse_date(received, "--received")
        acknowledged_on = parse_date(acknowledged, "--acknowledged") if acknowledged else None
        if acknowledged_on is not None and acknowledged_on < received_on:
            fail("--acknowledged cannot be before --received.")
        with friendly_errors():
            chosen = load_policy(policy or get_settings().policy)
            result = chosen.deadlines(received_on, acknowledged_on)
        typer.echo(json.dumps({key: value.isoformat() for key, value in result.items()}, indent=2))

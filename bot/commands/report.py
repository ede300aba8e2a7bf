"""`triage report`: the self-assessment figures for a period."""

from __future__ import annotations

import csv
import json
import sys
from enum import StrEnum

import typer

from bot.commands import fail, friendly_errors
from bot.commands.deadlines import parse_date


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def register(app: typer.Typer) -> None:
    @app.command()
    def report(
        date_from: str = typer.Option(..., "--from", help="First day of the period (YYYY-MM-DD)."),
        date_to: str = typer.Option(..., "--to", help="Last day of the period (YYYY-MM-DD)."),
        output_format: Format = typer.Option(Format.table, "--format", help="table, csv or json."),
    ) -> None:
        """Complaint handling figures for the self-assessment and the Tenant Satisfaction Measures."""
        from sqlmodel import Session

        from intake.db import make_engine
        from intake.policy import load_policy
        from intake.report import flatten, self_assessment
        from intake.settings import get_settings

        start, end = parse_date(date_from, "--from"), parse_date(date_to, "--to")
        if end < start:
            fail("--to is before --from.")
        settings = get_settings()
        with friendly_errors():
            policy = load_policy(settings.policy)
            with Session(make_engine(settings.effective_database_url)) as session:
                figures = self_assessment(session, policy, start, end)
        if output_format is Format.json:
            typer.echo(json.dumps(figures, indent=2))
        elif output_format is Format.csv:
            writer = csv.writer(sys.stdout)
            writer.writerow(["measure", "value"])
            writer.writerows(flatten(figures))
        else:
            from rich.console import Console
            from rich.table import Table

            table = Table(title=f"{figures['landlord']}: complaints {start:%d %b %Y} to {end:%d %b %Y}")
            table.add_column("Measure")
            table.add_column("Value", justify="right")
            for measure, value in flatten(figures):
                table.add_row(measure, "-" if value is None else str(value))
            Console().print(table)

"""`triage user add`: staff logins. `triage export-corrections`: staff reclassifications as
training data (training_data/SCHEMA.md), so `triage train` learns from them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from sqlalchemy.exc import OperationalError

from bot.commands import fail, friendly_errors
from classifier.data import TRAINING_DIR

# Under training_data/, where `triage train` reads every *.jsonl file.
DEFAULT_CORRECTIONS = TRAINING_DIR / "corrections" / "staff_corrections.jsonl"


def correction_rows(session) -> list[dict[str, Any]]:
    """One training example per corrected case: the latest correction wins, so a text never
    carries two labels."""
    from sqlmodel import select

    from classifier.types import is_adjustment_code
    from intake.models import Correction

    latest: dict[int, Correction] = {}
    for correction in session.exec(select(Correction).order_by(Correction.created_at, Correction.id)).all():
        latest[correction.case_id] = correction
    rows = []
    for correction in sorted(latest.values(), key=lambda c: c.id):
        if not correction.text.strip():
            continue
        reason = " ".join(correction.reason.split())
        rows.append(
            {
                "id": f"corr-{correction.id:06d}",
                "text": correction.text,
                "received_at": correction.received_on.isoformat(),
                "channel": correction.channel if correction.channel in ("sms", "web", "email") else "web",
                "category": correction.to_category,
                "exclusion_reason": correction.to_exclusion_reason
                if correction.to_category == "exclusion"
                else None,
                "urgent": bool(correction.urgent),
                "advocate": bool(correction.advocate),
                "adjustments": [code for code in correction.adjustments or [] if is_adjustment_code(code)],
                "source": f"correction:{correction.staff_username}",
                "note": f"Staff changed {correction.from_category or 'unlabelled'} to {correction.to_category}: {reason}"[
                    :300
                ],
            }
        )
    return rows


def _migrated_engine():
    """The configured database, brought up to date; a clear message if it cannot be reached."""
    from intake.db import make_engine
    from intake.migrate import upgrade
    from intake.settings import get_settings

    engine = make_engine(get_settings().effective_database_url)
    try:
        upgrade(engine)
    except OperationalError as exc:
        fail(f"Could not reach the database ({str(exc.orig).splitlines()[0]}). Check DATABASE_URL.")
    return engine


def register(app: typer.Typer) -> None:
    user = typer.Typer(help="Staff logins for the console.", no_args_is_help=True)

    @user.command("add")
    def add(
        username: str = typer.Argument(..., help="Login name: letters, numbers, dots, dashes, underscores."),
        role: str = typer.Option(..., "--role", help="agent, complaints_officer or admin."),
        display_name: str = typer.Option("", "--name", help="Full name shown in the console."),
        password_stdin: bool = typer.Option(
            False, "--password-stdin", help="Read the password from standard input."
        ),
    ) -> None:
        """Create a staff login. Asks for the password unless --password-stdin is given."""
        from sqlmodel import Session

        from intake.staff_users import ROLES, create_user

        if role not in ROLES:
            fail(f"Unknown role {role!r}. Use one of: {', '.join(ROLES)}.")
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        with friendly_errors():
            with Session(_migrated_engine()) as session:
                created = create_user(session, username, password, role, display_name)
                session.commit()
                typer.echo(f"Added {created.username} ({role.replace('_', ' ')}).")

    app.add_typer(user, name="user")

    @app.command("export-corrections")
    def export_corrections(
        output: Path = typer.Option(
            DEFAULT_CORRECTIONS,
            "--output",
            help="Where to write the JSON Lines file ('-' for standard output).",
        ),
    ) -> None:
        """Write staff reclassifications in the training data format, source "correction:<username>"."""
        from sqlmodel import Session

        with friendly_errors():
            with Session(_migrated_engine()) as session:
                rows = correction_rows(session)
        text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        if str(output) == "-":
            sys.stdout.write(text)
            return
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            temporary = output.with_suffix(output.suffix + ".tmp")
            temporary.write_text(text, encoding="utf-8")
            temporary.replace(output)  # a reader (triage train) never sees half a file
        except OSError as exc:
            fail(f"Could not write {output}: {exc.strerror or exc}")
        typer.echo(f"Wrote {len(rows)} correction{'s' if len(rows) != 1 else ''} to {output}.", err=True)

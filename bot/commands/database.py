"""`triage db upgrade`: bring the database schema up to date."""

from __future__ import annotations

import typer

from bot.commands import friendly_errors


def register(app: typer.Typer) -> None:
    db = typer.Typer(help="Look after the database.", no_args_is_help=True)

    @db.command("upgrade")
    def upgrade_command() -> None:
        """Create or update the database tables (runs automatically when the product starts)."""
        from sqlalchemy.exc import OperationalError

        from intake.db import make_engine
        from intake.migrate import upgrade
        from intake.settings import get_settings

        settings = get_settings()
        with friendly_errors():
            try:
                upgrade(make_engine(settings.effective_database_url))
            except OperationalError as exc:
                from bot.commands import fail

                fail(f"Could not reach the database ({exc.orig}). Check DATABASE_URL.")
        typer.echo("The database is up to date.")

    app.add_typer(db, name="db")

"""Run the Alembic migrations (`triage db upgrade`, and at every start of `triage run`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Bring the database up to date. Safe to run from several processes at once on PostgreSQL."""
    config = alembic_config()
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # One migrator at a time when several app processes start together.
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(720451)")
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def autogenerate(url: str, message: str) -> None:
    """Developer helper: write a new revision from the difference between models and database."""
    command.revision(alembic_config(url), message=message, autogenerate=True)

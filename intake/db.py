"""Database engine and sessions. SQLite embedded by default, PostgreSQL via DATABASE_URL."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Table, bindparam, event, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, create_engine

# Dialects whose INSERT has ON CONFLICT ... RETURNING (SQLite 3.35+).
UPSERT_INSERTS = {"postgresql": postgresql.insert}
if sqlite3.sqlite_version_info >= (3, 35):
    UPSERT_INSERTS["sqlite"] = sqlite.insert


def normalise_url(url: str) -> str:
    """Accept `postgresql://` and `postgres://` and use the psycopg 3 driver for them."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


# The hot statements are built once and run with parameters: building a statement with its values
# inline costs more CPU per call (SQLAlchemy walks the values to make its cache key) than the
# database spends running it.
@functools.cache
def _insert_new_statement(dialect: str, table: Table, unique: tuple[str, ...]):
    return (
        UPSERT_INSERTS[dialect](table)
        .on_conflict_do_nothing(index_elements=list(unique))
        .returning(table.c.id)
    )


@functools.cache
def _increment_statement(dialect: str, table: Table, key: tuple[str, ...], column: str):
    values = {name: bindparam(f"key_{name}", type_=table.c[name].type) for name in key}
    statement = UPSERT_INSERTS[dialect](table).values({**values, column: 1})
    return statement.on_conflict_do_update(
        index_elements=list(key), set_={column: table.c[column] + 1}
    ).returning(table.c[column])


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """A session whose work commits together, or not at all."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def insert_new(session: Session, table: Table, row: dict, unique: tuple[str, ...]) -> int | None:
    """Insert `row` and return its id, or None if a row with the same `unique` columns exists.

    One statement on PostgreSQL and SQLite (INSERT ... ON CONFLICT DO NOTHING RETURNING id), so a
    retry racing the first delivery costs no error and no savepoint; elsewhere a savepoint."""
    dialect = session.get_bind().dialect.name
    if dialect in UPSERT_INSERTS:
        return session.execute(_insert_new_statement(dialect, table, unique), row).scalar_one_or_none()
    try:
        with session.begin_nested():
            return session.execute(insert(table).values(row).returning(table.c.id)).scalar_one()
    except IntegrityError:
        return None


def increment(session: Session, table: Table, key: dict, column: str) -> int:
    """Add one to `column` of the row matching `key`, creating the row (at 1) if there is none.
    Safe when several processes do it at once: returns this writer's own new value.

    PostgreSQL and SQLite do it in one statement (INSERT ... ON CONFLICT DO UPDATE ... RETURNING),
    which matters on hot paths such as the per-number rate limit of the SMS webhook."""
    dialect = session.get_bind().dialect.name
    if dialect in UPSERT_INSERTS:
        statement = _increment_statement(dialect, table, tuple(key), column)
        return session.execute(statement, {f"key_{name}": value for name, value in key.items()}).scalar_one()
    where = [table.c[name] == value for name, value in key.items()]
    for _ in range(5):
        row = session.execute(
            update(table).where(*where).values({column: table.c[column] + 1}).returning(table.c[column])
        ).first()
        if row is not None:
            return row[0]
        try:
            with session.begin_nested():
                session.execute(insert(table).values({**key, column: 1}))
            return 1
        except IntegrityError:
            pass  # another writer created the row first: take the next value from it
    raise RuntimeError(f"could not increment {table.name}")

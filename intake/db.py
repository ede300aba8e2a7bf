"""Database engine and sessions. SQLite embedded by default, PostgreSQL via DATABASE_URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Table, event, insert, update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, create_engine


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


def increment(session: Session, table: Table, key: dict, column: str) -> int:
    """Add one to `column` of the row matching `key`, creating the row (at 1) if there is none.
    Safe when several processes do it at once: returns this writer's own new value."""
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

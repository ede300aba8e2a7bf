"""Command modules for the `triage` CLI, plus the shared way they report errors."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer


def fail(message: str, code: int = 2) -> None:
    """Print a plain-English error on stderr and exit non-zero, never a traceback."""
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def friendly_errors(*error_types: type[Exception]) -> Iterator[None]:
    """Turn our own errors (PolicyError, IntakeError, ...) into a clear message and exit code 2."""
    from intake.errors import IntakeError

    try:
        yield
    except (IntakeError, *error_types) as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        typer.echo("Stopped.", err=True)
        sys.exit(130)

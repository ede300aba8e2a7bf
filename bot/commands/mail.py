"""`triage import-mail PATH` and `triage smtp-listen`: e-mail into the same engine as every channel.

import-mail takes a single .eml file, a folder of .eml files, a maildir (cur/new/tmp) or an mbox
file, and feeds each message through the same parser and handler as the live endpoints. Running
it twice imports nothing twice (messages are keyed by their Message-ID).
"""

from __future__ import annotations

import logging
import mailbox
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import typer

from bot.commands import fail, friendly_errors


def _is_mbox(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(5) == b"From "


def iter_mail(path: Path) -> tuple[int, Iterator[tuple[str, bytes]]]:
    """(how many, (label, raw bytes) for each message) in a file, folder, maildir or mbox."""
    if not path.exists():
        fail(f"There is nothing at {path}.")
    if path.is_dir():
        if all((path / sub).is_dir() for sub in ("cur", "new")):
            box = mailbox.Maildir(str(path), factory=None, create=False)
            keys = list(box.keys())
            return len(keys), ((f"{path.name}/{key}", box.get_bytes(key)) for key in keys)
        files = sorted(p for p in path.rglob("*.eml") if p.is_file())
        if not files:
            fail(f"{path} has no .eml files and is not a maildir (cur/ and new/ folders).")
        return len(files), ((str(p), p.read_bytes()) for p in files)
    if _is_mbox(path):
        box = mailbox.mbox(str(path), factory=None, create=False)
        keys = list(box.keys())
        return len(keys), ((f"{path.name}#{n + 1}", box.get_bytes(key)) for n, key in enumerate(keys))
    return 1, iter([(str(path), path.read_bytes())])


def _handler(settings, engine):
    from bot.commands.shell import load_classify
    from bot.pipeline import make_inbound_handler
    from intake.policy import load_policy

    return make_inbound_handler(engine, settings, load_policy(settings.policy), load_classify())


def import_mail(
    path: Path, *, use_date_header: bool, handle=None, settings=None, engine=None, progress: bool = True
) -> Counter:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from intake.db import make_engine
    from intake.migrate import upgrade
    from intake.settings import get_settings
    from integrations.email_in import message_date, receive_email

    settings = settings or get_settings()
    if engine is None:
        engine = make_engine(settings.effective_database_url)
        upgrade(engine)
    from intake.events import install_case_event_hooks

    install_case_event_hooks(engine, settings.webhook_urls)  # cases opened by imported mail tell the HMS too
    handle = handle or _handler(settings, engine)
    total, messages = iter_mail(path)
    counts: Counter = Counter()
    columns = (TextColumn("importing mail"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=True, disable=not progress) as bar:
        task = bar.add_task("import", total=total)
        for label, raw in messages:
            try:
                if len(raw) > settings.max_email_bytes:
                    raise ValueError(f"it is over the {settings.max_email_bytes // (1024 * 1024)} MB limit")
                received_at = message_date(raw) if use_date_header else None
                message, result = receive_email(
                    raw, engine=engine, handle=handle, settings=settings, received_at=received_at
                )
            except ValueError as exc:
                counts["refused"] += 1
                typer.echo(f"{label}: not imported: {exc}", err=True)
            else:
                if result.duplicate:
                    counts["already imported"] += 1
                elif message.automatic:
                    counts["automatic (recorded, not answered)"] += 1
                else:
                    counts["imported"] += 1
            bar.advance(task)
    return counts


def register(app: typer.Typer) -> None:
    @app.command("import-mail")
    def import_mail_command(
        path: Path = typer.Argument(
            ..., help="An .eml file, a folder of .eml files, a maildir or an mbox file."
        ),
        use_date_header: bool = typer.Option(
            True, "--date-header/--now", help="Date each message by its Date header (default), or by now."
        ),
    ) -> None:
        """Import e-mails as if they had just arrived (each is handled once, however often you run it)."""
        with friendly_errors():
            counts = import_mail(path, use_date_header=use_date_header)
        summary = ", ".join(f"{n} {what}" for what, n in counts.items()) or "nothing to import"
        typer.echo(f"Done: {summary}.")
        if counts["refused"]:
            raise typer.Exit(1)

    @app.command("smtp-listen")
    def smtp_listen() -> None:
        """Receive mail by SMTP on SMTP_LISTEN_HOST:SMTP_LISTEN_PORT (keep it behind your mail server)."""
        import threading

        from intake.db import make_engine
        from intake.migrate import upgrade
        from intake.settings import get_settings
        from integrations.smtp_listener import start_listener

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP line at INFO
        settings = get_settings()
        engine = make_engine(settings.effective_database_url)
        with friendly_errors():
            upgrade(engine)
            from intake.events import install_case_event_hooks

            install_case_event_hooks(engine, settings.webhook_urls)
            handle = _handler(settings, engine)
            try:
                controller = start_listener(settings, engine, handle)
            except (OSError, RuntimeError) as exc:
                fail(f"Could not listen on {settings.smtp_listen_host}:{settings.smtp_listen_port}: {exc}")
            typer.echo(
                f"Listening for mail on {settings.smtp_listen_host}:{settings.smtp_listen_port}. Press Ctrl+C to stop."
            )
            try:
                threading.Event().wait()
            finally:
                controller.stop()

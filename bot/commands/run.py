"""`triage run`, `triage dispatch`: the web app and the outbox dispatcher."""

from __future__ import annotations

import logging
import secrets
import threading

import typer

from bot.commands import fail, friendly_errors


def prepare(settings, *, demo: bool) -> tuple[object, str | None]:
    """Migrate the database and make sure a demo login exists. Returns (engine, demo password)."""
    from sqlalchemy.exc import OperationalError
    from sqlmodel import Session, select

    from intake.db import make_engine
    from intake.migrate import upgrade
    from intake.models import StaffUser
    from intake.staff_users import create_user, hash_password

    engine = make_engine(settings.effective_database_url)
    try:
        upgrade(engine)
    except OperationalError as exc:
        fail(f"Could not reach the database ({exc.orig}). Check DATABASE_URL.")
    password = None
    if demo:
        password = secrets.token_urlsafe(9)
        with Session(engine) as session:
            user = session.exec(select(StaffUser).where(StaffUser.username == "demo")).first()
            if user is None:
                create_user(session, "demo", password, "admin", display_name="Demo Officer")
            else:
                user.password_hash = hash_password(password)
                user.failed_logins = 0
                user.locked_until = None
                session.add(user)
            session.commit()
    return engine, password


def start_dispatcher(engine, settings, stop: threading.Event) -> threading.Thread | None:
    from bot.senders import build_senders
    from intake.outbox import Dispatcher

    senders = build_senders(settings, engine)
    if not senders:
        return None
    return _background("outbox-dispatcher", Dispatcher(engine, senders).run_forever, stop)


def start_conversation_worker(engine, settings, stop: threading.Event) -> threading.Thread:
    """Process stored messages whose first attempt failed, and open unfinished complaints for staff."""
    from bot.pipeline import make_inbound_handler
    from classifier import classify
    from intake.policy import load_policy

    handler = make_inbound_handler(engine, settings, load_policy(settings.policy), classify)
    return _background("conversation-worker", handler.run_worker, stop)


def start_media_fetcher(engine, settings, stop: threading.Event) -> threading.Thread | None:
    """Download MMS photos Twilio still holds (it needs our credentials, and may delete them),
    outside any request or message transaction. None when Twilio is not configured."""
    from integrations.twilio_media import fetch_media_forever

    if not settings.twilio_credentials_set:
        return None
    return _background("mms-media", fetch_media_forever, stop, engine, settings)


def _background(name: str, loop, stop: threading.Event, *args) -> threading.Thread:
    """Run `loop(*args, should_stop=stop.is_set)` in a daemon thread; it ends when `stop` is set."""
    thread = threading.Thread(
        target=loop, args=args, kwargs={"should_stop": stop.is_set}, name=name, daemon=True
    )
    thread.start()
    return thread


def register(app: typer.Typer) -> None:
    @app.command()
    def run(
        host: str = typer.Option("127.0.0.1", help="Address to listen on."),
        port: int = typer.Option(8000, help="Port to listen on."),
        workers: int = typer.Option(
            1, help="Web worker processes (state is in the database, so any number works)."
        ),
        dispatcher: bool = typer.Option(
            True, help="Also run the background work here: send queued messages, finish stored ones."
        ),
        demo: bool = typer.Option(True, help="Create (or reset) the 'demo' staff login and print it."),
    ) -> None:
        """Start the web chat, webhooks and staff console (and the outbox dispatcher)."""
        import uvicorn

        from intake.settings import get_settings

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        settings = get_settings()
        with friendly_errors():
            engine, password = prepare(settings, demo=demo)
        base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
        typer.echo("")
        typer.echo(f"  Web chat for residents:  {base}/chat")
        typer.echo(f"  Staff console:           {base}/staff")
        if password:
            typer.echo(f"  Demo staff login:        username demo, password {password}")
        typer.echo(f"  Database:                {engine.url.render_as_string(hide_password=True)}")
        typer.echo("")
        stop = threading.Event()
        if dispatcher:
            start_dispatcher(engine, settings, stop)
            start_conversation_worker(engine, settings, stop)
            start_media_fetcher(engine, settings, stop)
        try:
            uvicorn.run(
                "bot.app:create_app", factory=True, host=host, port=port, workers=workers, log_level="info"
            )
        finally:
            stop.set()

    @app.command()
    def worker(
        send: bool = typer.Option(
            True, help="Also send queued messages (or leave that to `triage dispatch`)."
        ),
    ) -> None:
        """Background work for a scaled deployment: answer stored messages and send queued ones."""
        from intake.db import make_engine
        from intake.settings import get_settings

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        settings = get_settings()
        engine = make_engine(settings.effective_database_url)
        stop = threading.Event()
        threads = [start_conversation_worker(engine, settings, stop)]
        if send and (sender_thread := start_dispatcher(engine, settings, stop)) is not None:
            threads.append(sender_thread)
        if (media_thread := start_media_fetcher(engine, settings, stop)) is not None:
            threads.append(media_thread)
        typer.echo("Worker running. Press Ctrl+C to stop.")
        try:
            while all(t.is_alive() for t in threads):
                threads[0].join(timeout=1)
        except KeyboardInterrupt:
            typer.echo("Stopping.", err=True)
        finally:
            stop.set()

    @app.command()
    def dispatch(
        once: bool = typer.Option(False, "--once", help="Send what is due now, then stop."),
    ) -> None:
        """Send queued messages (run as many of these as you like against one PostgreSQL)."""
        from bot.senders import build_senders
        from intake.db import make_engine
        from intake.outbox import Dispatcher
        from intake.settings import get_settings

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        settings = get_settings()
        engine = make_engine(settings.effective_database_url)
        senders = build_senders(settings, engine)
        if not senders:
            fail("No channel is configured for sending (set the Twilio or SMTP settings).")
        dispatcher = Dispatcher(engine, senders)
        if once:
            sent = 0
            while batch := dispatcher.run_once():
                sent += batch
            typer.echo(f"Attempted {sent} message(s).")
            return
        typer.echo(f"Dispatcher {dispatcher.worker_id} sending {', '.join(senders)}. Press Ctrl+C to stop.")
        with friendly_errors():
            dispatcher.run_forever()

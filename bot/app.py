"""The app factory: builds the web app and hands each channel adapter the function to call."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from intake.db import make_engine
from intake.policy import load_policy
from intake.settings import Settings, get_settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, engine: Engine | None = None, classify=None) -> FastAPI:
    settings = settings or get_settings()
    engine = engine or make_engine(settings.effective_database_url)
    app = FastAPI(title="Complaint triage", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.engine = engine
    app.state.policy = load_policy(settings.policy)

    # The conversation engine behind every channel: adapters get this function, never the engine.
    from bot.pipeline import make_inbound_handler
    from integrations.web_chat import web_chat_router

    if classify is None:
        from classifier import classify
    app.state.inbound_handler = make_inbound_handler(engine, settings, app.state.policy, classify)
    app.include_router(web_chat_router(app.state.inbound_handler))

    from intake.events import install_case_event_hooks
    from integrations.email_http import email_router
    from integrations.twilio_sms import twilio_router

    app.include_router(twilio_router(app.state.inbound_handler))  # /twilio/sms, /twilio/sms/status
    app.include_router(email_router(app.state.inbound_handler))  # /inbound/email
    install_case_event_hooks(engine, settings.webhook_urls)  # case.created / case.updated -> outbox

    # The staff console under /staff, after the channels: requests are matched against routes in
    # order, and the webhooks are the hot path.
    from intake.console import install as install_console

    install_console(app)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app

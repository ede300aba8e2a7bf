"""The dispatcher's senders: web chat always; a web chat reply the page has not fetched yet is delivered."""

from sqlmodel import Session, select

from bot.senders import build_senders
from intake.models import Outbox
from intake.outbox import DELIVERED, Dispatcher, enqueue


def test_web_chat_replies_are_delivered_by_the_dispatcher_with_nothing_configured(settings, engine):
    unconfigured = settings.model_copy(update={"smtp_host": "", "webhook_urls": ""})
    senders = build_senders(unconfigured, engine)
    assert "web" in senders and "sms" not in senders
    with Session(engine) as session:
        enqueue(
            session, channel="web", to="chat-token-abcdefghijklmnop", body="Thanks, we have it.", kind="reply"
        )
        session.commit()
    assert Dispatcher(engine, senders).run_once() == 1
    with Session(engine) as session:
        row = session.exec(select(Outbox)).one()
        assert row.status == DELIVERED and row.delivered_at is not None

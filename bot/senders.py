"""The outbox dispatcher's senders, one per channel, built from settings.

A channel with no sender configured (for example SMS without Twilio credentials) is not
claimed by the dispatcher: its messages wait in the outbox, visible to staff, until it is.
"""

from __future__ import annotations

from intake.outbox import Sender
from intake.settings import Settings


def build_senders(settings: Settings) -> dict[str, Sender]:
    senders: dict[str, Sender] = {}
    return senders

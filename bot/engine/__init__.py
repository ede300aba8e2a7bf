"""The conversation engine: channel-agnostic, state in the database.

Channel adapters never import this: the app factory builds the handler with
`make_inbound_handler(engine, settings, policy, classify)` and hands it to them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.engine.core import CANCELLED, ConversationEngine, StaleConversation, TurnOutcome
from bot.engine.flows import Classify

if TYPE_CHECKING:
    from intake.inbound import InboundHandler


def make_inbound_handler(engine: Any, settings: Any, policy: Any, classify: Classify) -> InboundHandler:
    """The store-first pipeline around a ConversationEngine (see bot.pipeline)."""
    from bot.pipeline import make_inbound_handler as make

    return make(engine, settings, policy, classify)


__all__ = [
    "CANCELLED",
    "Classify",
    "ConversationEngine",
    "StaleConversation",
    "TurnOutcome",
    "make_inbound_handler",
]

"""End to end with the real classifier: whole conversations, one per category (skips cleanly only
if classifier.classify cannot be imported yet)."""

from __future__ import annotations

import pytest
from test_engine_support import Chat, real_classify  # noqa: F401

from bot.pipeline import make_inbound_handler
from intake.sms_text import sms_segments


@pytest.fixture
def chat(engine, settings, policy, real_classify):  # noqa: F811
    return Chat(handler=make_inbound_handler(engine, settings, policy, real_classify), engine=engine)


def fits(chat):
    return all(sms_segments(row.body) <= 2 for row in chat.outbox(include_cancelled=True))


def test_real_complaint_with_adjustment_and_advocate_in_six_turns(chat):
    chat.send(
        "I'm writing on behalf of my mum. Her heating is still not fixed and nobody came to the appointment last week."
    )
    for answer in (
        "We want the heating fixed this week and an apology",
        "She is deaf, so text only please",
        "I'm John Smith, her son. She's happy for me to help.",
        "Text me in the evenings",
        "Text me in the evenings",
        "Text me in the evenings",
    ):
        if chat.conversation().state == "done":
            break
        chat.send(answer)
    assert chat.turns <= 6
    [case] = chat.cases()
    assert case.category == "complaint" and case.acknowledged_on is not None
    assert "deaf" in chat.adjustments(case)
    assert chat.advocate(case) is not None
    assert fits(chat)


@pytest.mark.parametrize(
    "text, category",
    [
        ("My neighbour plays loud music every night until 3am and shouts at my kids", "asb_report"),
        ("The plumber who came on Tuesday was brilliant, thank you so much", "compliment"),
        ("I have started a court claim against you about the damp in my flat", "exclusion"),
        ("My kitchen tap is dripping, can someone come and look at it please", "service_request"),
    ],
)
def test_real_categories_are_recorded(chat, text, category):
    chat.send(text)
    if chat.conversation().state == "clarify":  # the model was unsure: one question, then a decision
        chat.send("It's the first time I've told you" if category == "service_request" else "no")
    assert category in [c.category for c in chat.cases()]
    assert fits(chat)


def test_real_gas_smell_gets_the_emergency_number_first(chat):
    result = chat.send("I can smell gas in my kitchen")
    assert "0800 111 999" in result.replies[0]
    assert any(c.urgent for c in chat.cases())


def test_real_self_harm_gets_samaritans_first(chat):
    result = chat.send("I can't cope any more, I want to end it all")
    assert "116 123" in result.replies[0]


def test_real_opening_hours_question(chat):
    result = chat.send("What time do you open?")
    assert "Monday to Friday" in result.replies[0]
    assert chat.cases() == []

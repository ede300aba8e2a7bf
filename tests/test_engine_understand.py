"""Reading short answers: the helpers the conversation engine leans on."""

from __future__ import annotations

import pytest

from bot.engine import understand as U


@pytest.mark.parametrize(
    "text, answer",
    [("yes", True), ("Yes please", True), ("yeah", True), ("YES!", True), ("no", False), ("No thanks", False),
     ("nope", False), ("none", False), ("no heating for a week", None), ("maybe", None), ("", None)],
)  # fmt: skip
def test_yes_and_no(text, answer):
    assert U.yes_no(text) is answer


@pytest.mark.parametrize(
    "text, wanted",
    [
        ("STOP", "stop"), ("stop please", "stop"), ("start again", "restart"), ("Can we start over?", "restart"),
        ("speak to a person", "human"), ("I want to talk to someone", "human"), ("human", "human"),
        ("I want to make a complaint", "complain"), ("complaint", "complain"), ("I'd like to complain", "complain"),
        ("the flat is not fit for human habitation and the damp is getting worse every single week", None),
        ("I tried to speak to someone at your office on Monday but nobody answered the phone at all", None),
        ("stop the leak please", None), ("hello", None),
    ],
)  # fmt: skip
def test_what_a_resident_can_say_at_any_point(text, wanted):
    assert U.intent(text) == wanted


def test_content_beyond_i_want_to_complain():
    assert not U.has_content("Hi, I want to make a formal complaint please")
    assert U.has_content("I want to complain, the repair man was rude to me")
    assert not U.has_content("I want to complain about how you've dealt with it")
    assert U.has_content("I want to complain about how you've dealt with it, nobody came on Tuesday")


@pytest.mark.parametrize(
    "text, codes",
    [
        ("I'm deaf and use BSL", ["deaf"]), ("large print please", ["sight_loss"]), ("I have dyslexia", ["dyslexia"]),
        ("I suffer from anxiety, text only please", ["mental_health", "written_only"]),
        ("I use a wheelchair", ["mobility"]), ("I need a Polish interpreter", ["interpreter:polish"]),
        ("my mum only speaks Urdu", ["interpreter:urdu"]), ("no thanks", []),
    ],
)  # fmt: skip
def test_support_needs(text, codes):
    assert U.find_adjustments(text) == codes


def test_who_is_helping():
    read = U.read_advocate("Yes my daughter Sarah Jones helps me", writer_is_advocate=False)
    assert (read.name, read.relationship, read.writer_is_advocate) == ("Sarah Jones", "daughter", False)
    read = U.read_advocate(
        "I'm his support worker, Tom Price. He is happy for me to act", writer_is_advocate=False
    )
    assert read.relationship == "support worker" and read.writer_is_advocate and read.says_consent
    assert U.read_advocate("My name is Mrs Okafor, I'm her neighbour", True).name == "Mrs Okafor"


def test_how_and_when_to_contact():
    answer = U.read_contact("Text me after 6pm on 07700 900123")
    assert (answer.method, answer.time, answer.phone) == ("sms", "after 6pm", "07700 900123")
    assert U.read_contact("email me at a.b@example.com, mornings").method == "email"
    assert U.read_contact("phone calls in the afternoon please").time == "afternoon"


def test_when_it_happened():
    for text in ("since January", "three weeks ago", "last Tuesday", "on 3/2/2026", "for months"):
        assert U.mentions_when(text), text
    assert not U.mentions_when("the tap is dripping")


def test_what_would_put_it_right():
    assert U.find_outcome("It leaks. I want it fixed by Friday. Thanks") == "I want it fixed by Friday."
    assert U.find_outcome("It leaks again") is None


def test_the_point_comes_first():
    text = "Dear Sir, I'm writing on behalf of my dad. His toilet has leaked for weeks."
    assert U.key_sentence_first(text) == "His toilet has leaked for weeks. I'm writing on behalf of my dad."


@pytest.mark.parametrize(
    "answer, candidates, category",
    [
        ("It's the first time", ["service_request", "complaint"], "service_request"),
        ("I told you before and nothing has been done", ["service_request", "complaint"], "complaint"),
        ("I'm unhappy with how he spoke to me", ["compliment", "exclusion"], "complaint"),
        ("it's the people next door", ["complaint", "asb_report"], "asb_report"),
        ("no, just to say thanks", ["complaint", "compliment"], "compliment"),
        ("a repair I need", ["exclusion", "other"], "service_request"),
        ("hmm", ["service_request", "complaint"], None),
    ],
)
def test_answers_to_a_clarifying_question(answer, candidates, category):
    assert U.read_clarification(answer, candidates) == category

"""The label-audit rules of 26 Nov 2026 (training_data/README.md): request versus enquiry (R1),
thanks after a fix, escalations and sarcasm, and implied advocates versus a resident's own worker."""

from __future__ import annotations

from datetime import date

import pytest

import classifier
from classifier import classify
from classifier.rules import analyse


@pytest.fixture(scope="session", autouse=True)
def model():
    return classifier.ensure_model()


RECEIVED = date(2026, 11, 20)


def test_rules_mark_a_relative_described_by_age_as_an_implied_advocate_cue():
    assert "adv_implied" in analyse("my grandad's 91 and the ramp rail has come loose").tokens
    assert "adv_implied" in analyse("hi its about my auntie at 4 Kiln Row, her door sticks").tokens
    assert "adv_implied" not in analyse("I'm 82 and my door sticks").tokens


def test_rules_mark_a_resident_mentioning_their_own_worker():
    tokens = analyse("My key worker said I should email you, the bath tap drips").tokens
    assert "adv_own_worker" in tokens
    assert "adv_own_worker" not in analyse("I am Mr Lee's key worker, he has asked me to email you").tokens


@pytest.mark.parametrize(
    "text",
    [
        "my gran is 86 and she's been without a working cooker since saturday, she lives at 3 Poplar Walk",
        "Its about my dad, he's 77, at 19 Cobb Lane. His bedroom radiator won't come on at all.",
    ],
)
def test_a_relative_implied_but_writing_for_them_is_an_advocate(text):
    assert classify(text, RECEIVED).advocate


@pytest.mark.parametrize(
    "text",
    [
        "My support worker suggested I message you. The bedroom window handle has snapped off. Flat 2 Weir House",
        "me and my key worker are coming in on monday about my universal credit, is the office open at 9",
    ],
)
def test_a_resident_mentioning_their_own_support_worker_is_not_an_advocate(text):
    assert not classify(text, RECEIVED).advocate


@pytest.mark.parametrize(
    "text",
    [
        "Please can you email me a rent statement for the last six months. 8 Tansy Close",
        "could someone ring me back today please, 07700 900518, about my tenancy",
        "Subject: New phone number\n\nPlease update my mobile to 07700 900733 on my account. Thanks, Rory Kemp, 4 Ash Row",
    ],
)
def test_asking_the_landlord_to_send_call_or_change_something_is_a_service_request(text):
    assert classify(text, RECEIVED).category == "service_request"


@pytest.mark.parametrize(
    "text",
    [
        "what time does the office shut on christmas eve",
        "How do I set up paying my rent by direct debit?",
    ],
)
def test_a_question_an_answer_settles_is_other(text):
    assert classify(text, RECEIVED).category == "other"


def test_thanks_for_a_fixed_problem_with_nothing_outstanding_is_a_compliment():
    text = "Just to say thank you for sorting the damp in my hallway, it's all dry and freshly painted now. Lovely job."
    assert classify(text, RECEIVED).category == "compliment"


@pytest.mark.parametrize(
    "text",
    [
        "Thanks for fixing the tap, but the fitter cracked my sink doing it and nobody has been back since.",
        "wow amazing service again, 3 weeks and still no hot water",
        "I want my complaint moved to stage 2, your stage 1 answer ignored half of what I said.",
    ],
)
def test_remaining_dissatisfaction_sarcasm_and_escalation_are_complaints(text):
    assert classify(text, RECEIVED).category == "complaint"

"""Label-audit rule R2 of 26 Nov 2026 (training_data/README.md): complaint versus service request.

A message that says the landlord already failed on this matter is a complaint even when it also
asks for the repair; a first report, or one that says in so many words that it is the first
report, with no dissatisfaction, is a service request."""

from __future__ import annotations

from datetime import date

import pytest

import classifier
from classifier import classify
from classifier.rules import analyse
from classifier.textclean import clean


@pytest.fixture(scope="session", autouse=True)
def model():
    return classifier.ensure_model()


RECEIVED = date(2026, 11, 20)


def _first_report(text: str) -> bool:
    return any(hit.label == "cue:first_report" for hit in analyse(text).hits)


def test_rules_mark_an_explicit_first_report():
    assert _first_report("first time I've reported this, the loft hatch has dropped")
    assert _first_report("no drama, just a normal repair: the shed door hinge has gone")
    assert not _first_report("third time I've reported the loft hatch")
    assert not _first_report("I'm not a complainer but nobody has come")


def test_a_portal_field_saying_not_reported_before_is_dropped_for_the_model_only():
    text = "Describe the problem: shower pump humming\nReported before: No\nBest time: mornings"
    cleaned = clean(text)
    assert "Reported before" not in cleaned.model.text
    assert "Reported before: No" in cleaned.rules.text
    repeat = "Describe the problem: shower pump humming\nReported before: Yes, twice in May, nobody came"
    assert "Reported before: Yes" in clean(repeat).model.text


@pytest.mark.parametrize(
    "text",
    [
        "Describe the problem: the kitchen extractor hood light has stopped\nReported before: No\nAccess: weekdays",
        "the shed roof felt has lifted in the wind, first time we've reported anything here. 9 Tansy Close",
    ],
)
def test_a_first_report_with_no_dissatisfaction_is_a_service_request(text):
    assert classify(text, RECEIVED).category == "service_request"


@pytest.mark.parametrize(
    "text",
    [
        "first time I've reported it online but I've rang twice and nobody came, the toilet still won't flush",
        "the plasterer was booked for Tuesday and never turned up, can someone please rebook the bedroom ceiling",
        "Reported the dripping overflow in August, the man came, said it was sorted, and it's dripping again.",
    ],
)
def test_a_request_that_says_the_landlord_already_failed_is_a_complaint(text):
    assert classify(text, RECEIVED).category == "complaint"

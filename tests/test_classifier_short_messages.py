"""Short messages: a bare answer is not a complaint, and 'I want to complain' is never an exclusion."""

import pytest

from classifier import classify, ensure_model


@pytest.fixture(scope="module", autouse=True)
def model():
    ensure_model()


@pytest.mark.parametrize(
    "text", ["I want to complain", "i want to make a complaint", "Complaint please", "I wish to complain"]
)
def test_asking_to_complain_is_a_complaint_never_an_exclusion(text):
    triage = classify(text)
    assert triage.category == "complaint", triage
    assert triage.exclusion_reason is None


@pytest.mark.parametrize("text", ["no", "No.", "yes", "ok", "yeah ok", "nope"])
def test_a_bare_answer_has_nothing_actionable_yet(text):
    assert classify(text).category == "other"


def test_a_short_message_with_a_clear_exclusion_cue_is_still_an_exclusion():
    triage = classify("my solicitor has issued a claim at the county court about the damp")
    assert triage.category == "exclusion" and triage.exclusion_reason == "legal_proceedings"


def test_no_heating_is_not_mistaken_for_a_bare_no():
    assert classify("no heating or hot water").category != "other"

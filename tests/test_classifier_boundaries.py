"""The hard boundaries of TRIAGE_GUIDE.md, on messages written for these tests (not from training or dev data)."""

from __future__ import annotations

from datetime import date

import pytest

import classifier
from classifier import classify


@pytest.fixture(scope="session", autouse=True)
def model():
    """Train (only if missing or stale) and load the model once for the session."""
    return classifier.ensure_model()


RECEIVED = date(2025, 11, 3)


def category(text: str, received_at: date = RECEIVED) -> str:
    return classify(text, received_at).category


# Rule 1: dissatisfaction with the landlord wins; an angry *first* report is still a service request.
def test_first_repair_report_written_angrily_is_a_service_request():
    text = (
        "Absolutely fuming, the kitchen extractor fan has died this morning and the whole flat stinks of "
        "frying. Can you get someone round to replace it please. 27 Larkhill Road"
    )
    assert category(text) == "service_request"


def test_repeat_report_after_a_failed_visit_is_a_complaint():
    text = (
        "Your electrician came last Thursday about the extractor fan and said it was sorted. It stopped again "
        "the same evening. Second time I'm asking, and I took a day off work for that visit."
    )
    assert category(text) == "complaint"


def test_missed_appointment_is_a_complaint_without_the_word_complaint():
    text = (
        "waited in all day tues for the window fitter, nobody showed up and nobody rang to say. 8 harrow ct"
    )
    assert category(text) == "complaint"


# Rule 2: ASB about a neighbour is asb_report; how the landlord handled it is a complaint.
def test_a_neighbour_report_is_asb():
    text = (
        "The couple in the flat below have been having screaming rows and slamming doors past midnight most "
        "nights this week. My baby keeps waking up."
    )
    assert category(text) == "asb_report"


def test_you_have_done_nothing_about_my_neighbour_is_a_complaint():
    text = (
        "I have reported the noise from the flat below to your ASB officer five times since the summer, sent "
        "the diary sheets she asked for, and nobody has done a single thing. I'm not happy with how you have "
        "handled this at all."
    )
    assert category(text) == "complaint"


def test_the_word_complaint_about_a_neighbour_is_still_asb():
    text = (
        "I want to make a complaint about my neighbour at number 14. His dogs bark all day while he is at work "
        "and they go for my children through the fence."
    )
    assert category(text) == "asb_report"


# Rule 3: a threat is not proceedings; a claim filed at court is.
def test_a_threat_to_sue_stays_a_complaint():
    text = (
        "Three months the damp in the back bedroom has been ignored. Fix it by Friday or I'll be taking you to "
        "court, I mean it."
    )
    triage = classify(text, RECEIVED)
    assert triage.category == "complaint"
    assert triage.exclusion_reason is None


def test_a_claim_filed_at_court_is_an_exclusion_for_legal_proceedings():
    text = (
        "My solicitor issued a disrepair claim against you in the county court last month about the damp in "
        "my flat. I want to complain about it as well."
    )
    triage = classify(text, RECEIVED)
    assert triage.category == "exclusion"
    assert triage.exclusion_reason == "legal_proceedings"
    assert triage.needs_review  # only staff decide an exclusion


# Out of time: an old issue still happening is a complaint; one that ended over a year ago is not.
def test_an_old_issue_that_is_still_happening_is_a_complaint():
    text = (
        "The bathroom extractor has not worked since 2019 and it is still not working now. The mould keeps "
        "coming back on the ceiling and you keep promising a new fan."
    )
    assert category(text) == "complaint"


def test_an_issue_that_ended_more_than_a_year_ago_is_out_of_time():
    text = (
        "Back in February 2023 your contractors damaged my garden fence while replacing the windows. The fence "
        "was fixed by my brother at the time but I never got paid for the panels. I want to complain about it."
    )
    triage = classify(text, date(2025, 9, 1))
    assert triage.category == "exclusion"
    assert triage.exclusion_reason == "out_of_time"
    assert any(e.label == "exclusion:out_of_time" and "2023" in e.text for e in triage.evidence)


# Rule 4: praise for one thing and dissatisfaction with another is a complaint.
def test_praise_with_dissatisfaction_is_a_complaint():
    text = (
        "The roofer you sent was lovely and tidy, credit to him. But the guttering he was meant to replace is "
        "still hanging off, the office never booked the second visit and nobody answers my emails."
    )
    assert category(text) == "complaint"


def test_plain_thanks_is_a_compliment():
    text = "Just a note to say the caretaker at Fairview has done a wonderful job with the gardens this spring. Thank you!"
    assert category(text) == "compliment"


# Rule 5: nothing actionable yet.
@pytest.mark.parametrize("text", ["hello", "what are your office opening hours on saturdays?"])
def test_greetings_and_enquiries_are_other(text):
    assert category(text) == "other"


def test_first_report_of_a_repair_is_a_service_request():
    assert (
        category("Hi, the hinge on my bedroom wardrobe door has snapped. Could someone fit a new one please?")
        == "service_request"
    )


@pytest.mark.parametrize(
    "text, reason",
    [
        (
            "I am writing as the ward councillor for Eastfield. Several residents in my ward have raised the "
            "condition of the play area with me and I would like to know your plans for it.",
            "elected_representative",
        ),
        (
            "I have already made a claim on your insurance for the sofa the leak ruined, claim ref 55-2231, and "
            "nobody from the insurers has replied in six weeks.",
            "insurance_claim",
        ),
        (
            "You sent me your stage 2 final response about the leaking roof in March. I do not agree with it and "
            "want the same complaint looked at again.",
            "previously_considered",
        ),
        (
            "My council tax bill has gone up by £200 this year and I think the banding is wrong, it's a disgrace.",
            "other_organisation",
        ),
        (
            "After your gas engineer left on Monday £60 was missing from my purse on the kitchen table. He stole it, "
            "I am certain.",
            "criminal_allegation",
        ),
    ],
)
def test_exclusion_reasons(text, reason):
    triage = classify(text, RECEIVED)
    assert (triage.category, triage.exclusion_reason) == ("exclusion", reason)


@pytest.mark.parametrize(
    "text",
    [
        "If you don't pay for the freezer full of food your electrician ruined, I'm taking you to small claims.",
        "The service charge for the lift doubled while it was broken for months. Justify it or I'll apply to "
        "the tribunal.",
        "If the roof isn't fixed by the end of the month I will take you to the county court over it.",
    ],
)
def test_a_threat_of_small_claims_court_or_tribunal_stays_a_complaint(text):
    triage = classify(text, RECEIVED)
    assert triage.category == "complaint"
    assert triage.exclusion_reason is None


def test_a_threat_word_does_not_hide_a_claim_already_issued():
    from classifier.rules import analyse

    result = analyse(
        "if you want the details, the claim was issued at the county court last month, ref k7q1."
    )
    assert "legal_proceedings" in result.exclusion_cues
    assert not result.legal_threat_only

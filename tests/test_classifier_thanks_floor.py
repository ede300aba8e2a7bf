"""Thanks that recount the fixed problem stay a compliment (guide rule 4 needs dissatisfaction).

`COMPLAINT_FLOOR` turns a close call into a complaint. For a message the model reads as a
compliment first, that happens only when something in it says what is still wrong: a
dissatisfaction cue or a turn such as "but", "again", "still" (`decide._plain_thanks`)."""

from __future__ import annotations

from datetime import date

import pytest

import classifier
from classifier import classify
from classifier.decide import COMPLAINT_FLOOR, _plain_thanks
from classifier.rules import analyse

RECEIVED = date(2026, 11, 20)


@pytest.fixture(scope="session", autouse=True)
def model():
    return classifier.ensure_model()


def _plain(text: str) -> bool:
    return _plain_thanks(analyse(text), text)


def test_plain_thanks_needs_no_cue_and_no_turn():
    assert _plain("reported the leak monday and it was fixed by wednesday, thanks to whoever sorted it")
    assert _plain("Diolch yn fawr to Dafydd for the new tap, all lovely now")
    assert not _plain("the plumber was lovely but the pipe is leaking again")
    assert not _plain("thanks for coming, shame the boiler still isn't working")
    assert not _plain("thanks for nothing")
    assert not _plain("thanks for the visit, though nobody came back to finish the job")
    assert not _plain("Diolch, ond mae'r tap yn gollwng eto")


THANKS = [
    "I reported the broken gate on Monday and it was fixed on Wednesday. The kids are made up. "
    "Thanks to whoever sorted it.",
    "the leak i reported on sunday is fixed already, plumber was spot on. cheers",
    "WOW that was quick!!! Reported the leak at 9 and it was fixed by 12. Impressed",
]


@pytest.mark.parametrize("text", THANKS)
def test_thanks_for_a_fixed_problem_is_a_compliment(text):
    result = classify(text, RECEIVED)
    assert result.category == "compliment", result.probabilities
    assert result.probabilities["complaint"] < result.probabilities["compliment"]


MIXED = [
    "The plumber Kevin was very nice and helpful, but after he left the pipe is leaking again under the sink. "
    "Please send him again.",
    "Thanks for coming out about the boiler, the engineer was polite, but it's still not working and nobody has "
    "rung me back.",
]


@pytest.mark.parametrize("text", MIXED)
def test_praise_with_something_still_wrong_stays_a_complaint(text):
    result = classify(text, RECEIVED)
    assert result.category == "complaint", result.probabilities
    assert result.probabilities["complaint"] >= COMPLAINT_FLOOR

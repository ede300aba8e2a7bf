"""Flags beside the category: urgent risks, advocates, adjustment codes, and evidence spans."""

from __future__ import annotations

from datetime import date

import pytest

import classifier
from classifier import classify, is_adjustment_code


@pytest.fixture(scope="session", autouse=True)
def model():
    return classifier.ensure_model()


RECEIVED = date(2025, 12, 8)


@pytest.mark.parametrize(
    "text, kind",
    [
        (
            "There's a really strong smell of gas on our landing at Hollins Court, I think it's coming from number 6.",
            "gas",
        ),
        (
            "The tumble dryer in the communal laundry has caught fire, everyone's out and the fire brigade are coming.",
            "fire",
        ),
        (
            "Pipe under the sink has burst and water is pouring across the kitchen floor, I can't find the stop tap!!",
            "flood",
        ),
        (
            "the socket behind my telly keeps sparking when i plug anything in, theres a black mark round it",
            "electrics",
        ),
        (
            "Boiler's packed up, no heating and no hot water since Saturday, I've got a newborn and it's freezing.",
            "no_heat_vulnerable",
        ),
        (
            "The black mould in my son's room is back and he's been in hospital twice with his asthma this winter.",
            "damp_mould_health",
        ),
        (
            "The man from the flat above said he'll stab me if I report his dog again. I'm scared to go out.",
            "violence",
        ),
        (
            "i cant do this anymore, i keep thinking about ending my life. the flat is falling apart around me",
            "self_harm",
        ),
        (
            "Please help, my partner hit me again last night and I need the locks changed before he comes back.",
            "domestic_abuse",
        ),
    ],
)
def test_urgent_risks_are_flagged(text, kind):
    triage = classify(text, RECEIVED)
    assert triage.urgent
    assert triage.urgent_kind is not None
    assert any(e.label.startswith("urgent") for e in triage.evidence) or kind in ("flood",)


def test_structural_danger_is_urgent():
    text = "Part of the bedroom ceiling has just come down on the bed, plaster everywhere and the rest is bowing badly."
    assert classify(text, RECEIVED).urgent


@pytest.mark.parametrize(
    "text",
    [
        "Could someone paint the front door of the block? It's peeling quite badly.",
        "The boiler was fixed on Monday and the engineer was great, thank you.",
        "What day are the communal windows cleaned at Rowan House?",
    ],
)
def test_everyday_messages_are_not_urgent(text):
    assert not classify(text, RECEIVED).urgent


@pytest.mark.parametrize(
    "text",
    [
        "I'm writing on behalf of my dad, who is your tenant at 4 Quarry Lane. His back door won't lock.",
        "I am a support worker at Harbour Trust and my client, Ms Dee Lowe, has asked me to contact you about her damp.",
        "My mum is 88 and can't use a computer so I'm emailing for her: her kitchen tap has been leaking for a week.",
    ],
)
def test_advocates_are_flagged(text):
    assert classify(text, RECEIVED).advocate


def test_a_resident_writing_for_themselves_is_not_an_advocate():
    assert not classify(
        "My bathroom light has stopped working, could someone replace the fitting please?", RECEIVED
    ).advocate


@pytest.mark.parametrize(
    "text, code",
    [
        (
            "I'm profoundly deaf so please don't ring me, text or email only. The front door buzzer is broken.",
            "deaf",
        ),
        (
            "I am registered blind and need all letters in large print please. The hall light is out.",
            "sight_loss",
        ),
        ("I have dyslexia so sorry for the spelling. The gutter is leaking over the back door.", "dyslexia"),
        (
            "My brother has a learning disability, please explain things to him simply. His shower is broken.",
            "learning_disability",
        ),
        (
            "My husband has dementia and forgets appointments, please call me before anyone visits.",
            "cognitive",
        ),
        (
            "I suffer with severe anxiety and panic attacks, so please write to me rather than turning up.",
            "mental_health",
        ),
        ("I'm a wheelchair user and the ramp to my front door has cracked right across.", "mobility"),
        ("I can't read or write so please phone me, don't send letters. My window won't shut.", "phone_only"),
        ("Please contact me in writing only, I cannot use the phone since my hearing went.", "written_only"),
    ],
)
def test_adjustment_codes(text, code):
    triage = classify(text, RECEIVED)
    assert code in triage.adjustments
    assert all(is_adjustment_code(c) for c in triage.adjustments)
    assert any(e.label == f"adjustment:{code}" for e in triage.evidence)


@pytest.mark.parametrize(
    "text, code",
    [
        ("My mother needs a Polish interpreter when your surveyor comes on Tuesday.", "interpreter:polish"),
        ("Hello. I only speak Arabic. Water coming from ceiling. Please help, flat 3.", "interpreter:arabic"),
        (
            "Mae'r drws ffrynt wedi torri ers dydd Llun a does neb wedi dod i'w drwsio. Diolch.",
            "interpreter:welsh",
        ),
        (
            "Dzień dobry, w mojej łazience jest bardzo dużo pleśni i nie mogę otworzyć okna. Proszę o pomoc.",
            "interpreter:polish",
        ),
    ],
)
def test_interpreter_codes_name_the_language_in_lower_case(text, code):
    assert code in classify(text, RECEIVED).adjustments


def test_no_adjustments_when_no_need_is_shown():
    assert (
        classify(
            "The communal bins at Oak Court are overflowing again, can they be emptied?", RECEIVED
        ).adjustments
        == ()
    )


def test_evidence_spans_index_the_original_text_even_after_quoted_replies_are_stripped():
    text = (
        "Hi,\n\nStill nobody has come about the leak, this is the third time I've chased. My daughter's "
        "asthma is worse with the damp.\n\nKind regards\nTess Moran\n07700 900 123\n\n"
        "On Mon, 3 Nov 2025 at 09:12, Repairs Team <repairs@example.org> wrote:\n"
        "> Thank you for contacting us. We will be in touch within 5 working days.\n"
    )
    triage = classify(text, RECEIVED)
    assert triage.category == "complaint"
    assert triage.evidence
    for evidence in triage.evidence:
        assert text[evidence.start : evidence.end] == evidence.text
        assert evidence.start < text.index("On Mon")  # nothing from the quoted reply decided it


def test_result_carries_the_model_version_and_calibrated_probabilities():
    triage = classify("My kitchen tap drips constantly, can someone replace the washer?", RECEIVED)
    assert triage.model_version.startswith("triage-")
    assert abs(sum(triage.probabilities.values()) - 1.0) < 1e-3
    assert 0.0 <= triage.confidence <= 1.0
    assert triage.needs_review == (triage.confidence < classifier.decide.REVIEW_THRESHOLD)


def test_a_message_in_a_language_the_model_cannot_read_goes_to_a_person():
    triage = classify(
        "Bună ziua, în apartamentul meu nu este apă caldă de trei zile. Vă rog să trimiteți pe cineva.",
        RECEIVED,
    )
    assert "interpreter:romanian" in triage.adjustments
    assert triage.needs_review


@pytest.mark.parametrize(
    "text, kind",
    [
        (
            "My carbon monoxide detector keeps going off in the kitchen and the boiler flame looks orange.",
            "gas",
        ),
        ("There's an eggy smell by the cooker since I got up, is that normal?", "gas"),
        (
            "The light switch on the landing feels hot and there's a crackling noise when I touch it.",
            "electrics",
        ),
        (
            "Honestly everyone would be better off if I wasn't around any more, the flat is the last straw.",
            "self_harm",
        ),
    ],
)
def test_indirectly_worded_risks_are_flagged(text, kind):
    triage = classify(text, RECEIVED)
    assert triage.urgent
    assert any(e.label == f"urgent:{kind}" for e in triage.evidence)


def test_a_relative_named_formally_or_signing_as_family_is_an_advocate():
    text = (
        "My father Mr Idris Lane has lived at 5 Kiln Street for thirty years. His kitchen window will not "
        "close and the handle has come off. Could someone visit this week?\n\nBeth Lane (daughter)"
    )
    triage = classify(text, RECEIVED)
    assert triage.advocate
    assert any(e.label == "advocate" for e in triage.evidence)


def test_someone_typing_for_the_resident_is_an_advocate():
    assert classify(
        "My grandson is doing this message for me as my eyes are bad. The path light outside my door is out.",
        RECEIVED,
    ).advocate


def test_an_unreadable_message_is_treated_as_possibly_urgent_and_a_possible_complaint():
    triage = classify(
        "Dzień dobry, piszę w sprawie mieszkania. Proszę o kontakt po polsku, nie mówię dobrze po angielsku.",
        RECEIVED,
    )
    assert triage.needs_review and triage.unreadable_language == "polish"
    assert triage.urgent  # nobody has read it yet, so it cannot be ruled safe
    assert triage.category == "complaint"  # until a person has read it, the costly miss is ruled out


def test_welsh_and_english_are_read_not_passed_on():
    for text in (
        "Mae'r boeler wedi torri eto a does neb wedi dod i'w drwsio. Dyma'r trydydd tro i mi ffonio.",
        "The boiler has broken again and nobody came to fix it. This is the third time I have rung.",
    ):
        assert classify(text, RECEIVED).unreadable_language is None


def test_an_insecure_door_with_someone_trying_it_is_urgent():
    triage = classify(
        "The back door still won't lock after the repair and last night someone tried the handle at 2am.",
        RECEIVED,
    )
    assert triage.urgent
    assert any(e.label == "urgent:danger" for e in triage.evidence)


def test_a_resident_trying_their_own_stiff_lock_is_not_an_intruder():
    from classifier.rules import analyse

    assert "danger" not in analyse("i tried the door handle again and it still won't lock properly").urgent

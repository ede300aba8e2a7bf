"""Date reasoning for out_of_time, and the text cleaning that keeps evidence offsets true."""

from __future__ import annotations

from datetime import date

import pytest

from classifier.dates import read_dates
from classifier.textclean import clean

RECEIVED = date(2025, 6, 10)


@pytest.mark.parametrize(
    "text",
    [
        "your contractor broke my shed roof two years ago and i was never paid for it",
        "back in march 2024 the caretaker threw away my bike from the bike store",
        "in 2022 the windows were replaced and my curtains were ruined",
        "on 14/02/2023 the roofer dropped a slate on my car",
        "the year before last your painter spilled gloss on my carpet",
        "in the winter of 2022 the heating failed for a week",
    ],
)
def test_an_issue_more_than_twelve_months_old_is_out_of_time(text):
    assert read_dates(text, RECEIVED).out_of_time


@pytest.mark.parametrize(
    "text",
    [
        "the damp started in 2019 and it is still happening every winter",
        "since 2019 the gutter has leaked and nothing has been done",
        "last year you told me the fence would be replaced",
        "two months ago nobody turned up for the boiler service",
        "in april 2025 the plumber left the job unfinished",
        "the leak has been going on for three years and it is getting worse",
        "i only just found out that the work done in 2022 was never signed off",
    ],
)
def test_recent_ongoing_or_newly_discovered_issues_are_not_out_of_time(text):
    assert not read_dates(text, RECEIVED).out_of_time


def test_the_date_phrase_is_located_for_evidence():
    text = "back in march 2024 the caretaker threw away my bike"
    reading = read_dates(text, RECEIVED)
    assert text[reading.oldest.start : reading.oldest.end] == "march 2024"


def test_received_at_anchors_relative_dates():
    text = "the fence was damaged eighteen months ago, it was repaired at the time"
    assert read_dates(text, date(2025, 6, 1)).out_of_time
    assert not read_dates("the fence was damaged six months ago", date(2025, 6, 1)).out_of_time


def test_quoted_reply_and_signature_are_dropped_but_offsets_map_back():
    text = (
        "The repair still isn't done.\n"
        "Regards\n"
        "Sam Patel\n"
        "Support Worker, Hope Trust\n"
        "\n"
        "On Tue, 4 Mar 2025 at 10:00, Housing <housing@example.org> wrote:\n"
        "> We have closed your job.\n"
    )
    cleaned = clean(text)
    assert "closed your job" not in cleaned.rules.text
    assert "Support Worker" in cleaned.rules.text  # the rules still see who is writing
    assert "Support Worker" not in cleaned.model.text  # the model reads the message itself
    start = cleaned.rules.text.index("Support Worker")
    o_start, o_end = cleaned.rules.to_original(start, start + len("Support Worker"))
    assert text[o_start:o_end] == "Support Worker"


def test_forwarded_headers_are_dropped_and_the_forwarded_body_kept():
    text = (
        "See below, still no reply.\n"
        "---------- Forwarded message ---------\n"
        "From: Jo Bell <jo@example.com>\n"
        "Date: Mon, 1 Sep 2025\n"
        "Subject: Leak\n"
        "\n"
        "The leak in my bathroom is back for the third time.\n"
    )
    cleaned = clean(text)
    assert "From: Jo Bell" not in cleaned.model.text
    assert "third time" in cleaned.model.text


def test_disclaimers_and_device_footers_are_dropped():
    text = (
        "The lift is broken again.\n"
        "Sent from my iPhone\n"
        "This email and any attachments are confidential and intended solely for the addressee.\n"
    )
    cleaned = clean(text)
    assert cleaned.model.text.strip() == "The lift is broken again."

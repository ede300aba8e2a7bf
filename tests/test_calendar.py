"""The working-day clock: Monday to Friday less the nation's bank holidays."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intake.calendar import NATIONS, WorkingDayCalendar, calendar_for

dates = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))
nations = st.sampled_from(sorted(NATIONS))
day_counts = st.integers(min_value=0, max_value=60)


@given(dates, day_counts, nations)
def test_the_deadline_is_always_a_working_day_after_the_start(start, days, nation):
    calendar = calendar_for(nation)
    deadline = calendar.add_working_days(start, days)
    if days == 0:
        assert deadline == start
    else:
        assert deadline > start
        assert calendar.is_working_day(deadline)


@given(dates, day_counts, nations)
def test_counting_the_working_days_back_gives_the_same_number(start, days, nation):
    calendar = calendar_for(nation)
    assert calendar.working_days_between(start, calendar.add_working_days(start, days)) == days


@given(dates, st.integers(min_value=1, max_value=40), nations)
def test_one_more_day_never_gives_an_earlier_deadline(start, days, nation):
    calendar = calendar_for(nation)
    assert calendar.add_working_days(start, days) < calendar.add_working_days(start, days + 1)


@given(dates, st.integers(min_value=1, max_value=30), nations)
def test_adding_in_two_steps_is_the_same_as_adding_at_once(start, days, nation):
    calendar = calendar_for(nation)
    split = days // 2
    assert calendar.add_working_days(calendar.add_working_days(start, split), days - split) == (
        calendar.add_working_days(start, days)
    )


@given(dates, nations)
def test_a_weekend_or_holiday_arrival_counts_like_the_day_before_the_next_working_day(received, nation):
    calendar = calendar_for(nation)
    if calendar.is_working_day(received):
        return
    first_working = calendar.next_working_day(received)
    assert calendar.add_working_days(received, 1) == first_working


@given(dates, st.integers(min_value=1, max_value=30), nations)
def test_a_deadline_never_falls_short_of_the_calendar_days_it_spans(start, days, nation):
    deadline = calendar_for(nation).add_working_days(start, days)
    assert (deadline - start).days >= days
    assert (deadline - start).days <= days * 7 // 5 + 12  # weekends plus at most a run of holidays


def test_five_working_days_from_thursday_skip_the_weekend():
    assert calendar_for("england").add_working_days(date(2026, 11, 26), 5) == date(2026, 12, 3)


def test_christmas_and_new_year_bank_holidays_are_skipped_in_england():
    # 25 Dec (Fri), 28 Dec (Boxing Day substitute), 1 Jan 2027 are bank holidays.
    assert calendar_for("england").add_working_days(date(2026, 12, 24), 5) == date(2027, 1, 5)


def test_nations_have_their_own_bank_holidays():
    england, scotland, ni = (
        calendar_for("england"),
        calendar_for("scotland"),
        calendar_for("northern_ireland"),
    )
    st_andrews_substitute = date(2026, 11, 30)  # St Andrew's Day, Scotland only
    assert not scotland.is_working_day(st_andrews_substitute)
    assert england.is_working_day(st_andrews_substitute)
    assert not ni.is_working_day(date(2026, 7, 13))  # Battle of the Boyne (12 July is a Sunday)
    assert england.is_working_day(date(2026, 7, 13))
    assert not scotland.is_working_day(date(2027, 1, 4))  # 2 January substitute
    assert england.is_working_day(date(2027, 1, 4))
    assert not england.is_working_day(date(2026, 4, 6))  # Easter Monday
    assert scotland.is_working_day(date(2026, 4, 6))


def test_message_received_on_a_saturday_is_counted_from_monday():
    saturday = date(2026, 11, 28)
    assert calendar_for("england").add_working_days(saturday, 1) == saturday + timedelta(days=2)


def test_an_unknown_nation_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="england"):
        WorkingDayCalendar("france")

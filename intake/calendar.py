"""The one working-day calendar. Every deadline in the product is computed here.

Convention: "N working days after D" counts from the first working day after D. A message
received on a weekend or bank holiday is dated to that day and counted the same way, so the
first working day after it is day 1.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays

NATIONS = {
    "england": "ENG",
    "wales": "WLS",
    "scotland": "SCT",
    "northern_ireland": "NIR",
}


class WorkingDayCalendar:
    """Monday to Friday, less the bank holidays of one UK nation (from the `holidays` package)."""

    def __init__(self, nation: str = "england") -> None:
        if nation not in NATIONS:
            raise ValueError(f"unknown nation {nation!r}; use one of {', '.join(NATIONS)}")
        self.nation = nation
        self._holidays = holidays.country_holidays("GB", subdiv=NATIONS[nation])

    def is_bank_holiday(self, day: date) -> bool:
        return day in self._holidays

    def bank_holiday_name(self, day: date) -> str | None:
        return self._holidays.get(day)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self._holidays

    def add_working_days(self, start: date, days: int) -> date:
        """The date that is `days` working days after `start` (counting from the next working day)."""
        if days < 0:
            raise ValueError("days must not be negative")
        current = start
        remaining = days
        while remaining:
            current += timedelta(days=1)
            if self.is_working_day(current):
                remaining -= 1
        return current

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end`; negative when `end` is before `start`.

        `working_days_between(d, add_working_days(d, n)) == n` for every d and n.
        """
        if end == start:
            return 0
        sign = 1
        if end < start:
            start, end, sign = end, start, -1
        count = 0
        current = start
        while current < end:
            current += timedelta(days=1)
            if self.is_working_day(current):
                count += 1
        return sign * count

    def next_working_day(self, day: date) -> date:
        """`day` itself when it is a working day, otherwise the first working day after it."""
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day


@lru_cache(maxsize=8)
def calendar_for(nation: str) -> WorkingDayCalendar:
    return WorkingDayCalendar(nation)

"""Date reasoning for the `out_of_time` exclusion (TRIAGE_GUIDE.md; Code 2.2, 2.3).

An issue is out of time when it happened, or the resident became aware of it,
more than 12 months before the message arrived. Doubt goes to the resident:
"last year", an issue that is still happening ("since 2019 and it's still
happening") or a date we cannot place are all *not* out of time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

_MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4,
    "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9, "sept": 9,
    "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12, "december": 12,
}  # fmt: skip
_SEASONS = {"spring": 4, "summer": 7, "autumn": 10, "fall": 10, "winter": 1, "christmas": 12, "easter": 4}
_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "eighteen": 18,
    "twenty": 20, "couple of": 2, "a couple of": 2, "few": 3, "a few": 3, "several": 3, "many": 4,
}  # fmt: skip
_NUM = r"(\d{1,2}|a couple of|a few|couple of|few|several|many|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|eighteen|twenty)"
_MONTH = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_YEAR = r"((?:19|20)\d\d)"

_AGO = re.compile(rf"\b{_NUM}\s+(years?|yrs?|months?)\s+ago\b")
_OVER_AGO = re.compile(rf"\b(?:over|more than)\s+{_NUM}\s+(years?|yrs?|months?)\s+ago\b")
_MONTH_YEAR = re.compile(
    rf"\b(?:(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?)?{_MONTH}\.?,?\s+(?:of\s+)?{_YEAR}\b"
)
_SEASON_YEAR = re.compile(
    r"\b(spring|summer|autumn|fall|winter|christmas|easter)\s+(?:of\s+)?" + _YEAR + r"\b"
)
_NUMERIC_DATE = re.compile(r"\b(\d{1,2})[/.-](\d{1,2})[/.-]((?:19|20)?\d\d)\b")
_DIGIT_SEPARATOR = re.compile(r"\d[/.-]\d")  # in every `_NUMERIC_DATE` match; much faster to look for
_BARE_YEAR = re.compile(
    r"\b(?:in|during|from|since|of|back in|around|about|early|late|mid|year)\s+(?:early\s+|late\s+|mid\s+)?"
    + _YEAR
    + r"\b"
)
_ANY_YEAR = re.compile(r"(?:19|20)\d\d")
_YEAR_BEFORE_LAST = re.compile(r"\b(?:the\s+)?year\s+before\s+last\b")
_FOR_YEARS = re.compile(rf"\bfor\s+(?:over\s+|more than\s+|the (?:last|past)\s+)?{_NUM}\s+(years?|yrs?)\b")
_SINCE = re.compile(r"\b(?:ever\s+)?since\b")

# Words that say the problem is still going on now.
_ONGOING = re.compile(
    r"\b(?:still|ongoing|on-going|continu\w*|to this day|keeps?\b|kept\b|again\b|every (?:winter|year|time|week|month|day)"
    r"|each (?:winter|year)|never (?:been )?(?:fixed|sorted|resolved|repaired)|not (?:been )?(?:fixed|sorted|resolved|repaired)"
    r"|hasn'?t (?:been )?(?:fixed|sorted|resolved|stopped)|has(?:n'?t| not) stopped|remains?\b|persist\w*|getting worse"
    r"|worse and worse|all this time|since then|currently|at the moment|is back|came back|come back|returned)"
)
# Words that say the problem is over.
_ENDED = re.compile(
    r"\b(?:moved out|moved away|no longer (?:live|living|a tenant)|(?:was|got|been) (?:eventually |finally )?(?:fixed|sorted|resolved|repaired)"
    r"|ended|stopped|back then|at the time|left the property|have since moved|has since been|since been (?:fixed|sorted|resolved))\b"
)
# Recent-awareness words: the resident only just found out.
_RECENT = re.compile(
    r"\b(?:just (?:found|discovered|noticed|realised|realized|learned|learnt)|only (?:just )?(?:found out|discovered|noticed|realised|realized)"
    r"|recently (?:found|discovered|noticed|realised|realized)|last week|yesterday|this week|this morning|today|few days ago)\b"
)

OUT_OF_TIME_MONTHS = 12

_SPECIAL = "\\()[]{}?*+|.^$"


def _alternatives(src: str, start: int) -> tuple[list[str], int] | None:
    """The top-level alternatives of the group whose body starts at `start`, and where it closes."""
    parts, depth, i, begin = [], 0, start, start
    while i < len(src):
        c = src[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":  # a character class: to its closing bracket
            i = src.find("]", i + 2)
            if i < 0:
                return None
        elif c == "(":
            depth += 1
        elif c == ")":
            if depth == 0:
                parts.append(src[begin:i])
                return parts, i
            depth -= 1
        elif c == "|" and depth == 0:
            parts.append(src[begin:i])
            begin = i + 1
        i += 1
    return None


def _heads(alternative: str) -> list[str] | None:
    """Literal text every match of one alternative starts with (several when it starts with a group)."""
    if alternative.startswith("(?:"):
        inner = _alternatives(alternative, 3)
        if inner is None or alternative[inner[1] + 1 : inner[1] + 2] in ("?", "*", "{"):
            return None
        heads = [_heads(a) for a in inner[0]]
        return None if any(h is None for h in heads) else [x for h in heads for x in h]
    run = 0
    while run < len(alternative) and alternative[run] not in _SPECIAL:
        run += 1
    if alternative[run : run + 1] in ("?", "*", "{"):
        run -= 1  # the last letter is optional
    return [alternative[:run]] if run > 0 else None


def _finder(pattern: re.Pattern):
    """`bool(pattern.search(text))`, but first a cheap look for the literal text every match starts
    with, read off a pattern of the form `\\b(?:one|two|...)`; a pattern it cannot read is searched."""
    found = _alternatives(pattern.pattern, 5) if pattern.pattern.startswith("\\b(?:") else None
    heads = [_heads(a) for a in found[0]] if found and not pattern.flags & re.IGNORECASE else None
    if not heads or any(h is None for h in heads):
        return lambda text: pattern.search(text) is not None
    literals = tuple(sorted({x for h in heads for x in h}))

    def find(text: str) -> bool:
        return any(map(text.__contains__, literals)) and pattern.search(text) is not None

    find.literals = literals
    return find


# Not for `_ONGOING`: its phrases start with words as common as "has" and "not", so looking for
# them first costs more than it saves.
_has_ended, _has_recent = _finder(_ENDED), _finder(_RECENT)


@dataclass(frozen=True)
class DateMention:
    start: int
    end: int
    when: date  # the latest date the phrase could mean, so doubt favours the resident
    text: str


@dataclass(frozen=True)
class DateReading:
    mentions: tuple[DateMention, ...]
    oldest: DateMention | None  # the oldest mention that is out of time, if any
    ongoing: bool
    ended: bool
    recent: bool

    @property
    def out_of_time(self) -> bool:
        """A clear cue: an old date, nothing saying it is still happening or only just discovered."""
        return self.oldest is not None and not self.ongoing and not self.recent

    @property
    def has_old_date(self) -> bool:
        return self.oldest is not None


def _num(word: str) -> int:
    word = word.strip()
    return int(word) if word.isdigit() else _NUMBERS.get(word, 1)


def _year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def _month_end(year: int, month: int) -> date:
    return date(year, month, 1) + relativedelta(months=1, days=-1)


def read_dates(lower_text: str, received_at: date | None) -> DateReading:
    """Find date phrases in lower-cased text and decide whether the issue looks out of time."""
    if received_at is None:
        received_at = date.today()
    mentions: list[DateMention] = []
    taken: list[tuple[int, int]] = []

    def add(m: re.Match, when: date) -> None:
        if any(s < m.end() and m.start() < e for s, e in taken):
            return
        taken.append((m.start(), m.end()))
        mentions.append(DateMention(m.start(), m.end(), when, m.group(0)))

    has_ago = " ago" in lower_text
    has_year = ("19" in lower_text or "20" in lower_text) and _ANY_YEAR.search(lower_text) is not None
    for m in _OVER_AGO.finditer(lower_text) if has_ago else ():
        n, unit = _num(m.group(1)), m.group(2)
        add(m, received_at - (relativedelta(years=n) if unit.startswith("y") else relativedelta(months=n)))
    for m in _AGO.finditer(lower_text) if has_ago else ():
        n, unit = _num(m.group(1)), m.group(2)
        add(m, received_at - (relativedelta(years=n) if unit.startswith("y") else relativedelta(months=n)))
    for m in _MONTH_YEAR.finditer(lower_text) if has_year else ():
        year, month = int(m.group(3)), _MONTHS[m.group(2)[:3] if m.group(2)[:4] != "sept" else "sep"]
        day = int(m.group(1)) if m.group(1) else None
        try:
            when = date(year, month, day) if day else _month_end(year, month)
        except ValueError:
            when = _month_end(year, month)
        add(m, when)
    for m in _SEASON_YEAR.finditer(lower_text) if has_year else ():
        year, month = int(m.group(2)), _SEASONS[m.group(1)]
        end_month = min(month + 2, 12)
        if m.group(1) == "winter":
            end_month = 2
            year += 1  # winter 2022 runs into early 2023
        add(m, _month_end(year, end_month))
    for m in _NUMERIC_DATE.finditer(lower_text) if _DIGIT_SEPARATOR.search(lower_text) else ():
        day, month, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if year < 100:
            year += 2000
        try:
            add(m, date(year, month, day))  # UK dates are day first
        except ValueError:
            continue
    for m in _YEAR_BEFORE_LAST.finditer(lower_text) if "before last" in lower_text else ():
        add(m, date(received_at.year - 1, 1, 1) - timedelta(days=1))
    for m in _BARE_YEAR.finditer(lower_text) if has_year else ():
        add(m, date(int(m.group(1)), 12, 31))

    limit = _year_before(received_at)  # OUT_OF_TIME_MONTHS = 12, without relativedelta's cost per message
    old = [d for d in mentions if d.when < limit and d.when.year > 1950]
    since_start = bool(old) and bool(_SINCE.search(lower_text))
    ongoing = (
        bool(_ONGOING.search(lower_text))
        or (("year" in lower_text or "yr" in lower_text) and bool(_FOR_YEARS.search(lower_text)))
        or since_start
    )
    ended = _has_ended(lower_text)
    if ended and not re.search(r"\b(?:still|again|is back|came back|come back)\b", lower_text):
        ongoing = False
    # A recent date beside the old one means the matter is live now, unless it plainly ended.
    recent_dates = [d for d in mentions if d.when >= limit and d.when <= received_at + timedelta(days=1)]
    recent = _has_recent(lower_text) or bool(recent_dates)
    if ended:
        recent = _has_recent(lower_text) and bool(re.search(r"\b(?:just|only|recently)\b", lower_text))
    oldest = min(old, key=lambda d: d.when) if old else None
    return DateReading(tuple(mentions), oldest, ongoing, ended, recent)

"""The landlord policy file: TOML, validated, never looser than the Complaint Handling Code.

Ship-with profiles live in intake/policies/<name>.toml. `load_policy("saha")` or a path.
"""

from __future__ import annotations

import tomllib
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

from dateutil.relativedelta import relativedelta
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from classifier.types import EXCLUSION_REASONS
from intake.calendar import NATIONS, WorkingDayCalendar, calendar_for
from intake.errors import PolicyError

POLICY_DIR = Path(__file__).resolve().parent / "policies"

# The Code's ceilings, in working days. A policy may set a shorter time, never a longer one.
CODE_LIMITS = {
    "acknowledge_days": 5,
    "stage1_response_days": 10,
    "stage1_extension_max_days": 10,
    "stage2_acknowledge_days": 5,
    "stage2_response_days": 20,
    "stage2_extension_max_days": 20,
    "exclusion_decision_days": 10,
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Timescales(_Strict):
    """All in working days."""

    first_contact_days: int | None = Field(
        default=None, ge=0, description="e.g. saha: call within 1 working day"
    )
    acknowledge_days: int = Field(default=5, ge=0)
    stage1_response_days: int = Field(default=10, ge=1)
    stage1_extension_max_days: int = Field(default=10, ge=0)
    stage2_first_contact_days: int | None = Field(default=None, ge=0)
    stage2_acknowledge_days: int = Field(default=5, ge=0)
    stage2_response_days: int = Field(default=20, ge=1)
    stage2_extension_max_days: int = Field(default=20, ge=0)
    exclusion_decision_days: int = Field(
        default=10, ge=1, description="reply in writing to a possible exclusion"
    )
    out_of_time_months: int = Field(default=12, ge=12, description="the Code's floor is 12 months")

    @model_validator(mode="after")
    def _never_looser_than_the_code(self) -> Timescales:
        for key, ceiling in CODE_LIMITS.items():
            value = getattr(self, key)
            if value > ceiling:
                raise ValueError(
                    f"timescales.{key} = {value} is looser than the Complaint Handling Code allows "
                    f"(at most {ceiling} working days)"
                )
        if self.first_contact_days is not None and self.first_contact_days > self.acknowledge_days:
            raise ValueError(
                "timescales.first_contact_days must not be later than timescales.acknowledge_days"
            )
        return self


class Escalation(_Strict):
    """How long after a Stage 1 response the resident may ask for Stage 2."""

    amount: int | None = Field(default=None, ge=1, description="empty: no fixed limit")
    unit: Literal["working_days", "calendar_days", "weeks", "calendar_months"] = "working_days"
    counted_from: Literal["stage1_response", "actions_completed"] = "stage1_response"
    wording: str = "If you are not happy with our Stage 1 response, you can ask us to review it at Stage 2."

    @property
    def counts_from_response(self) -> bool:
        """False when the window counts from something we do not record (Connexus: a calendar
        month after any agreed actions are completed). The date we can work out, counted from
        the Stage 1 response, is then only the earliest the window can end."""
        return self.counted_from == "stage1_response"

    @property
    def window_words(self) -> str:
        """The window in words, e.g. "3 weeks", "a calendar month"; "" when there is no limit."""
        if self.amount is None:
            return ""
        unit = {
            "working_days": "working day",
            "calendar_days": "day",
            "weeks": "week",
            "calendar_months": "calendar month",
        }[self.unit]
        return f"a {unit}" if self.amount == 1 else f"{self.amount} {unit}s"


class Exclusion(_Strict):
    reason: str
    wording: str

    @field_validator("reason")
    @classmethod
    def _known_reason(cls, value: str) -> str:
        if value not in EXCLUSION_REASONS:
            raise ValueError(f"unknown exclusion reason {value!r}; use one of {', '.join(EXCLUSION_REASONS)}")
        return value


class Office(_Strict):
    phone: str
    email: str
    address: str = ""
    website: str = ""
    hours: str = "Monday to Friday, 9am to 5pm"
    text_number: str = ""


class Ombudsman(_Strict):
    name: str = "Housing Ombudsman Service"
    phone: str = "0300 111 3000"
    email: str = "info@housing-ombudsman.org.uk"
    address: str = "PO Box 1484, Unit D, Preston, PR2 0ET"
    website: str = "www.housing-ombudsman.org.uk"
    wording: str = (
        "The Housing Ombudsman Service can look at complaints about landlords. It is free, "
        "independent and impartial. You can contact it at any time, including while your "
        "complaint is with us."
    )


class FaqEntry(_Strict):
    question: str
    answer: str
    keywords: tuple[str, ...] = ()


Channel = Literal["sms", "web", "email", "phone", "letter", "in_person", "social_media"]


class Policy(_Strict):
    name: str
    landlord: str
    nation: str = "england"
    homes: int | None = Field(default=None, ge=1, description="homes owned, for complaints per 1,000 homes")
    source: str = ""
    timescales: Timescales = Timescales()
    escalation: Escalation = Escalation()
    exclusions: tuple[Exclusion, ...] = ()
    office: Office
    ombudsman: Ombudsman = Ombudsman()
    channels: tuple[Channel, ...] = ("sms", "web", "email", "phone", "letter")
    faq: tuple[FaqEntry, ...] = ()

    @field_validator("nation")
    @classmethod
    def _known_nation(cls, value: str) -> str:
        if value not in NATIONS:
            raise ValueError(f"unknown nation {value!r}; use one of {', '.join(NATIONS)}")
        return value

    @model_validator(mode="after")
    def _unique_exclusions(self) -> Policy:
        reasons = [e.reason for e in self.exclusions]
        duplicates = {r for r in reasons if reasons.count(r) > 1}
        if duplicates:
            raise ValueError(f"exclusions: {', '.join(sorted(duplicates))} listed more than once")
        return self

    @property
    def calendar(self) -> WorkingDayCalendar:
        return calendar_for(self.nation)

    def uses_exclusion(self, reason: str | None) -> bool:
        return reason is not None and any(e.reason == reason for e in self.exclusions)

    def exclusion_wording(self, reason: str) -> str:
        for exclusion in self.exclusions:
            if exclusion.reason == reason:
                return exclusion.wording
        raise PolicyError(f"{self.landlord}'s policy does not use the exclusion {reason!r}")

    # Deadlines ---------------------------------------------------------------------------------
    def acknowledge_by(self, received: date) -> date:
        return self.calendar.add_working_days(received, self.timescales.acknowledge_days)

    def first_contact_by(self, received: date) -> date | None:
        if self.timescales.first_contact_days is None:
            return None
        return self.calendar.add_working_days(received, self.timescales.first_contact_days)

    def exclusion_decision_by(self, received: date) -> date:
        return self.calendar.add_working_days(received, self.timescales.exclusion_decision_days)

    def stage_due(self, stage: int, acknowledged: date) -> date:
        days = self.timescales.stage1_response_days if stage == 1 else self.timescales.stage2_response_days
        return self.calendar.add_working_days(acknowledged, days)

    def stage_acknowledge_by(self, stage: int, opened: date) -> date:
        days = self.timescales.acknowledge_days if stage == 1 else self.timescales.stage2_acknowledge_days
        return self.calendar.add_working_days(opened, days)

    def extension_limit(self, stage: int) -> int:
        t = self.timescales
        return t.stage1_extension_max_days if stage == 1 else t.stage2_extension_max_days

    def extended_due(self, stage: int, acknowledged: date, extension_days: int) -> date:
        """The due date after an extension. Raises PolicyError past the policy's limit."""
        limit = self.extension_limit(stage)
        if not 0 <= extension_days <= limit:
            raise PolicyError(f"A Stage {stage} extension can be at most {limit} working days.")
        return self.calendar.add_working_days(self.stage_due(stage, acknowledged), extension_days)

    def escalation_by(self, responded_on: date) -> date | None:
        """The last day the resident can ask for Stage 2 after a Stage 1 response sent on
        `responded_on`, or None when the policy sets no limit (the Code sets none).

        Working days count like every other deadline. Weeks, days and calendar months are
        counted on the calendar (a month from 31 January is the last day of February), and a
        last day that falls on a weekend or bank holiday moves to the next working day, so a
        resident who phones is never out of time because the office was closed. When the
        policy counts from something we do not record (`counts_from_response` is False) the
        window is counted from the response: the date is then the earliest it can end."""
        amount, unit = self.escalation.amount, self.escalation.unit
        if amount is None:
            return None
        if unit == "working_days":
            return self.calendar.add_working_days(responded_on, amount)
        if unit == "calendar_months":
            last_day = responded_on + relativedelta(months=amount)
        else:
            last_day = responded_on + timedelta(days=amount * (7 if unit == "weeks" else 1))
        return self.calendar.next_working_day(last_day)

    def deadlines(self, received: date, acknowledged: date | None = None) -> dict[str, date]:
        """Every deadline for a complaint received on `received`. Stage dues count from the
        acknowledgement date, or from the acknowledgement deadline when there is none yet."""
        ack = acknowledged or self.acknowledge_by(received)
        return {
            "acknowledge_by": self.acknowledge_by(received),
            "stage1_due": self.stage_due(1, ack),
            "stage2_due": self.stage_due(2, ack),
            "stage1_extension_limit": self.extended_due(1, ack, self.extension_limit(1)),
            "stage2_extension_limit": self.extended_due(2, ack, self.extension_limit(2)),
        }


def available_policies() -> list[str]:
    return sorted(p.stem for p in POLICY_DIR.glob("*.toml"))


def _describe(error: ValidationError, origin: str) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "is not a setting we know (check the spelling)"
        elif item["type"] == "missing":
            message = "is required"
        lines.append(f"  - {key}: {message}")
    return f"The policy file {origin} has problems:\n" + "\n".join(lines)


def parse_policy(text: str, origin: str = "(text)") -> Policy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"The policy file {origin} is not valid TOML: {exc}") from None
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(_describe(exc, origin)) from None


@lru_cache(maxsize=32)
def load_policy(name_or_path: str) -> Policy:
    """Load a shipped profile by name (code-default, connect, connexus, saha) or a TOML file by path."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.exists():
        path = candidate
    else:
        path = POLICY_DIR / f"{name_or_path}.toml"
        if not path.exists():
            raise PolicyError(
                f"There is no policy called {name_or_path!r}. "
                f"Choose one of: {', '.join(available_policies())}, or give the path to a .toml file."
            )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(f"The policy file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"The policy file {path} could not be read: {exc}") from None
    return parse_policy(text, str(path))

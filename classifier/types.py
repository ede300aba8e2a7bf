"""The classifier's public vocabulary: the labels of TRIAGE_GUIDE.md and the Triage result."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

CATEGORIES: tuple[str, ...] = (
    "complaint",
    "service_request",
    "asb_report",
    "exclusion",
    "compliment",
    "other",
)

EXCLUSION_REASONS: tuple[str, ...] = (
    "out_of_time",
    "legal_proceedings",
    "previously_considered",
    "insurance_claim",
    "elected_representative",
    "criminal_allegation",
    "other_organisation",
)

ADJUSTMENT_CODES: tuple[str, ...] = (
    "deaf",
    "sight_loss",
    "dyslexia",
    "learning_disability",
    "cognitive",
    "mental_health",
    "mobility",
    "phone_only",
    "written_only",
)
INTERPRETER_PREFIX = "interpreter:"


def is_adjustment_code(code: str) -> bool:
    """True for a code in the guide's closed list, including `interpreter:<language>`."""
    if code.startswith(INTERPRETER_PREFIX):
        language = code[len(INTERPRETER_PREFIX) :]
        return bool(language) and language.isalpha() and language.islower()
    return code in ADJUSTMENT_CODES


@dataclass(frozen=True)
class Evidence:
    """A phrase that decided part of the result, as a character span of the input text."""

    start: int
    end: int
    label: str  # what it is evidence for: "complaint", "urgent", "exclusion:legal_proceedings", "adjustment:deaf", ...
    text: str


@dataclass(frozen=True)
class Triage:
    category: str
    confidence: float
    exclusion_reason: str | None = None
    urgent: bool = False
    urgent_kind: str | None = None  # "gas", "fire", "self_harm", "violence", ... when urgent
    advocate: bool = False
    adjustments: tuple[str, ...] = ()
    needs_review: bool = False
    evidence: tuple[Evidence, ...] = field(default_factory=tuple)
    model_version: str = ""
    probabilities: dict[str, float] = field(default_factory=dict)
    # Set ("polish") when the message is written in a language the model cannot read: a person,
    # with an interpreter, has to read it before anything is decided.
    unreadable_language: str | None = None

    def to_json(self) -> dict:
        data = asdict(self)
        data["adjustments"] = list(self.adjustments)
        data["evidence"] = [asdict(e) for e in self.evidence]
        return data

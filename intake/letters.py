"""One way to render a message: Jinja2 templates per kind and channel.

Templates live in intake/templates/letters/<kind>.<variant>.j2, where the variant is `short`
(SMS and web chat) or `full` (email and letter). Short versions are fitted into two SMS
segments where the content allows, by shortening the free-text parts (never the reference,
the dates or the contact details).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from intake.sms_text import SMS_MAX_SEGMENTS, sms_segments

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates" / "letters"

KINDS = (
    "acknowledgement",
    "exclusion_review",
    "exclusion_decision",
    "service_request_logged",
    "asb_routed",
    "compliment_received",
    "extension_notice",
    "stage1_decision",
    "stage2_decision",
    "stage2_acknowledgement",
)

ADJUSTMENT_WORDS = {
    "deaf": "communication suited to someone who is deaf or hard of hearing",
    "sight_loss": "large print, braille or screen-reader friendly documents",
    "dyslexia": "support with reading and writing",
    "learning_disability": "things explained simply",
    "cognitive": "extra time and reminders",
    "mental_health": "contact that takes account of your mental health",
    "mobility": "visits and appointments that suit your mobility",
    "phone_only": "contact by phone only",
    "written_only": "contact in writing only",
}


def variant_for(channel: str) -> str:
    return "short" if channel in ("sms", "web") else "full"


def long_date(value: date) -> str:
    return f"{value:%A} {value.day} {value:%B %Y}"


def short_date(value: date) -> str:
    return f"{value:%a} {value.day} {value:%b %Y}"


def describe_adjustment(code: str) -> str:
    if code.startswith("interpreter:"):
        return f"an interpreter ({code.split(':', 1)[1].title()})"
    return ADJUSTMENT_WORDS.get(code, code.replace("_", " "))


ADJUSTMENT_SHORT = {
    "deaf": "deaf/BSL",
    "sight_loss": "large print",
    "dyslexia": "dyslexia",
    "learning_disability": "easy read",
    "cognitive": "memory support",
    "mental_health": "mental health",
    "mobility": "mobility",
    "phone_only": "phone only",
    "written_only": "writing only",
}


def describe_adjustment_short(code: str) -> str:
    if code.startswith("interpreter:"):
        return f"{code.split(':', 1)[1].title()} interpreter"
    return ADJUSTMENT_SHORT.get(code, code.replace("_", " "))


def _first_name(name: str | None) -> str:
    return name.split()[0] if name and name.split() else ""


def _shorten(text: str | None, limit: int) -> str:
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text.rstrip(" .!?;:,")  # the template ends the sentence itself
    return text[: max(0, limit - 3)].rsplit(" ", 1)[0].rstrip(",.;:") + "..."


_env = Environment(
    loader=FileSystemLoader(str(TEMPLATE_DIR)),
    undefined=StrictUndefined,
    autoescape=False,  # plain text; pages escape resident text themselves
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
)
_env.filters["long_date"] = long_date
_env.filters["short_date"] = short_date
_env.filters["adjustment"] = describe_adjustment
_env.filters["adjustment_short"] = describe_adjustment_short
_env.filters["first_name"] = _first_name
_env.filters["shorten"] = _shorten


@dataclass(frozen=True)
class Letter:
    kind: str
    channel: str
    subject: str
    body: str


def render(kind: str, channel: str, **context: Any) -> Letter:
    """Render a message. Context: policy, case, contact, deadlines (dict), adjustments (codes),
    advocate (or None), and kind-specific values (reason, decision text, extension ...)."""
    if kind not in KINDS:
        raise ValueError(f"unknown letter kind {kind!r}")
    variant = variant_for(channel)
    template = _env.get_template(f"{kind}.{variant}.j2")
    context.setdefault("advocate", None)
    context.setdefault("adjustments", [])
    context.setdefault("contact", None)
    subject = _env.get_template("subjects.j2").module.subject(kind, context["case"])  # type: ignore[attr-defined]
    if variant == "full":
        return Letter(kind, channel, subject.strip(), template.render(**context).strip() + "\n")
    # Short: fit into two SMS segments by giving the free text less room, if the content allows.
    body = ""
    for room in range(300, -1, -10):
        body = _tidy(template.render(room=room, **context))
        if sms_segments(body) <= SMS_MAX_SEGMENTS:
            break
    return Letter(kind, channel, subject.strip(), body)


def _tidy(text: str) -> str:
    return " ".join(text.split()).replace("....", "...")

"""Rendering for the console: one Jinja2 environment with autoescape on, evidence highlighting
built from escaped segments, the month chart as inline SVG, and the security headers."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from intake.letters import describe_adjustment
from intake.models import UK, as_utc

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"

SECURITY_HEADERS = {
    # No inline script or style anywhere in the console: a stored payload cannot run even if it
    # slipped past escaping.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

CATEGORY_NAMES = {
    "complaint": "Complaint",
    "service_request": "Service request",
    "asb_report": "ASB report",
    "exclusion": "Exclusion",
    "compliment": "Compliment",
    "other": "Other enquiry",
}
STATUS_NAMES = {
    "open": "Open",
    "awaiting_acknowledgement": "Awaiting acknowledgement",
    "stage1_in_progress": "Stage 1 in progress",
    "stage1_responded": "Stage 1 response sent",
    "stage2_in_progress": "Stage 2 in progress",
    "stage2_responded": "Stage 2 response sent",
    "exclusion_review": "Exclusion to decide",
    "excluded": "Excluded",
    "closed": "Closed",
    "superseded": "Merged into the next message",
}
CHANNEL_NAMES = {
    "sms": "Text (SMS)",
    "email": "Email",
    "web": "Web chat",
    "phone": "Phone",
    "letter": "Letter",
}
EXCLUSION_NAMES = {
    "out_of_time": "Out of time",
    "legal_proceedings": "Legal proceedings started",
    "previously_considered": "Already had a final response",
    "insurance_claim": "Insurance claim",
    "elected_representative": "MP or councillor enquiry",
    "criminal_allegation": "Criminal allegation",
    "other_organisation": "Another organisation's matter",
}


class PageNotFound(Exception):
    """A console page that does not exist (or a case id that matches nothing): a 404 page."""


ROLE_NAMES = {"agent": "Agent", "complaints_officer": "Complaints officer", "admin": "Admin"}


def highlight(text: str, spans: list[dict[str, Any]] | None) -> Markup:
    """The resident's text, escaped, with each evidence span wrapped in <mark>.

    Spans come from the classifier as character offsets. Each is checked against the text
    (falling back to finding its words) and overlapping spans are dropped, then the HTML is put
    together from escaped pieces: nothing from the text or the labels is ever inserted raw.
    """
    text = text or ""
    placed: list[tuple[int, int, str]] = []
    for span in spans or []:
        try:
            start, end = int(span.get("start", -1)), int(span.get("end", -1))
        except (TypeError, ValueError, AttributeError):
            continue
        label = str(span.get("label", ""))
        words = str(span.get("text", "") or "")
        if not (0 <= start < end <= len(text)) or (words and text[start:end] != words):
            found = text.find(words) if words else -1
            if found < 0:
                continue
            start, end = found, found + len(words)
        placed.append((start, end, label))
    placed.sort()
    pieces: list[str] = []
    position = 0
    for start, end, label in placed:
        if start < position:
            continue  # overlaps the previous span
        pieces.append(str(escape(text[position:start])))
        pieces.append(
            f'<mark class="evidence" title="{escape(label_words(label))}">{escape(text[start:end])}'
            f'<span class="visually-hidden"> (evidence: {escape(label_words(label))})</span></mark>'
        )
        position = end
    pieces.append(str(escape(text[position:])))
    return Markup("".join(pieces))


def label_words(label: str) -> str:
    kind, _, detail = label.partition(":")
    if kind == "exclusion":
        return f"exclusion: {EXCLUSION_NAMES.get(detail, detail)}"
    if kind == "adjustment":
        return f"adjustment: {describe_adjustment(detail)}"
    return CATEGORY_NAMES.get(kind, kind.replace("_", " "))


def uk_time(value: datetime | None) -> str:
    if value is None:
        return ""
    local = as_utc(value).astimezone(UK)
    return f"{local.day} {local:%b %Y, %H:%M}"


def nice_date(value: date | None) -> str:
    if value is None:
        return ""
    return f"{value:%a} {value.day} {value:%b %Y}"


def days_left(value: int | None) -> str:
    if value is None:
        return ""
    if value < 0:
        return f"{-value} working day{'s' if value != -1 else ''} overdue"
    if value == 0:
        return "Due today"
    return f"{value} working day{'s' if value != 1 else ''} left"


def month_chart(rows: list[dict[str, Any]]) -> Markup:
    """Bars of complaints received per month (Stage 1 and 2) with a line of the share of
    responses on time, as accessible inline SVG (no script, no inline style)."""
    if not rows:
        return Markup('<p class="hint">No complaints in this period.</p>')
    width, height, left, bottom, top, right = 720, 280, 48, 40, 20, 48
    plot_w, plot_h = width - left - right, height - top - bottom
    most = max(max(r["stage1_received"] + r["stage2_received"] for r in rows), 1)
    step = plot_w / len(rows)
    bar = max(4.0, min(40.0, step * 0.6))
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-labelledby="chart-title chart-desc" '
        f'xmlns="http://www.w3.org/2000/svg">',
        '<title id="chart-title">Complaints received and responses on time, by month</title>',
        '<desc id="chart-desc">Bars show Stage 1 (dark blue) and Stage 2 (light blue) complaints received each '
        "month; the green line shows the percentage of responses sent within the timescale. "
        "The same figures are in the table below.</desc>",
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#0b0c0c"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" font-size="12" fill="#0b0c0c">{most}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" font-size="12" fill="#0b0c0c">0</text>',
        f'<text x="{left + plot_w + 6}" y="{top + 4}" font-size="12" fill="#00703c">100%</text>',
        f'<text x="{left + plot_w + 6}" y="{top + plot_h}" font-size="12" fill="#00703c">0%</text>',
    ]
    points = []
    for i, row in enumerate(rows):
        x = left + step * i + (step - bar) / 2
        h1 = plot_h * row["stage1_received"] / most
        h2 = plot_h * row["stage2_received"] / most
        parts.append(
            f'<rect x="{x:.1f}" y="{top + plot_h - h1:.1f}" width="{bar:.1f}" height="{h1:.1f}" fill="#1d70b8"/>'
        )
        parts.append(
            f'<rect x="{x:.1f}" y="{top + plot_h - h1 - h2:.1f}" width="{bar:.1f}" height="{h2:.1f}" fill="#5694ca"/>'
        )
        parts.append(
            f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle" font-size="11" '
            f'fill="#0b0c0c">{escape(row["month"])}</text>'
        )
        pct = row.get("responses_within_timescale_pct")
        if pct is not None:
            points.append((x + bar / 2, top + plot_h - plot_h * pct / 100))
    if len(points) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#00703c" stroke-width="3"/>')
    for x, y in points:
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#00703c"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def file_size(size: int | None) -> str:
    """Bytes as staff read them: 820 bytes, 12 KB, 3.4 MB."""
    size = size or 0
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} KB"
    return f"{size / (1024 * 1024):.1f} MB"


_env = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=select_autoescape(["html", "j2"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(
    uk_time=uk_time,
    nice_date=nice_date,
    days_left=days_left,
    category=lambda v: CATEGORY_NAMES.get(v or "", v or ""),
    status=lambda v: STATUS_NAMES.get(v or "", (v or "").replace("_", " ").capitalize()),
    channel=lambda v: CHANNEL_NAMES.get(v or "", v or ""),
    exclusion=lambda v: EXCLUSION_NAMES.get(v or "", v or ""),
    role=lambda v: ROLE_NAMES.get(v or "", v or ""),
    adjustment=describe_adjustment,
    file_size=file_size,
)
_env.globals.update(
    CATEGORY_NAMES=CATEGORY_NAMES,
    CHANNEL_NAMES=CHANNEL_NAMES,
    EXCLUSION_NAMES=EXCLUSION_NAMES,
    ROLE_NAMES=ROLE_NAMES,
)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("staff", None)
    html = _env.get_template(template).render(request=request, **context)
    response = HTMLResponse(html, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    return response

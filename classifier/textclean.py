"""Strip quoted replies, forwarded headers, signatures and disclaimers from a message.

Cleaning only ever drops whole lines, so a cleaned view is a concatenation of
slices of the original text and every character keeps a known position in it:
evidence found in a view is mapped back with `View.to_original`.

Two views are made:
- `rules`: the resident's own words plus their signature (a signature can say
  "Support Worker" or "Cllr"), without quoted replies, forwarded headers,
  disclaimers or device footers;
- `model`: the same without the signature block, which is what the
  statistical model is trained on and reads.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

# A line that starts a quoted earlier message: everything from it onwards is dropped.
_REPLY_HEADER = re.compile(
    r"^\s*(?:"
    r"on\b.{0,200}\bwrote:?\s*$"  # On Mon, 3 Jun 2024 at 10:02, Housing <x@y> wrote:
    r"|-{2,}\s*original message\s*-{2,}"
    r"|_{8,}\s*$"  # Outlook's underline before a quoted message
    r"|from:\s.+\n\s*(?:sent|date):\s"  # Outlook header block
    r")",
    re.IGNORECASE,
)
# "On ... wrote:" wrapped over two lines by a mail client.
_REPLY_HEADER_WRAPPED = re.compile(r"^\s*on\b.{0,200}$", re.IGNORECASE)
_WROTE_LINE = re.compile(r"^.{0,120}\bwrote:\s*$", re.IGNORECASE)

_FORWARD_MARKER = re.compile(
    r"^\s*(?:-{2,}\s*forwarded message\s*-{2,}|begin forwarded message:?)\s*$", re.IGNORECASE
)
_HEADER_FIELD = re.compile(r"^\s*(?:from|sent|date|to|cc|subject)\s*:", re.IGNORECASE)
_QUOTE_LINE = re.compile(r"^\s*>")
_SIG_DASHES = re.compile(r"^\s*--\s*$")
_SIGN_OFF = re.compile(
    r"^\s*(?:kind(?:est)? regards|warm regards|best regards|regards|many thanks|thanks(?: again)?|thank you"
    r"|best wishes|best|all the best|yours sincerely|yours faithfully|yours truly|sincerely|cheers|cofion"
    r"|diolch|respectfully|with thanks)\s*[,.!]?\s*$",
    re.IGNORECASE,
)
_DEVICE_FOOTER = re.compile(
    r"^\s*(?:sent from my \w[\w ]*|sent from (?:outlook|mail) for \w+|get outlook for \w+|sent from yahoo mail.*)\s*$",
    re.IGNORECASE,
)
_DISCLAIMER = re.compile(
    r"^\s*(?:disclaimer\b|confidentiality notice|this (?:e-?mail|message) (?:and any (?:files|attachments)|is confidential"
    r"|may contain|contains confidential|is intended)|the information (?:in|contained in) this (?:e-?mail|message)"
    r"|if you are not the intended recipient|please consider the environment before printing)",
    re.IGNORECASE,
)
# A repairs-portal field saying the fault was not reported before: the form's words ("reported before")
# read as a repeat report to the model, the answer says the opposite, so the model view drops the line.
_NOT_REPORTED_FIELD = re.compile(
    r"^\s*(?:has this been |have you )?reported (?:this )?before\s*[?:]\s*(?:no|nope|not by me|not sure|don'?t know)\W*$",
    re.IGNORECASE,
)
# A signature after a sign-off is short: name, role, organisation, phone, address.
_MAX_SIGNATURE_LINES = 8


@dataclass(frozen=True)
class View:
    """Part of the original text: `text` is the kept slices, joined; `segments` places them."""

    text: str
    segments: tuple[tuple[int, int, int], ...]  # (start in view, start in original, length)

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a span of the view back to a span of the original text."""
        if not self.segments:
            return start, end
        starts = [s[0] for s in self.segments]
        i = bisect_right(starts, start) - 1
        j = bisect_right(starts, max(start, end - 1)) - 1
        vs, os_, _ = self.segments[max(i, 0)]
        ve, oe, _ = self.segments[max(j, 0)]
        return os_ + (start - vs), oe + (end - ve)


@dataclass(frozen=True)
class CleanedMessage:
    original: str
    rules: View
    model: View


def _lines(text: str) -> list[tuple[int, str]]:
    """Lines with their start offsets, each keeping its line ending."""
    out = []
    pos = 0
    for line in text.splitlines(keepends=True):
        out.append((pos, line))
        pos += len(line)
    return out


def _view(text: str, lines: list[tuple[int, str]], keep: list[bool]) -> View:
    parts: list[str] = []
    segments: list[tuple[int, int, int]] = []
    view_pos = 0
    for (start, line), kept in zip(lines, keep, strict=True):
        if not kept:
            continue
        if segments and segments[-1][1] + segments[-1][2] == start:
            vs, os_, length = segments[-1]
            segments[-1] = (vs, os_, length + len(line))
        else:
            segments.append((view_pos, start, len(line)))
        parts.append(line)
        view_pos += len(line)
    return View("".join(parts), tuple(segments))


def clean(text: str) -> CleanedMessage:
    """Split a message into the views the rule layer and the model read."""
    lines = _lines(text)
    n = len(lines)
    kind = ["body"] * n
    # 1. quoted replies: from the first reply header (not on the first line) to the end.
    for i, (_, line) in enumerate(lines):
        if i == 0:
            continue  # a quote never starts on the first line
        nxt = lines[i + 1][1] if i + 1 < n else ""
        starts_quote = bool(
            _REPLY_HEADER.match(line + nxt if line.lower().lstrip().startswith("from:") else line)
        )
        if not starts_quote and _REPLY_HEADER_WRAPPED.match(line) and _WROTE_LINE.match(nxt):
            starts_quote = True
        previous = (
            next((lines[j][1] for j in range(i - 1, -1, -1) if lines[j][1].strip()), "")
            if starts_quote
            else ""
        )
        if starts_quote and _FORWARD_MARKER.match(previous):
            starts_quote = False  # a forwarded message's own headers: drop them below, keep its body
        if (
            starts_quote
            and i > 0
            and any(k == "body" and lines[j][1].strip() for j, k in enumerate(kind[:i]))
        ):
            for j in range(i, n):
                kind[j] = "quote"
            break
    # 2. ">" lines, forwarded markers and their header fields, device footers, disclaimers.
    in_forward_header = False
    for i, (_, line) in enumerate(lines):
        if kind[i] != "body":
            continue
        if _QUOTE_LINE.match(line):
            kind[i] = "quote"
        elif _FORWARD_MARKER.match(line):
            kind[i] = "header"
            in_forward_header = True
        elif in_forward_header and (_HEADER_FIELD.match(line) or not line.strip()):
            kind[i] = "header"
            if not line.strip():
                in_forward_header = False
        elif _DEVICE_FOOTER.match(line):
            kind[i] = "footer"
        elif _DISCLAIMER.match(line):
            for j in range(i, n):
                if kind[j] == "body":
                    kind[j] = "disclaimer"
            break
        else:
            in_forward_header = False
    # 3. signature: after "--", or the short block after a sign-off line near the end.
    body_idx = [i for i, k in enumerate(kind) if k == "body"]
    signature_from = None
    for i in body_idx:
        if _SIG_DASHES.match(lines[i][1]):
            signature_from = i
            break
    if signature_from is None:
        for i in reversed(body_idx):
            if _SIGN_OFF.match(lines[i][1]):
                after = [j for j in body_idx if j > i and lines[j][1].strip()]
                if len(after) <= _MAX_SIGNATURE_LINES and all(len(lines[j][1]) <= 80 for j in after):
                    signature_from = i + 1
                break
    rules_keep = [k == "body" for k in kind]
    model_keep = [k == "body" and (signature_from is None or i < signature_from) for i, k in enumerate(kind)]
    model_keep = [keep and not _NOT_REPORTED_FIELD.match(lines[i][1]) for i, keep in enumerate(model_keep)]
    if not any(lines[i][1].strip() for i in range(n) if model_keep[i]):
        model_keep = rules_keep  # never leave the model nothing to read
    rules_view = _view(text, lines, rules_keep)
    model_view = rules_view if model_keep == rules_keep else _view(text, lines, model_keep)
    return CleanedMessage(text, rules_view, model_view)

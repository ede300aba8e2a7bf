"""Inbound e-mail: raw MIME in, one neutral InboundMessage out.

Shared by the HTTP endpoint (email_http), the SMTP listener (smtp_listener) and
`triage import-mail`. Mail is untrusted input from anywhere: HTML is turned into text with the
standard library's parser (never rendered, scripts and styles dropped), every charset is decoded
with a fallback (a wrong or unknown label never loses the text), attachments are size-capped.

What the engine sees in `body` is what the resident wrote *this time* (quoted replies and
signatures stripped, for classification); `raw_body` keeps the full text for the record.
Auto-replies, bounces and list mail are marked `automatic` (recorded, never answered), following
RFC 3834 and the headers Zammad's loop filter checks.
"""

from __future__ import annotations

import email
import email.header
import email.parser
import email.policy
import hashlib
import logging
import re
from dataclasses import replace
from datetime import datetime
from email.message import Message
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import PurePosixPath, PureWindowsPath

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from intake.inbound import InboundAttachment, InboundHandler, InboundMessage, InboundResult
from intake.models import Case, Outbox, as_utc, utcnow
from intake.models import Message as StoredMessage
from intake.settings import Settings

log = logging.getLogger(__name__)

CHANNEL = "email"
MAX_RAW_BODY_CHARS = 200_000
REFERENCE_IN_SUBJECT = re.compile(r"\b(?:CMP|SR|ASB|CPL|ENQ)-\d{4}-\d{6}\b", re.IGNORECASE)
MESSAGE_ID = re.compile(r"<[^<>\s]+>")
EMAIL_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


# --- charsets --------------------------------------------------------------------------------


def decode_bytes(data: bytes, declared: str | None) -> str:
    """Text from bytes in whatever charset the mail claims, falling back when the claim is wrong.

    Latin-1 labels are read as Windows-1252 (as browsers do): Outlook's "iso-8859-1" mail is
    full of 1252 curly quotes and euro signs in the 0x80-0x9F range.
    """
    label = (declared or "").strip().strip('"').lower()
    if label in ("iso-8859-1", "latin-1", "latin1", "us-ascii", "ascii", "iso_8859-1", "l1"):
        label = "windows-1252" if label not in ("us-ascii", "ascii") else "utf-8"
    candidates = [label] if label else []
    candidates += ["utf-8", "windows-1252"]
    for charset in candidates:
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("latin-1")  # every byte is a character: never fails


def _part_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if payload is None:
        raw = part.get_payload()
        text = raw if isinstance(raw, str) else ""
    else:
        text = decode_bytes(payload, part.get_content_charset() or part.get_param("charset"))
    return text.replace("\r\n", "\n").replace("\r", "\n")


# --- HTML to text ----------------------------------------------------------------------------


class _HtmlToText(HTMLParser):
    """Visible text of an HTML mail. Block elements become line breaks, list items get a dash,
    blockquotes are prefixed with '> ' (so quote stripping treats them like plain-text quotes).
    Script, style, head and hidden elements are dropped entirely."""

    SKIP = {"script", "style", "head", "title", "noscript", "template", "svg", "object", "iframe"}
    BLOCK = {
        "p",
        "div",
        "br",
        "tr",
        "table",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "ul",
        "ol",
        "li",
        "hr",
        "blockquote",
        "pre",
        "section",
        "article",
        "header",
        "footer",
        "address",
        "center",
    }
    VOID = {"br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr", "source"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = [""]
        self.skip_depth = 0
        self.hidden_stack: list[str] = []
        self.quote_depth = 0
        self.quote_classes: list[bool] = []

    def _newline(self) -> None:
        if self.lines[-1].strip():
            self.lines.append("")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        if tag in self.SKIP:
            if tag not in self.VOID:
                self.skip_depth += 1
            return
        style = values.get("style", "").replace(" ", "").lower()
        if tag not in self.VOID and ("display:none" in style or "hidden" in values):
            self.hidden_stack.append(tag)
            self.skip_depth += 1
            return
        if values.get("id") == "divRplyFwdMsg":
            # Outlook puts the quoted original after this header block, unindented: mark the cut.
            self._newline()
            self.lines[-1] = "-----Original Message-----"
            self._newline()
        if tag not in self.VOID:
            classes = values.get("class", "")
            is_quote = tag == "blockquote" or any(
                marker in classes for marker in ("gmail_quote", "moz-cite-prefix", "yahoo_quoted")
            )
            self.quote_classes.append(is_quote)
            if is_quote:
                self.quote_depth += 1
        if tag in self.BLOCK:
            self._newline()
        if tag == "li":
            self.lines[-1] += "- "

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BLOCK:
            self._newline()

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skip_depth = max(0, self.skip_depth - 1)
            return
        if self.hidden_stack and self.hidden_stack[-1] == tag:
            self.hidden_stack.pop()
            self.skip_depth = max(0, self.skip_depth - 1)
            return
        if tag in self.VOID:
            return
        if self.quote_classes:
            if self.quote_classes.pop():
                self.quote_depth -= 1
        if tag in self.BLOCK:
            self._newline()
        if tag == "p":
            self.lines.append("")  # a blank line between paragraphs

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        text = re.sub(r"\s+", " ", data)
        if not text.strip() and not self.lines[-1]:
            return
        if not self.lines[-1].strip():
            text = text.lstrip()
            if self.quote_depth and text:
                self.lines[-1] = "> " * self.quote_depth
        self.lines[-1] += text

    def text(self) -> str:
        lines = [line.rstrip() for line in self.lines]
        out = "\n".join(lines)
        return re.sub(r"\n{3,}", "\n\n", out).strip()


def html_to_text(html: str) -> str:
    parser = _HtmlToText()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # html.parser is lenient; this is belt and braces for truly broken input
        log.warning("HTML part could not be parsed; keeping its text with tags removed")
        return re.sub(r"<[^>]*>", " ", html)
    return parser.text().replace("\xa0", " ")


# --- quotes, signatures, forwards ------------------------------------------------------------

FORWARD_MARKERS = re.compile(
    r"^\s*(?:-{2,}\s*Forwarded message\s*-{2,}|Begin forwarded message:|-{2,}\s*Message transf[ée]r[ée]\s*-{2,})\s*$",
    re.IGNORECASE | re.MULTILINE,
)
# Outlook writes the same "Original Message" block for replies and forwards: only the subject tells.
ORIGINAL_MARKER = re.compile(
    r"^\s*-{2,}\s*Original Message\s*-{2,}\s*$|^_{10,}\s*$", re.IGNORECASE | re.MULTILINE
)
FORWARD_SUBJECT = re.compile(r"^\s*(?:fw|fwd|wg|tr|rv|doorst)\s*:", re.IGNORECASE)
REPLY_HEADER_PATTERNS = [
    re.compile(r"^On .{0,200}?wrote:\s*$", re.IGNORECASE | re.MULTILINE | re.DOTALL),
    re.compile(r"^-{2,}\s*Original Message\s*-{2,}\s*$", re.IGNORECASE | re.MULTILINE),
    re.compile(r"^_{10,}\s*\n\s*From:", re.MULTILINE),
    re.compile(r"^From: .+\n(?:.*\n){0,2}?(?:Sent|Date): .+\n", re.MULTILINE),
]
SIGNATURE_PATTERNS = [
    re.compile(r"^-- ?$", re.MULTILINE),
    re.compile(
        r"^(?:Sent from my \w+|Sent from (?:Outlook|Mail) for \w+|Get Outlook for \w+|Sent from Yahoo Mail.*)\s*$",
        re.IGNORECASE | re.MULTILINE,
    ),
]


def strip_quotes_and_signature(text: str) -> str:
    """What the writer added this time: cut at the first reply header, quoted block or signature."""
    cut = len(text)
    for pattern in REPLY_HEADER_PATTERNS + SIGNATURE_PATTERNS:
        match = pattern.search(text)
        if match and match.start() < cut:
            cut = match.start()
    kept = [line for line in text[:cut].splitlines() if not line.lstrip().startswith(">")]
    return "\n".join(kept).strip()


def split_forward(text: str, subject: str | None = None) -> tuple[str, str, str | None, str | None] | None:
    """(note above the forward, forwarded text, original sender's address, original sender's name)."""
    match = FORWARD_MARKERS.search(text)
    if not match and FORWARD_SUBJECT.match(subject or ""):
        match = ORIGINAL_MARKER.search(text)
    if not match:
        return None
    note, forwarded = text[: match.start()], text[match.end() :]
    header_block = forwarded.lstrip()[:2000]
    sender_line = re.search(r"^\s*\*?From:\*?\s*(.+)$", header_block, re.IGNORECASE | re.MULTILINE)
    address = name = None
    if sender_line:
        value = sender_line.group(1).strip()
        found = EMAIL_ADDRESS.search(value)
        if found:
            address = found.group(0).lower()
            name = re.sub(r"[<\[(].*$", "", value).strip().strip('"').strip() or None
            if name and EMAIL_ADDRESS.fullmatch(name):
                name = None
    # The forwarded text proper starts after its header block (From/Sent/To/Subject lines).
    lines = forwarded.lstrip("\n").splitlines()
    index = 0
    while index < len(lines) and (
        re.match(r"^\s*\*?(From|Sent|Date|To|Cc|Subject|Reply-To)\*?:", lines[index], re.IGNORECASE)
        or (index and not lines[index].strip() and index < 8 and _more_headers(lines, index))
    ):
        index += 1
    return note.strip(), "\n".join(lines[index:]).strip(), address, name


def _more_headers(lines: list[str], index: int) -> bool:
    return any(
        re.match(r"^\s*\*?(From|Sent|Date|To|Subject)\*?:", line, re.I)
        for line in lines[index + 1 : index + 3]
    )


# --- automatic mail --------------------------------------------------------------------------


def automatic_reason(msg: Message, mail_domain: str, mail_from: str) -> str | None:
    """Why this mail must never be answered (RFC 3834 and common practice), or None."""

    def header(name: str) -> str:
        return _header(msg, name).strip().lower()

    content_type = msg.get_content_type()
    if content_type == "multipart/report" or any(
        part.get_content_type() in ("message/delivery-status", "message/disposition-notification")
        for part in msg.walk()
    ):
        return "delivery report"
    auto_submitted = header("auto-submitted")
    if auto_submitted and auto_submitted != "no":
        return f"Auto-Submitted: {auto_submitted}"
    if header("precedence") in ("bulk", "list", "junk", "auto_reply"):
        return f"Precedence: {header('precedence')}"
    if msg.get("X-Auto-Response-Suppress") is not None:
        return "X-Auto-Response-Suppress"
    if msg.get("X-Loop") is not None:
        return "X-Loop"
    if msg.get("List-Unsubscribe") is not None or msg.get("List-Id") is not None:
        return "mailing list"
    if msg.get("X-Autoreply") is not None or msg.get("X-Autorespond") is not None:
        return "X-Autoreply"
    _name, sender = parseaddr(_header(msg, "From"))
    local = sender.split("@")[0].lower()
    if local in ("mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply", "do-not-reply"):
        return f"sent by {local}"
    if sender.lower() == mail_from.lower():
        return "sent by ourselves"
    message_id = _header(msg, "Message-ID")
    if mail_domain and message_id.rstrip("> ").lower().endswith("@" + mail_domain.lower()):
        return "our own Message-ID (a loop)"
    return None


# --- parsing ---------------------------------------------------------------------------------


def _header(msg: Message, name: str) -> str:
    """A header as text; a header too broken to decode comes back as its raw characters."""
    try:
        value = msg.get(name)
    except Exception:  # the email package can raise on pathological encoded-words
        value = None
        for key, raw in msg.raw_items() if hasattr(msg, "raw_items") else []:
            if key.lower() == name.lower():
                value = raw
                break
    return "" if value is None else str(value).replace("\r", " ").replace("\n", " ").strip()


def _safe_filename(name: str | None, index: int, content_type: str) -> str:
    if name:
        name = PureWindowsPath(PurePosixPath(name).name).name  # no directories from either OS
        name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip()
    if not name:
        extension = content_type.split("/")[-1][:10] or "bin"
        name = f"attachment-{index}.{extension}"
    return name[:255]


def _message_ids(value: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(MESSAGE_ID.findall(value)))


def _walk_content(
    msg: Message, max_attachment_bytes: int
) -> tuple[list[str], list[str], list[InboundAttachment], list[Message]]:
    """Plain parts, HTML parts, attachments and attached messages (forward-as-attachment)."""
    plain: list[str] = []
    html: list[str] = []
    attachments: list[InboundAttachment] = []
    attached_messages: list[Message] = []

    def visit(part: Message) -> None:
        content_type = part.get_content_type()
        if content_type == "message/rfc822":  # checked first: the email package calls it multipart
            inner = part.get_payload()
            if isinstance(inner, list) and inner:
                attached_messages.append(inner[0])
            return
        if part.is_multipart():
            children = part.get_payload()
            if content_type == "multipart/alternative":
                # the richest alternative we can read as text: plain if present, else HTML
                chosen = (
                    [c for c in children if c.get_content_type() == "text/plain"]
                    or [c for c in children if c.get_content_type() == "text/html"]
                    or [c for c in children if c.is_multipart()]
                )
                for child in chosen[-1:]:
                    visit(child)
                for child in children:  # attachments can hide inside an alternative (Apple Mail)
                    if child not in chosen[-1:] and child.is_multipart():
                        for sub in child.walk():
                            if sub.get_filename():
                                add_attachment(sub)
                return
            for child in children:
                visit(child)
            return
        disposition = (part.get_content_disposition() or "").lower()
        is_attachment = disposition == "attachment" or (
            part.get_filename() and content_type not in ("text/plain", "text/html")
        )
        if content_type in (
            "message/delivery-status",
            "text/rfc822-headers",
            "message/disposition-notification",
        ):
            plain.append(_part_text(part))
            return
        if not is_attachment and content_type == "text/plain":
            plain.append(_part_text(part))
        elif not is_attachment and content_type == "text/html":
            html.append(_part_text(part))
        else:
            add_attachment(part)

    def add_attachment(part: Message) -> None:
        content_type = part.get_content_type()[:120]
        data = part.get_payload(decode=True) or b""
        filename = _safe_filename(part.get_filename(), len(attachments) + 1, content_type)
        keep = len(data) <= max_attachment_bytes
        if not keep:
            log.info(
                "attachment %s (%d bytes) over the %d-byte cap: metadata kept",
                filename,
                len(data),
                max_attachment_bytes,
            )
        attachments.append(
            InboundAttachment(
                filename=filename, content_type=content_type, size=len(data), data=data if keep else None
            )
        )

    visit(msg)
    return plain, html, attachments, attached_messages


def _text_of(plain: list[str], html: list[str]) -> str:
    if any(p.strip() for p in plain):
        return "\n\n".join(p.strip() for p in plain if p.strip())
    return "\n\n".join(html_to_text(h) for h in html if h.strip())


def parse_email(raw: bytes, settings: Settings, *, received_at: datetime | None = None) -> InboundMessage:
    """Turn one raw RFC 5322 message into the neutral shape. Raises ValueError if it has no sender."""
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        too_deep = False
    except RecursionError:  # MIME nested thousands deep: read the headers, keep the rest as text
        msg = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(raw, headersonly=True)
        too_deep = True
    from_name, from_address = parseaddr(_header(msg, "From"))
    if not from_address or "@" not in from_address:
        from_address = parseaddr(_header(msg, "Sender") or _header(msg, "Return-Path"))[1]
    if not from_address or "@" not in from_address:
        raise ValueError("The e-mail has no From address.")
    from_name = _decode_words(from_name) or None
    reply_name, reply_address = parseaddr(_header(msg, "Reply-To"))
    meta_from: str | None = None
    if reply_address and "@" in reply_address and reply_address.lower() != from_address.lower():
        # Replies go to Reply-To (RFC 5322): a web form or a shared mailbox writing for someone.
        meta_from = from_address.lower()
        from_address, from_name = reply_address, _decode_words(reply_name) or None
    subject = _decode_words(_header(msg, "Subject"))[:500] or None

    message_id = (_message_ids(_header(msg, "Message-ID")) or (None,))[0]
    if message_id is None:
        # No Message-ID: key it by its content, so the same mail delivered twice is still one message.
        message_id = f"<sha256-{hashlib.sha256(raw).hexdigest()}@no-message-id.invalid>"

    if not too_deep:
        try:
            plain, html, attachments, attached = _walk_content(msg, settings.max_attachment_bytes)
        except RecursionError:
            too_deep = True
    if too_deep:
        log.warning("MIME structure nested too deeply to read; keeping the message as plain text")
        text = raw.split(b"\r\n\r\n", 1)[-1] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[-1]
        plain, html, attachments, attached = [decode_bytes(text[:MAX_RAW_BODY_CHARS], None)], [], [], []
    full_text = _text_of(plain, html)
    meta: dict[str, object] = {"from": meta_from} if meta_from else {}
    sender, sender_name = from_address.lower(), from_name

    forward = split_forward(full_text, subject)
    if attached and not forward:  # forwarded as an attachment (Outlook "Forward as attachment")
        inner = attached[0]
        inner_plain, inner_html, inner_attachments, _ = _walk_content(inner, settings.max_attachment_bytes)
        inner_name, inner_address = parseaddr(_header(inner, "From"))
        forward = (
            full_text,
            _text_of(inner_plain, inner_html),
            inner_address.lower() or None,
            _decode_words(inner_name) or None,
        )
        attachments += inner_attachments
        full_text = f"{full_text}\n\n---------- Forwarded message ----------\n{_header(inner, 'From')}\n\n{forward[1]}"
    if forward:
        note, forwarded_text, original_address, original_name = forward
        meta["forwarded"] = True
        ours = original_address and (
            original_address == settings.mail_from.lower()
            or original_address.endswith("@" + settings.mail_domain.lower())
        )
        if original_address and original_address != sender and not ours:
            meta["forwarded_by"] = sender
            sender, sender_name = original_address, original_name
        note = strip_quotes_and_signature(note)
        if note:
            meta["forward_note"] = note[:2000]
        body = "\n\n".join(part for part in (note, strip_quotes_and_signature(forwarded_text)) if part)
    else:
        body = strip_quotes_and_signature(full_text)
    if not body.strip():
        body = full_text.strip()  # all quote, or a one-line reply above a signature marker: keep it all

    reason = automatic_reason(msg, settings.mail_domain, settings.mail_from)
    if too_deep:
        meta["unreadable_structure"] = True
    if reason:
        meta["automatic_reason"] = reason
    date_header = _header(msg, "Date")
    if date_header:
        meta["date"] = date_header[:100]
    if len(body) > settings.max_message_chars:
        meta["truncated_from_chars"] = len(body)
        body = body[: settings.max_message_chars]

    subject_reference = REFERENCE_IN_SUBJECT.search(subject or "")
    to_addresses = [address.lower() for _name, address in getaddresses([_header(msg, "To")]) if address]
    return InboundMessage(
        channel=CHANNEL,
        sender=sender[:320],
        sender_name=(sender_name or None) and sender_name[:200],
        body=body,
        provider_message_id=message_id[:250],
        received_at=received_at or utcnow(),
        recipient=(to_addresses[0] if to_addresses else None),
        subject=subject,
        attachments=tuple(attachments),
        in_reply_to=(_message_ids(_header(msg, "In-Reply-To")) or (None,))[0],
        references=_message_ids(_header(msg, "References")),
        automatic=reason is not None,
        raw_body=full_text[:MAX_RAW_BODY_CHARS],
        thread_reference=subject_reference.group(0).upper() if subject_reference else None,
        meta=meta,
    )


def _decode_words(value: str) -> str:
    """RFC 2047 encoded-words to text, tolerating unknown or broken charsets."""
    if "=?" not in value:
        return value.strip()
    out = []
    try:
        pieces = email.header.decode_header(value)
    except Exception:
        return value.strip()
    for data, charset in pieces:
        out.append(decode_bytes(data, charset) if isinstance(data, bytes) else data)
    return "".join(out).strip()


def message_date(raw: bytes) -> datetime | None:
    """The Date header as an aware datetime (for importing old mail), or None."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    try:
        value = parsedate_to_datetime(_header(msg, "Date"))
    except (TypeError, ValueError, IndexError):
        return None
    return as_utc(value)


# --- threading and delivery ------------------------------------------------------------------


def thread_reference(session: Session, message: InboundMessage) -> str | None:
    """The case this mail continues: a reference in the subject first (Zammad's order), then the
    case of any message named in In-Reply-To or References (ours or the resident's earlier ones)."""
    if message.thread_reference:
        exists = session.exec(select(Case.id).where(Case.reference == message.thread_reference)).first()
        if exists is not None:
            return message.thread_reference
    ids = [i for i in (message.in_reply_to, *reversed(message.references)) if i][:50]
    if not ids:
        return None
    for message_id in ids:
        case_id = (
            session.exec(
                select(Outbox.case_id).where(
                    Outbox.channel == CHANNEL, Outbox.provider_message_id == message_id
                )
            ).first()
            or session.exec(
                select(StoredMessage.case_id).where(
                    StoredMessage.channel == CHANNEL, StoredMessage.provider_message_id == message_id
                )
            ).first()
        )
        if case_id:
            return session.exec(select(Case.reference).where(Case.id == case_id)).first()
    return None


def receive_email(
    raw: bytes,
    *,
    engine: Engine,
    handle: InboundHandler,
    settings: Settings,
    received_at: datetime | None = None,
) -> tuple[InboundMessage, InboundResult]:
    """Parse, find the thread, hand on. The one path for HTTP, SMTP and import-mail."""
    message = parse_email(raw, settings, received_at=received_at)
    with Session(engine) as session:
        reference = thread_reference(session, message)
    if reference != message.thread_reference or reference:
        meta = {**message.meta, "case_reference": reference} if reference else message.meta
        message = replace(message, thread_reference=reference, meta=meta)
    return message, handle(message)

"""What the bot does with one resident message, given the conversation's state.

States: start -> (clarify) -> complaint | sr_logged | asb_routed | done ; handed_off ; stopped.
A complaint asks one thing at a time and only what is missing: what happened, when, what would
put it right, support needs, who is helping, how to contact. Other categories are recorded at
once and the resident told what happens next. Every reply goes through the outbox (Turn.say /
Turn.letter) in the caller's transaction; nothing here commits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from bot.engine import replies as R
from bot.engine import understand as U
from classifier.types import Evidence, Triage
from intake.cases import NewCase, acknowledge, add_adjustment, audit, open_case, record_advocate, touch
from intake.contacts import find_or_create_contact
from intake.errors import IntakeError
from intake.letters import describe_adjustment_short
from intake.models import Advocate, Case, Contact, Conversation, Message, uk_date, utcnow
from intake.notify import send_letter
from intake.outbox import enqueue
from intake.policy import Policy
from intake.sms_text import SMS_MAX_SEGMENTS, sms_segments

Classify = Callable[..., Triage]

LOW_CONFIDENCE = 0.5
MAX_TEXT = 2000  # what we keep of any one answer in the conversation state


def triage_to_json(triage: Triage) -> dict[str, Any]:
    return triage.to_json()


def triage_from_json(data: dict[str, Any] | None) -> Triage | None:
    if not data:
        return None
    data = dict(data)
    data["adjustments"] = tuple(data.get("adjustments") or ())
    data["evidence"] = tuple(Evidence(**e) for e in data.get("evidence") or ())
    return Triage(**data)


@dataclass
class Turn:
    """One resident message being handled: the state it changes and the replies it queues."""

    session: Session
    policy: Policy
    classify: Classify
    conversation: Conversation
    message: Message
    text: str
    received_at: datetime
    state: str
    data: dict[str, Any]
    hold_until: datetime | None = None  # SMS replies wait this long for a following fragment
    contact_id: int | None = None
    case_id: int | None = None
    active: bool = True
    replies: list[str] = field(default_factory=list)
    outbox_ids: list[int] = field(default_factory=list)
    opened_case_ids: list[int] = field(default_factory=list)
    final: bool = False  # a safety message went out: never superseded by a following fragment
    urgent_now: bool = False  # this message itself shows a risk now
    _held: dict[tuple[type, int], Any] = field(
        default_factory=dict
    )  # the identity map only holds weak references
    _triages: dict[str, Triage] = field(default_factory=dict)

    # --- who and where --------------------------------------------------------------------
    @property
    def channel(self) -> str:
        return self.conversation.channel

    @property
    def address(self) -> str:
        return self.conversation.address

    def get(self, model: type, row_id: int | None) -> Any:
        """session.get, keeping the object for the rest of the turn so later looks are free."""
        if row_id is None:
            return None
        key = (model, row_id)
        if key not in self._held:
            self._held[key] = self.session.get(model, row_id)
        return self._held[key]

    def contact(self) -> Contact:
        if self.contact_id is not None:
            contact = self.get(Contact, self.contact_id)
            if contact is not None:
                return contact
        contact = None
        try:
            if self.channel == "sms":
                contact = find_or_create_contact(self.session, phone=self.address)
            elif self.channel == "email":
                name = (self.message.meta or {}).get("sender_name") if self.message is not None else None
                contact = find_or_create_contact(self.session, email=self.address, name=name)
        except IntakeError:
            contact = None
        if contact is None:
            contact = Contact()
            self.session.add(contact)
            self.session.flush()
        self.contact_id = contact.id
        self._held[(Contact, contact.id)] = contact
        return contact

    def classify_text(self, text: str) -> Triage:
        text = text[:20_000]
        if text not in self._triages:
            self._triages[text] = self.classify(text, received_at=self.received_at)
        return self._triages[text]

    # --- replies, all through the outbox --------------------------------------------------
    def _hold(self, row, hold: bool) -> None:
        if hold and self.hold_until is not None:
            row.next_attempt_at = self.hold_until
            self.session.add(row)
        self.outbox_ids.append(row.id)

    def _can_send(self) -> bool:
        if self.channel != "sms":
            return True
        contact = self.contact()
        return not contact.sms_opted_out

    def say(self, body: str, kind: str = "bot_reply", hold: bool = True) -> None:
        if not self._can_send():
            return
        subject = None
        headers: dict[str, Any] = {}
        if self.channel == "email":
            subject = self.message.subject or f"Your message to {self.policy.landlord}"
            if not subject.lower().startswith("re:"):
                subject = f"Re: {subject}"
            if self.message.provider_message_id:
                headers = {"In-Reply-To": self.message.provider_message_id}
        row = enqueue(
            self.session,
            channel=self.channel,
            to=self.address,
            body=body,
            kind=kind,
            subject=subject,
            case=self.get(Case, self.case_id),
            conversation_id=self.conversation.id,
            headers=headers,
        )
        self._hold(row, hold and not self.final)
        self.replies.append(body)

    def letter(self, case: Case, kind: str, **extra: Any) -> None:
        if not self._can_send():
            return
        headers = {}
        if self.channel == "email" and self.message.provider_message_id:
            headers = {"In-Reply-To": self.message.provider_message_id}
        letter, row = send_letter(
            self.session,
            self.policy,
            case,
            kind,
            channel=self.channel,
            to=self.address,
            conversation_id=self.conversation.id,
            headers=headers,
            **extra,
        )
        self._hold(row, not self.final)
        self.replies.append(letter.body)

    # --- cases ----------------------------------------------------------------------------
    def open(self, new: NewCase) -> Case:
        case = open_case(self.session, self.policy, self.contact(), new)
        self._held[(Case, case.id)] = case
        self.opened_case_ids.append(case.id)
        self.data.setdefault("case_ids", []).append(case.id)
        self.data["case_id"] = case.id
        self.case_id = case.id
        return case

    def topic_case(self) -> Case | None:
        case_id = self.data.get("case_id")
        return self.get(Case, case_id)

    def new_case(self, category: str, summary: str, triage: Triage | None, **kw: Any) -> NewCase:
        urgent = bool(self.data.get("urgent"))
        return NewCase(
            category=category,
            channel=self.channel,
            received_at=kw.pop("received_at", self.received_at),
            triage=triage,
            summary=summary[:4000] if summary else None,
            urgent=urgent,
            urgent_kind=self.data.get("urgent_kind") if urgent else None,
            **kw,
        )


# ---------------------------------------------------------------------------------------------
# The turn
# ---------------------------------------------------------------------------------------------
def run_turn(t: Turn) -> None:
    text = t.text
    triage = t.classify_text(text)
    check_urgent(t, triage)
    asked = U.intent(text)
    if asked == "stop":
        return stop(t)
    if asked == "restart":
        return restart(t)
    if asked == "human":
        return hand_to_person(t, text)
    handler = STATES.get(t.state, on_start)
    handler(t, text, triage, asked)
    ensure_urgent_case(t, triage)


def check_urgent(t: Turn, triage: Triage) -> None:
    """A risk now: the safety message goes first, before any question, and the case is urgent."""
    if not triage.urgent:
        return
    kind = triage.urgent_kind or "danger"
    sent = t.data.setdefault("safety_sent", [])
    t.final = True
    t.urgent_now = True
    if kind not in sent and not (sent and kind in R.GENERAL_KINDS):
        t.say(R.safety_message(kind, t.policy), kind="safety", hold=False)
        sent.append(kind)
    t.data["urgent"] = True
    t.data["urgent_kind"] = t.data.get("urgent_kind") or kind
    case = t.topic_case()
    if case is not None and not case.urgent:
        case.urgent, case.urgent_kind = True, kind
        touch(case)
        t.session.add(case)
        audit(t.session, case, "bot", "case.marked_urgent", detail=f"risk now: {kind}")


def begin_topic(t: Turn, topic: str | None) -> None:
    """A new matter: an earlier message's risk stays on that matter's case, not on this one."""
    t.data["topic"] = topic
    t.data.pop("case_id", None)
    if not t.urgent_now:
        t.data.pop("urgent", None)
        t.data.pop("urgent_kind", None)


def ensure_urgent_case(t: Turn, triage: Triage) -> None:
    """An urgent risk must reach the urgent queue now, even before a complaint is complete."""
    if not t.data.get("urgent") or t.topic_case() is not None or t.state == "stopped":
        return
    topic = t.data.get("topic") or triage.category
    category = topic if topic in ("complaint", "service_request", "asb_report", "compliment") else "other"
    summary = (t.data.get("complaint") or {}).get("what") or t.data.get("pending_text") or t.text
    case = t.open(
        t.new_case(
            category, summary, triage, needs_review=category == "other", review_reason="urgent risk reported"
        )
    )
    t.say(R.URGENT_NOTED.format(reference=case.reference), hold=False)


# --- start: a new topic ---------------------------------------------------------------------
def on_start(t: Turn, text: str, triage: Triage, asked: str | None) -> None:
    if U.yes_no(text) is True and t.data.get("case_ids"):  # e.g. a late YES to "confirm your representative"
        case = t.get(Case, t.data["case_ids"][-1])
        if case is not None and record_pending_consent(t, case):
            return
    new_topic(t, text, triage, forced=None, explicit_complaint=asked == "complain")


def new_topic(
    t: Turn, text: str, triage: Triage, forced: str | None, explicit_complaint: bool = False
) -> None:
    category = forced or triage.category
    if forced is None and triage.unreadable_language:
        return pass_to_interpreter(t, text, triage)
    if explicit_complaint and not forced:
        # "I want to complain" is a complaint. Only what they go on to describe can make it an
        # exclusion (still reviewed by staff, never refused) or a report about a neighbour.
        described = U.has_content(text)
        keep = described and (
            (category == "exclusion" and triage.exclusion_reason and not triage.needs_review)
            or (category == "asb_report" and triage.confidence >= 0.7)
        )
        category = category if keep else "complaint"
    if (
        forced is None
        and not explicit_complaint
        and not t.urgent_now
        and not t.data.get("clarified")
        and category not in ("other", "exclusion")
        and (triage.needs_review or triage.confidence < LOW_CONFIDENCE)
    ):
        return ask_clarifying_question(t, text, triage)
    t.data.pop("clarified", None)
    if category == "exclusion":
        if t.policy.uses_exclusion(triage.exclusion_reason):
            return record_exclusion(t, text, triage)
        return start_complaint(
            t,
            text,
            triage,
            review_reason=f"possible exclusion {triage.exclusion_reason} is not in this landlord's policy",
        )
    {
        "complaint": start_complaint,
        "service_request": log_service_request,
        "asb_report": route_asb,
        "compliment": record_compliment,
    }.get(category, answer_other)(t, text, triage)


def pass_to_interpreter(t: Turn, text: str, triage: Triage) -> None:
    """Written in a language we cannot read: no questions in English. The case is opened as the
    classifier's best guess (a possible complaint: a missed one is the costly error) for a person
    to read with an interpreter, and the resident is told so."""
    language = triage.unreadable_language
    code = f"interpreter:{language}"
    case = t.open(
        t.new_case(
            triage.category,
            text,
            triage,
            needs_review=True,
            review_reason=f"written in {language.title()}: needs translating before it can be triaged",
            adjustments=[(code, "the message was written in this language")]
            + [(other, None) for other in triage.adjustments if other != code],
        )
    )
    t.say(R.UNREADABLE.format(reference=case.reference))
    t.state = "handed_off"


def ask_clarifying_question(t: Turn, text: str, triage: Triage) -> None:
    ranked = sorted(triage.probabilities.items(), key=lambda item: -item[1]) if triage.probabilities else []
    candidates = [c for c, _ in ranked if c != "other"][:2] or [triage.category]
    if triage.category not in candidates:
        candidates = [triage.category, *candidates][:2]
    if len(candidates) == 1:
        candidates.append("complaint" if candidates[0] != "complaint" else "service_request")
    t.data.update(pending_text=text[:MAX_TEXT], candidates=candidates, triage=triage_to_json(triage))
    t.state = "clarify"
    t.say(R.CLARIFY.get(frozenset(candidates), R.CLARIFY_GENERIC))


def on_clarify(t: Turn, text: str, triage: Triage, asked: str | None) -> None:
    candidates = t.data.pop("candidates", None) or ["complaint"]
    pending = t.data.pop("pending_text", "") or text
    original = triage_from_json(t.data.pop("triage", None)) or t.classify_text(pending)
    category = "complaint" if asked == "complain" else U.read_clarification(text, candidates)
    if category is None:
        again = t.classify_text(f"{pending} {text}")
        confident = again.confidence >= 0.7 and not again.needs_review and again.category != "other"
        category = again.category if again.category in candidates or confident else candidates[0]
    t.data["clarified"] = True
    t.state = "start"
    new_topic(t, pending, original, forced=category)
    if category == "complaint" and t.data.get("complaint") and U.has_content(text):
        t.data["complaint"]["added"] = text[:MAX_TEXT]  # kept for staff, not echoed back


# --- complaint ----------------------------------------------------------------------------
def start_complaint(
    t: Turn,
    text: str,
    triage: Triage,
    *,
    linked_case_id: int | None = None,
    review_reason: str | None = None,
    what_prompt: str = R.ASK_WHAT,
) -> None:
    t.state = "complaint"
    begin_topic(t, "complaint")
    content = text if U.has_content(text) else None
    complaint: dict[str, Any] = {
        "what": None,
        "when": None,
        "outcome": None,
        "adjustments": [[code, "classifier"] for code in triage.adjustments] if content else [],
        "adjustment_note": None,
        "advocate_flag": bool(triage.advocate) if content else False,
        "advocate": None,
        "contact": None,
        "done": [],
        "asked": None,
        "started_at": t.received_at.isoformat(),
        "linked_case_id": linked_case_id,
        "review_reason": review_reason,
        "what_prompt": what_prompt,
    }
    t.data["complaint"] = complaint
    t.data["triage"] = triage_to_json(triage) if content else None
    lead = None
    if content:
        take_what(complaint, content)
        lead = R.UNDERSTOOD
    if t.data.get("urgent"):
        ensure_urgent_case(t, triage)
    ask_next(t, complaint, lead)


def take_what(complaint: dict[str, Any], text: str) -> None:
    complaint["what"] = U.key_sentence_first(text)[:MAX_TEXT]
    if not complaint["when"] and U.mentions_when(text):
        complaint["when"] = "(in their first message)"
    if not complaint["outcome"]:
        complaint["outcome"] = U.find_outcome(text)


def next_slot(t: Turn, complaint: dict[str, Any]) -> str | None:
    if not complaint["what"]:
        return "what"
    if not complaint["when"]:
        return "when"
    if not complaint["outcome"]:
        return "outcome"
    for slot in ("adjustments", "advocate", "contact"):
        if slot not in complaint["done"]:
            if slot == "adjustments" and complaint["adjustments"]:
                complaint["done"].append(slot)  # they told us already: we say what we noted instead
                continue
            return slot
    return None


def question_for(t: Turn, complaint: dict[str, Any], slot: str) -> str:
    if slot == "what":
        return complaint.get("what_prompt") or R.ASK_WHAT
    if slot == "advocate":
        return R.ASK_ADVOCATE_FOR_SOMEONE if complaint["advocate_flag"] else R.ASK_ADVOCATE
    if slot == "contact":
        return R.ASK_CONTACT_WEB if t.channel == "web" else R.ASK_CONTACT
    return {"when": R.ASK_WHEN, "outcome": R.ASK_OUTCOME, "adjustments": R.ASK_ADJUSTMENTS}[slot]


def ask_next(t: Turn, complaint: dict[str, Any], lead: str | None = None) -> None:
    slot = next_slot(t, complaint)
    noted = ""
    if complaint["adjustments"] and not complaint.get("noted_said"):
        complaint["noted_said"] = True
        codes = [code for code, _ in complaint["adjustments"]]
        noted = R.ADJUSTMENTS_NOTED.format(needs=", ".join(describe_adjustment_short(c) for c in codes))
    if slot is None:
        if noted:
            t.say(noted)
        return complete_complaint(t, complaint)
    question = question_for(t, complaint, slot)
    complaint["asked"] = slot
    tail = " ".join(part for part in (noted, question) if part)
    if lead is None:
        t.say(tail)
        return
    what = first_words(complaint["what"])
    for room in range(max(len(what), 20), 19, -10):
        line = understood(lead, R.shorten(what, room))
        if t.channel == "email" or sms_segments(f"{line} {tail}") <= SMS_MAX_SEGMENTS:
            t.say(f"{line} {tail}")
            return
    for room in range(len(what), -1, -10):
        line = understood(lead, R.shorten(what, room))
        if sms_segments(line) <= SMS_MAX_SEGMENTS:
            break
    t.say(line)
    t.say(tail)


def understood(lead: str, summary: str) -> str:
    line = lead.format(summary=summary.rstrip(" ,;:"))
    return line if line.endswith((".", "!", "?")) else line + "."


def first_words(text: str | None) -> str:
    sentence = U.first_sentence(text or "")
    return R.shorten(sentence, 160)


def on_complaint(t: Turn, text: str, triage: Triage, asked: str | None) -> None:
    complaint = t.data.get("complaint")
    if not complaint:
        return start_complaint(t, text, triage)
    slot = complaint.get("asked")
    lead = None
    for code in triage.adjustments:
        add_code(complaint, code, "classifier")
    if slot == "what":
        take_what(complaint, text)
        t.data["triage"] = triage_to_json(triage)
        complaint["advocate_flag"] = complaint["advocate_flag"] or triage.advocate
        lead = R.UNDERSTOOD
    elif slot == "when":
        complaint["when"] = text[:300]
        complaint["outcome"] = complaint["outcome"] or U.find_outcome(text)
    elif slot == "outcome":
        complaint["outcome"] = text[:MAX_TEXT]
    elif slot == "adjustments":
        codes = U.find_adjustments(text) + list(triage.adjustments)
        for code in codes:
            add_code(complaint, code, "resident")
        if not codes and U.yes_no(text) is not False:
            complaint["adjustment_note"] = text[:500]
        complaint["done"].append("adjustments")
    elif slot == "advocate":
        take_advocate(t, complaint, text)
        complaint["done"].append("advocate")
    elif slot == "contact":
        complaint["contact"] = {"text": text[:300], **vars(U.read_contact(text))}
        complaint["done"].append("contact")
    ask_next(t, complaint, lead)


def add_code(complaint: dict[str, Any], code: str, source: str) -> None:
    if code not in [c for c, _ in complaint["adjustments"]]:
        complaint["adjustments"].append([code, source])


_JUST_ME = ("just me", "only me", "myself", "me", "it's me", "its me", "no one", "nobody", "no-one")


def take_advocate(t: Turn, complaint: dict[str, Any], text: str) -> None:
    answer = U.yes_no(text)
    plain = " ".join(text.lower().split()).strip(" .!")
    if answer is False or plain in _JUST_ME:
        complaint["advocate"] = None
        return
    read = U.read_advocate(text, complaint["advocate_flag"])
    if not (read.name or read.relationship or answer or complaint["advocate_flag"]):
        complaint["advocate"] = None
        complaint["adjustment_note"] = (complaint.get("adjustment_note") or "") + f" Helper: {text[:300]}"
        return
    resident_consents = not read.writer_is_advocate
    complaint["advocate"] = {
        "name": read.name,
        "relationship": read.relationship,
        "consent": "given" if resident_consents else "to_obtain",
        "said": text[:300],
        "says_consent": read.says_consent,
    }


def complete_complaint(t: Turn, complaint: dict[str, Any]) -> None:
    session = t.session
    contact = t.contact()
    what = complaint["what"] or ""
    parts = [what]
    if complaint.get("added"):
        parts.append(f"They added: {complaint['added']}")
    if complaint["when"] and complaint["when"] != "(in their first message)":
        parts.append(f"When: {complaint['when']}")
    if complaint.get("adjustment_note"):
        parts.append(f"Support or help mentioned: {complaint['adjustment_note'].strip()}")
    summary = " ".join(p if p.rstrip().endswith((".", "!", "?")) else p.rstrip() + "." for p in parts if p)
    review_reason = complaint.get("review_reason")
    started_at = datetime.fromisoformat(complaint["started_at"])
    case = t.topic_case()
    if case is None:
        case = t.open(
            t.new_case(
                "complaint",
                summary,
                triage_from_json(t.data.get("triage")),
                received_at=started_at,
                outcome_sought=complaint["outcome"],
                needs_review=bool(review_reason),
                review_reason=review_reason,
            )
        )
    else:
        case.summary, case.outcome_sought = summary[:4000], complaint["outcome"]
        touch(case)
        session.add(case)
    if complaint.get("linked_case_id"):
        case.linked_case_id = complaint["linked_case_id"]
        session.add(case)
    for code, source in complaint["adjustments"]:
        add_adjustment(session, case, contact, code, None, source=source)
    advocate = complaint.get("advocate")
    if advocate:
        given = advocate["consent"] == "given"
        if not given:
            t.data.setdefault("written_by_representative", []).append(case.id)
        record_advocate(
            session,
            case,
            name=advocate["name"],
            relationship=advocate["relationship"],
            consent=advocate["consent"],
            consent_method=f"the resident told us by {t.channel} from {t.address}" if given else None,
        )
    wanted = complaint.get("contact") or {}
    if wanted.get("method"):
        contact.preferred_contact = wanted["method"]
    if wanted.get("time"):
        contact.preferred_time = wanted["time"][:100]
    if wanted.get("email") and not contact.email:
        contact.email = wanted["email"][:320]
    if wanted.get("phone") and not contact.phone:
        try:
            from intake.contacts import normalise_phone

            contact.phone = normalise_phone(wanted["phone"])
        except IntakeError:
            pass
    session.add(contact)
    session.flush()
    acknowledge(session, t.policy, case, uk_date(t.received_at), actor="bot")
    t.letter(case, "acknowledgement")
    t.state = "done"


# --- the other categories ---------------------------------------------------------------------
def log_service_request(t: Turn, text: str, triage: Triage) -> None:
    begin_topic(t, "service_request")
    case = t.open(t.new_case("service_request", text, triage))
    t.letter(case, "service_request_logged")
    if t.urgent_now:  # in an emergency, no extra question: the letter says they can complain
        t.state = "done"
        return
    t.say(R.SR_ASK_UNHAPPY)
    t.state = "sr_logged"


def on_sr_logged(t: Turn, text: str, triage: Triage, asked: str | None) -> None:
    case = t.topic_case()
    answer = U.yes_no(text)
    if answer is True or asked == "complain":
        return start_complaint(
            t,
            text if asked == "complain" else "",
            triage,
            linked_case_id=case.id if case else None,
            what_prompt=R.ASK_WHAT_HANDLING,
        )
    if answer is False:
        t.say(R.SR_NO_COMPLAINT)
        t.state = "done"
        return
    on_done(t, text, triage, asked)


def route_asb(t: Turn, text: str, triage: Triage) -> None:
    begin_topic(t, "asb_report")
    case = t.open(t.new_case("asb_report", text, triage))
    t.letter(case, "asb_routed")
    t.state = "done"


def record_exclusion(t: Turn, text: str, triage: Triage) -> None:
    """Never a refusal: staff review it and write with their decision and the Ombudsman route."""
    begin_topic(t, "exclusion")
    reason = triage.exclusion_reason
    case = t.open(t.new_case("exclusion", text, triage, exclusion_reason=reason))
    t.letter(
        case,
        "exclusion_review",
        decision_by=t.policy.exclusion_decision_by(case.received_on),
        reason_words=t.policy.exclusion_wording(reason) if t.policy.uses_exclusion(reason) else "",
    )
    t.state = "done"


def record_compliment(t: Turn, text: str, triage: Triage) -> None:
    begin_topic(t, "compliment")
    case = t.open(t.new_case("compliment", text, triage))
    t.letter(case, "compliment_received")
    t.state = "done"


def answer_other(t: Turn, text: str, triage: Triage) -> None:
    begin_topic(t, None)
    entry = U.answer_from_faq(t.policy, text)
    if t.urgent_now:  # after the safety message: the urgent case, then what our team needs to act
        ensure_urgent_case(t, triage)
        personal = t.data.get("urgent_kind") in R.PERSONAL_KINDS
        t.say(R.URGENT_MORE_PERSONAL if personal else R.URGENT_MORE)
        t.state = "handed_off"  # what they tell us next goes on that case, for staff
        return
    if entry is not None:
        t.say(R.fit(R.FAQ_ANSWER, text_field="answer", value=entry.answer))
    else:
        t.say(R.fit(R.GREETING, text_field="landlord", value=t.policy.landlord))
    t.state = "start"


def on_done(t: Turn, text: str, triage: Triage, asked: str | None) -> None:
    """After a case is recorded: consent, a complaint about how we handled it, or more detail."""
    case = t.topic_case()
    if case is None:
        return on_start(t, text, triage, asked)
    if U.yes_no(text) is True and record_pending_consent(t, case):
        return
    is_complaint = case.category in ("complaint", "exclusion")
    unhappy = asked == "complain" or (
        triage.category == "complaint"
        and triage.confidence >= 0.7
        and not triage.needs_review
        and U.has_content(text)
    )
    if unhappy and not is_complaint:
        return start_complaint(t, text, triage, linked_case_id=case.id, what_prompt=R.ASK_WHAT_HANDLING)
    if asked == "complain":
        t.say(R.COMPLAINT_ALREADY.format(reference=case.reference))
        return
    add_to_case(t, case, text)
    t.say(R.ADDED_TO_CASE.format(reference=case.reference))


KEEP_ACROSS_TOPICS = ("case_ids", "safety_sent", "last_at", "written_by_representative")


def record_pending_consent(t: Turn, case: Case) -> bool:
    """A YES to "confirm your representative can act for you". When the representative was the
    one writing to us, their YES is not the resident's consent: we note it and still ask the
    resident (Code: the resident's consent, not a claim of it)."""
    advocate = t.session.exec(
        select(Advocate)
        .where(Advocate.case_id == case.id, Advocate.consent == "to_obtain")
        .order_by(Advocate.id.desc())
    ).first()
    if advocate is None:
        return False
    if case.id in t.data.get("written_by_representative", []):
        audit(
            t.session,
            case,
            "bot",
            "advocate.consent_claimed",
            detail=f"the representative replied YES by {t.channel} from {t.address}; consent still to be confirmed by the resident",
        )
        t.say(R.CONSENT_STILL_NEEDED.format(phone=t.policy.office.phone))
        return True
    advocate.consent = "given"
    advocate.consent_method = f"YES by {t.channel} from {t.address}, in reply to our acknowledgement"
    advocate.consent_at = utcnow()
    t.session.add(advocate)
    audit(t.session, case, "bot", "advocate.consent_given", detail=advocate.consent_method)
    t.say(R.CONSENT_RECORDED.format(who=advocate.name or "your representative", reference=case.reference))
    return True


def add_to_case(t: Turn, case: Case, text: str) -> None:
    t.case_id = case.id
    audit(
        t.session,
        case,
        "bot",
        "message.added",
        detail=f"{t.channel} message {t.message.id} added to the case",
    )


# --- at any point ------------------------------------------------------------------------
def in_progress_complaint(t: Turn, reason: str) -> Case | None:
    """A complaint the resident started but did not finish is still a complaint: keep it for staff."""
    complaint = t.data.get("complaint")
    if t.state != "complaint" or not complaint or not complaint.get("what") or t.topic_case() is not None:
        return t.topic_case() if t.state == "complaint" else None
    return t.open(
        t.new_case(
            "complaint",
            complaint["what"],
            triage_from_json(t.data.get("triage")),
            received_at=datetime.fromisoformat(complaint["started_at"]),
            outcome_sought=complaint.get("outcome"),
            needs_review=True,
            review_reason=reason,
        )
    )


def hand_to_person(t: Turn, text: str) -> None:
    case = in_progress_complaint(t, "resident asked to speak to a person before finishing") or t.topic_case()
    if case is None:
        summary = t.data.get("pending_text") or text
        case = t.open(
            t.new_case(
                "other", summary, None, needs_review=True, review_reason="resident asked to speak to a person"
            )
        )
    else:
        before = case.needs_review
        case.needs_review = True
        case.review_reason = (
            (case.review_reason + "; ") if case.review_reason else ""
        ) + "resident asked to speak to a person"
        case.review_reason = case.review_reason[:200]
        touch(case)
        t.session.add(case)
        audit(
            t.session,
            case,
            "bot",
            "case.person_requested",
            before={"needs_review": before},
            after={"needs_review": True},
        )
    t.case_id = case.id
    office = t.policy.office
    t.say(R.HUMAN.format(about=f" about {case.reference}", phone=office.phone, hours=office.hours))
    t.state = "handed_off"


def on_handed_off(t: Turn, text: str, triage: Triage, asked: str | None) -> None:
    if asked == "complain":
        return start_complaint(t, text, triage, linked_case_id=t.data.get("case_id"))
    case = t.topic_case()
    if case is not None:
        add_to_case(t, case, text)
    t.say(R.HANDED_OFF_ADDED.format(phone=t.policy.office.phone))


def expire_topic(t: Turn, reason: str) -> None:
    """Leave the current matter without a reply: an unfinished complaint (or an unanswered
    clarifying question) is opened for staff review, then the conversation starts afresh."""
    if t.state == "clarify" and t.data.get("pending_text") and t.topic_case() is None:
        candidates = t.data.get("candidates") or ["complaint"]
        category = (
            candidates[0] if candidates[0] in ("complaint", "service_request", "asb_report") else "complaint"
        )
        case = t.open(
            t.new_case(
                category,
                t.data["pending_text"],
                triage_from_json(t.data.get("triage")),
                needs_review=True,
                review_reason=f"{reason} (we asked a clarifying question)",
            )
        )
        t.case_id = case.id
    else:
        case = in_progress_complaint(t, reason)
        if case is not None:
            t.case_id = case.id
    keep = {key: t.data[key] for key in KEEP_ACROSS_TOPICS if key in t.data}
    t.data.clear()
    t.data.update(keep)
    t.state = "start"


def restart(t: Turn) -> None:
    keep = {key: t.data[key] for key in KEEP_ACROSS_TOPICS if key in t.data}
    t.data.clear()
    t.data.update(keep)
    t.state = "start"
    t.say(R.RESTART)


def stop(t: Turn) -> None:
    case = in_progress_complaint(t, "resident stopped the conversation before finishing")
    kept = R.STOPPED_KEPT.format(reference=case.reference) if case is not None else ""
    t.say(R.STOPPED.format(kept=kept))
    t.state = "stopped"
    t.active = False


STATES: dict[str, Callable[[Turn, str, Triage, str | None], None]] = {
    "start": on_start,
    "clarify": on_clarify,
    "complaint": on_complaint,
    "sr_logged": on_sr_logged,
    "done": on_done,
    "handed_off": on_handed_off,
}

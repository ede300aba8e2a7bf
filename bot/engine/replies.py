"""The bot's own lines: plain, warm, short English that fits in two text messages.

Only GSM-7 characters (straight apostrophes, no dashes or emoji), so every line costs the
resident's phone as few segments as possible. Anything the resident wrote that we echo back is
shortened until the whole line fits (`fit`). Letters (acknowledgements, references, dates) are
not here: they come from intake/templates/letters through intake.notify.send_letter.
"""

from __future__ import annotations

from intake.policy import Policy
from intake.sms_text import SMS_MAX_SEGMENTS, sms_segments

# --- safety first: sent before anything else when a message shows a risk now ----------------
GAS_EMERGENCY = "0800 111 999"
SAMARITANS = "116 123"
DOMESTIC_ABUSE_HELPLINE = "0808 2000 247"

SAFETY = {
    "gas": (
        "If you smell gas, call the National Gas Emergency number now: 0800 111 999 (free, day or night). "
        "Open windows, don't use switches or flames, and go outside if you can."
    ),
    "self_harm": (
        "We're sorry you're going through this. If you're thinking of harming yourself, please call "
        "Samaritans free on 116 123, day or night. If your life is in danger, call 999 now."
    ),
    "domestic_abuse": (
        "If you are in danger now, call 999. If you can't talk, call 999 and press 55. "
        "The National Domestic Abuse Helpline is free, day or night: 0808 2000 247."
    ),
    "violence": "If you or anyone else is in danger now, please call 999.",
    "fire": "If there is a fire, get everyone out and call 999 now. Don't go back inside.",
    "flood": (
        "If anyone is in danger, call 999. Keep away from water near electrics and turn off "
        "the water at the stop tap if you can. Then call us on {phone}."
    ),
    "electrics": (
        "If anyone is in danger, call 999. Keep away from the sparking or exposed wires and switch "
        "off at the fuse box if it is safe to. Then call us on {phone}."
    ),
    "structural": "If anyone is in danger, call 999 and keep away from the damaged area. Then call us on {phone}.",
    "damp_mould_health": (
        "If the damp or mould is making anyone ill, please speak to your GP or call NHS 111. "
        "If someone is struggling to breathe, call 999."
    ),
    "no_heat_vulnerable": (
        "If anyone is unwell from the cold, call NHS 111, or 999 in an emergency. Keep one room warm if you can, "
        "and call us on {phone}."
    ),
    "care_equipment": "If care or medical equipment has stopped and someone is at risk, call 999. Then call us on {phone}.",
}
# Risks without a specific kind get the general message only if no safety message was sent yet;
# each specific kind's message is sent once per conversation.
GENERAL_KINDS = frozenset({"other", "danger"})
SAFETY_DEFAULT = "If anyone is in danger now, please call 999. Then call us on {phone}."
URGENT_NOTED = "We've marked this as urgent so our team sees it first. Your reference is {reference}."
URGENT_MORE = "Please tell us where you live and what is happening, so our team can act on it."
URGENT_MORE_PERSONAL = (
    "A member of our team will contact you. If it's safe to, tell us the best way and time to reach you."
)
PERSONAL_KINDS = frozenset({"self_harm", "domestic_abuse", "violence"})


def safety_message(kind: str | None, policy: Policy) -> str:
    return SAFETY.get(kind or "", SAFETY_DEFAULT).format(phone=policy.office.phone)


# --- starting, and anything we cannot place --------------------------------------------------
GREETING = (
    "Hello, thanks for getting in touch with {landlord}. What can we help with? You can tell us about "
    "a repair, a problem with a neighbour, or something you're unhappy about."
)
FAQ_ANSWER = "{answer} Is there anything else? Just tell us here."

# --- a complaint, one question at a time ------------------------------------------------------
UNDERSTOOD = "Thank you. I'm sorry about this. I understand your complaint is about: {summary}"
ASK_WHAT = "I'm sorry something has gone wrong. Please tell us what happened, in your own words."
ASK_WHAT_HANDLING = "I'm sorry. Please tell us what has gone wrong with how we've dealt with it."
ASK_WHEN = "When did this happen, or when did it start? A rough idea is fine."
ASK_OUTCOME = "What would put things right for you?"
ASK_ADJUSTMENTS = (
    "Do you need any help from us with this, like large print, BSL sign language, an interpreter, or contact only "
    "by phone or only in writing? Reply NO if not."
)
ADJUSTMENTS_NOTED = "We've noted you need: {needs}."
ASK_ADVOCATE = (
    "Is someone helping you with this, like a family member or support worker? If so, tell us their "
    "name and how they know you. Reply NO if not."
)
ASK_ADVOCATE_FOR_SOMEONE = (
    "You're writing for someone else, which is fine. Please tell us your name, how you know them, "
    "and if they're happy for you to act for them."
)
ASK_CONTACT = "Last question: how and when is best to contact you? For example text, phone call, email or letter, and a time of day."
ASK_CONTACT_WEB = (
    "Last question: how and when is best to contact you? Please give a phone number or email address, "
    "and a good time of day."
)
COMPLAINT_ALREADY = "Your complaint is already recorded, ref {reference}. We'll be in touch. To add anything, just tell us here."

# --- other categories --------------------------------------------------------------------------
SR_ASK_UNHAPPY = (
    "Are you unhappy with how we've dealt with this so far? Reply YES and we'll take a complaint now, "
    "or NO if not."
)
SR_NO_COMPLAINT = "OK, thank you. We'll be in touch about your request. If that changes, just tell us."
ADDED_TO_CASE = (
    "Thank you, we've added this to {reference}. To tell us about something else, say 'start again'."
)
CONSENT_RECORDED = "Thank you. We've recorded that {who} can act for you on {reference}."
CONSENT_STILL_NEEDED = (
    "Thank you. We also need to hear from the person you're helping that they're happy for you to act "
    "for them. We'll contact them, or they can call us on {phone}."
)

# --- clarifying questions (one, when we're not sure) ----------------------------------------
CLARIFY = {
    frozenset({"complaint", "service_request"}): (
        "Is this the first time you've told us about this, or are you unhappy with how we've dealt with it?"
    ),
    frozenset({"complaint", "asb_report"}): (
        "Is this about what a neighbour or someone else is doing, or about how we've dealt with it?"
    ),
    frozenset(
        {"complaint", "compliment"}
    ): "Thank you. Is there anything you're unhappy about, or is this to say thanks?",
    frozenset({"service_request", "asb_report"}): (
        "Is this about a repair or something you need from us, or about what a neighbour or someone else is doing?"
    ),
}
CLARIFY_GENERIC = (
    "Sorry, I want to get this right. Is it a repair or something you need, a problem with a neighbour, "
    "or are you unhappy with how we've dealt with something?"
)

# --- things the resident can say at any point --------------------------------------------------
UNREADABLE = (
    "Thank you. We will have your message translated and a member of our team will contact you, "
    "with an interpreter if you need one. Your reference is {reference}."
)
HUMAN = "Of course. We've asked a member of our team to contact you{about}. You can also call us on {phone}, {hours}."
HANDED_OFF_ADDED = (
    "Thank you, we've added this for our team. They'll be in touch. Call us on {phone} if it's urgent."
)
RESTART = "OK, let's start again. What can we help with?"
STOPPED = "OK, we've stopped. {kept}Message us any time to start again."
STOPPED_KEPT = "We've kept what you told us (ref {reference}) and our team may contact you about it. "


def fit(
    template: str, text_field: str = "summary", value: str = "", limit: int = SMS_MAX_SEGMENTS, **values: str
) -> str:
    """Fill `template`, shortening `value` (the resident's own words) until it fits `limit` segments."""
    value = " ".join(value.split())
    room = len(value)
    while True:
        shown = value if len(value) <= room else shorten(value, room)
        line = template.format(**{text_field: shown}, **values)
        if sms_segments(line) <= limit or room <= 0:
            return line
        room -= 10 if room > 40 else 5


def shorten(text: str, room: int) -> str:
    """Cut at a word boundary and mark the cut with '...'."""
    text = " ".join(text.split())
    if len(text) <= room:
        return text
    if room <= 3:
        return "..."
    cut = text[: room - 3].rsplit(" ", 1)[0].rstrip(",;:.- ")
    return (cut or text[: room - 3]) + "..."


def join_fits(first: str, second: str) -> bool:
    """True when two lines sent as one text still fit in two segments."""
    return sms_segments(f"{first} {second}") <= SMS_MAX_SEGMENTS

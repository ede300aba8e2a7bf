"""Reading the resident's short answers: yes/no, commands, dates, what would put it right,
support needs, who is helping them and how to contact them.

Deliberately simple and forgiving: a phrase we do not recognise is kept word for word for staff,
never thrown away, and never held against the resident.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from intake.policy import FaqEntry, Policy

_PUNCT = re.compile(r"[^\w\s'@+]")


def _plain(text: str) -> str:
    text = text.replace("\u2019", "'").replace("\u2018", "'").lower()
    return " ".join(_PUNCT.sub(" ", text).split())


def word_count(text: str) -> int:
    return len(_plain(text).split())


# --- yes / no -------------------------------------------------------------------------------
_YES = {
    "yes",
    "y",
    "yeah",
    "yep",
    "yup",
    "yea",
    "ya",
    "ye",
    "aye",
    "ok",
    "okay",
    "sure",
    "correct",
    "i do",
    "yes please",
    "please",
    "definitely",
    "of course",
    "i am",
    "that's right",
    "thats right",
    "right",
}
_NO = {
    "no",
    "n",
    "nope",
    "nah",
    "none",
    "no thanks",
    "no thank you",
    "not really",
    "nothing",
    "no need",
    "i'm fine",
    "im fine",
    "i'm ok",
    "im ok",
    "that's all",
    "thats all",
    "no one",
    "nobody",
    "not needed",
    "no i'm fine",
    "no im fine",
    "i don't",
    "i dont",
    "no it's fine",
    "no its fine",
    "no that's fine",
    "n a",
    "na",
}


def yes_no(text: str) -> bool | None:
    """True for a yes, False for a no, None when the answer is something else."""
    plain = _plain(text)
    if plain in _YES:
        return True
    if plain in _NO:
        return False
    words = plain.split()
    if not words or len(words) > 8:
        return None
    if words[0] in ("yes", "yeah", "yep", "yup", "aye"):
        return True
    if words[0] in ("no", "nope", "nah") and (
        len(words) == 1 or words[1] in ("thanks", "thank", "i", "it's", "its", "not", "that's", "one", "need")
    ):
        return False
    return None


# --- what the resident can say at any point ------------------------------------------------
_STOP = re.compile(
    r"^(please )?(stop|stop all|stopall|quit|end|cancel|unsubscribe|stop please|stop it|leave me alone)$"
)
_RESTART = re.compile(r"\b(start (again|over|afresh)|restart|begin again|start a new chat|new chat|reset)\b")
_HUMAN = re.compile(
    r"\b((speak|talk|chat) (to|with) (a |an )?(real |actual )?(person|human|someone|somebody|advisor|adviser|agent|"
    r"member of staff|staff|officer|operator|manager)|\bhuman\b|real person|actual person|(a|an) (person|advisor|adviser|"
    r"agent|operator) please|not a (bot|robot|computer))"
)
_COMPLAIN = re.compile(
    r"\b((i|i'd|we|we'd) (want|wanna|would like|wish|need|like|d like) (to )?(make |raise |file |log |put in |submit )?"
    r"(a |an )?(formal |official )?(complain|complaint)|(make|raise|file|log|put in|submit) (a |an )?(formal |official )?complaint|"
    r"^(formal )?(complain|complaint)$|^i('m| am) complaining|can i complain|how do i complain)"
)


def intent(text: str) -> str | None:
    """'stop', 'restart', 'human' or 'complain' when a short message asks for that; else None."""
    plain = _plain(text)
    words = len(plain.split())
    if _STOP.match(plain):
        return "stop"
    if words <= 8 and _RESTART.search(plain):
        return "restart"
    if words <= 10 and _HUMAN.search(plain):
        return "human"
    if _COMPLAIN.search(plain):
        return "complain"
    return None


_INTENT_WORDS = re.compile(
    r"\b(hi|hello|hiya|hey|i('d| would)? (want|wanna|like|wish|need) to|make|raise|file|log|a|an|formal|official|"
    r"complain|complaint|please|thanks|thank you|about)\b"
)


_GENERIC_HANDLING = re.compile(
    r"\b(the way|how) (you've|you have|you|you guys|your staff|it's|it has|it was|it's been|it has been) "
    r"(been )?(dealt with|handled|managed|treated|dealing with|handling)( (it|this|that|me|my \w+))?"
)


def has_content(text: str) -> bool:
    """Does the message say what happened, beyond 'I want to complain (about how you dealt with it)'?"""
    remaining = _INTENT_WORDS.sub(" ", _GENERIC_HANDLING.sub(" ", _plain(text)))
    return len(remaining.split()) >= 4


# --- when it happened -------------------------------------------------------------------------
_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
_DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_WHEN = re.compile(
    rf"\b(since|ago|yesterday|today|tonight|this (morning|afternoon|evening|week|month|year)|last (week|month|year|night|"
    rf"{_DAYS}|{_MONTHS})|(\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|few|several|couple of|many) "
    rf"(days?|weeks?|months?|years?)|for (days|weeks|months|years|ages)|on ({_DAYS})|in ({_MONTHS})|({_MONTHS}) \d{{4}}|"
    rf"\d{{1,2}}(st|nd|rd|th)? ({_MONTHS})|\d{{1,2}}/\d{{1,2}}(/\d{{2,4}})?|(19|20)\d{{2}}|over the (weekend|summer|winter|christmas)|"
    rf"every (day|week|time)|all (week|month|year|winter))\b"
)


def mentions_when(text: str) -> bool:
    return bool(_WHEN.search(_plain(text)))


# --- what would put it right ----------------------------------------------------------------
_OUTCOME = re.compile(
    r"\b(i (just )?(want|need) (you|them|it|someone|somebody|a|an|my|the|this|to)|i'd like|i would like|i'm asking|"
    r"please (fix|sort|finish|complete|send|repair|replace|come|refund|pay|get|do|make|change|move|remove|clean|check|arrange|look)|compensat\w*|refund|reimburs\w*|apolog\w*|"
    r"put (it|this|things) right|get (it|this) (fixed|sorted|done)|to be (fixed|sorted|repaired|replaced|moved)|"
    r"fix it|sort it|rehouse\w*|move me|moved)\b"
)
_SENTENCES = re.compile(r"(?<=[.!?\n])\s+")


def find_outcome(text: str) -> str | None:
    """The sentence that says what the resident wants, if any."""
    for sentence in _SENTENCES.split(text.strip()):
        if _OUTCOME.search(_plain(sentence)):
            return sentence.strip()[:500]
    return None


def first_sentence(text: str) -> str:
    parts = [p for p in _SENTENCES.split(" ".join(text.split())) if p]
    return parts[0] if parts else ""


_PREAMBLE = re.compile(
    r"^(hi|hello|hiya|hey|dear|good (morning|afternoon|evening)|i'?m writing|i am writing|im writing|writing (on behalf|for)|"
    r"on behalf of|this is|my name is|i'?m (texting|messaging|contacting)|i (want|would like|wish|need) to (make a |raise a )?complain|"
    r"i'?d like to (make a )?complain|sorry to (bother|trouble))\b"
)


_SALUTATION = re.compile(
    r"^\s*((dear|to) (sir|madam|sir or madam|sir/madam|team|all|housing|customer services|complaints( team)?|[A-Z][a-z]+)"
    r"( [A-Z][a-z]+)?|hi( there)?|hello( there)?|hiya|hey|good (morning|afternoon|evening)|to whom it may concern)\s*[,.!:;-]+\s*",
    re.IGNORECASE,
)


def key_sentence_first(text: str) -> str:
    """The resident's words with the sentence that says what is wrong first (greetings and
    'I'm writing for my mum' moved after it), so short echoes and letters lead with the point."""
    text = " ".join(text.split())
    stripped = _SALUTATION.sub("", text, count=1)
    if has_content(stripped):
        text = stripped[:1].upper() + stripped[1:]
    parts = [p for p in _SENTENCES.split(text) if p]
    for index, part in enumerate(parts):
        if not _PREAMBLE.match(_plain(part)) and has_content(part):
            return " ".join([part, *parts[:index], *parts[index + 1 :]])
    return " ".join(parts)


# --- support needs (TRIAGE_GUIDE adjustment codes) -----------------------------------------
LANGUAGES = (
    "albanian",
    "amharic",
    "arabic",
    "bengali",
    "bulgarian",
    "cantonese",
    "chinese",
    "czech",
    "dari",
    "farsi",
    "french",
    "german",
    "greek",
    "gujarati",
    "hindi",
    "hungarian",
    "italian",
    "kurdish",
    "latvian",
    "lithuanian",
    "mandarin",
    "nepali",
    "pashto",
    "persian",
    "polish",
    "portuguese",
    "punjabi",
    "romanian",
    "russian",
    "slovak",
    "somali",
    "spanish",
    "sylheti",
    "tamil",
    "tigrinya",
    "turkish",
    "twi",
    "ukrainian",
    "urdu",
    "vietnamese",
    "welsh",
    "yoruba",
)
_ADJUSTMENTS = {
    "deaf": r"deaf|hard of hearing|bsl|sign language|hearing aid|hearing loss|can't hear|cannot hear|cant hear",
    "sight_loss": r"blind|partially sighted|sight loss|visually impaired|large print|braille|screen reader|poor eyesight|can't see well",
    "dyslexia": r"dyslexi\w*|trouble reading|difficulty reading|struggle (to|with) read\w*|can't spell",
    "learning_disability": r"learning disabilit\w*|learning difficult\w*|easy read|simple words|explain\w* simply",
    "cognitive": r"memory|dementia|alzheimer\w*|brain injury|forgetful|i forget|get confused",
    "mental_health": r"anxiety|anxious|depress\w*|ptsd|mental health|panic attacks?|bipolar|ocd|schizophren\w*",
    "mobility": r"wheelchair|mobility|can't walk|cannot walk|bed ?bound|housebound|crutches|walking frame|zimmer",
    "phone_only": r"phone only|only by phone|only phone|phone calls? only|can't read|cannot read|can't use (email|the internet)",
    "written_only": r"writing only|in writing|text only|only text|texts only|email only|only email|written only|no (phone )?calls|"
    r"can't use the phone|cannot use the phone|don't call|dont call|can't talk on the phone",
}
_ADJUSTMENT_RES = {code: re.compile(rf"\b({pattern})\b") for code, pattern in _ADJUSTMENTS.items()}
_LANGUAGE_CUE = re.compile(
    r"\b(interpreter|translator|translat\w*|speak|speaks|language|english is not|little english|no english|in)\b"
)


def find_adjustments(text: str) -> list[str]:
    plain = _plain(text)
    codes = [code for code, pattern in _ADJUSTMENT_RES.items() if pattern.search(plain)]
    if _LANGUAGE_CUE.search(plain):
        for language in LANGUAGES:
            if re.search(rf"\b{language}\b", plain):
                codes.append(f"interpreter:{language}")
    if "phone_only" in codes and "written_only" in codes:
        codes.remove("phone_only" if "writing" in plain or "text" in plain else "written_only")
    return codes


# --- someone acting for the resident -------------------------------------------------------
RELATIONS = (
    "support worker",
    "social worker",
    "key worker",
    "care worker",
    "housing officer",
    "granddaughter",
    "grandson",
    "grandmother",
    "grandfather",
    "daughter",
    "son",
    "mother",
    "mum",
    "mom",
    "father",
    "dad",
    "wife",
    "husband",
    "partner",
    "brother",
    "sister",
    "aunt",
    "uncle",
    "niece",
    "nephew",
    "nan",
    "gran",
    "grandad",
    "friend",
    "neighbour",
    "carer",
    "advocate",
    "councillor",
    "mp",
    "solicitor",
    "cousin",
    "guardian",
)
_RELATION_RE = re.compile(r"\b(" + "|".join(RELATIONS) + r")\b")
_NAME_WORD = r"[A-Z][a-zA-Z'\-]+"
_NAME_PATTERNS = (
    re.compile(
        rf"\b(?:[Mm]y name is|[Nn]ame is|[Nn]ame:|I am|I'm|Im|[Tt]his is|[Ii]t's|[Cc]alled|[Nn]amed)\s+((?:Mrs|Mr|Ms|Miss|Dr)\.?\s+)?({_NAME_WORD}(?:\s+{_NAME_WORD})?)"
    ),
    re.compile(
        r"\b(?:[Mm]y|[Hh]is|[Hh]er|[Tt]heir|[Yy]our)\s+(?:"
        + "|".join(RELATIONS)
        + rf")\s*,?\s+((?:Mrs|Mr|Ms|Miss|Dr)\.?\s+)?({_NAME_WORD}(?:\s+{_NAME_WORD})?)"
    ),
    re.compile(rf"^\s*((?:Mrs|Mr|Ms|Miss|Dr)\.?\s+)?({_NAME_WORD}(?:\s+{_NAME_WORD})?)\s*(?:,|$|\.|-)"),
)
_NOT_NAMES = {
    "Yes",
    "No",
    "Hi",
    "Hello",
    "Her",
    "His",
    "Their",
    "She",
    "He",
    "They",
    "The",
    "My",
    "I",
    "It",
    "We",
    "Not",
    "Just",
    "Ok",
    "Okay",
    "Thanks",
    "Please",
    "Yeah",
    "Writing",
    "Helping",
    "Sorry",
    "A",
    "An",
    "Happy",
    "Fine",
    "Here",
}
_WRITER_IS_ADVOCATE = re.compile(
    r"\b(on behalf of|writing for|acting for|texting for|messaging for|for my|i'm (his|her|their)|i am (his|her|their)|"
    r"im (his|her|their)|(he|she|they) (is|are|has|have|can't|cannot|doesn't|don't|asked|wants?)|my client)\b"
)
_CONSENT = re.compile(
    r"\b(agrees?|agreed|happy for|is happy|are happy|ok with|okay with|permission|consent\w*|asked me to|wants me to|"
    r"knows i'm|knows i am|fine with)\b"
)


@dataclass(frozen=True)
class AdvocateAnswer:
    name: str | None
    relationship: str | None
    writer_is_advocate: bool
    says_consent: bool


def read_advocate(text: str, writer_is_advocate: bool) -> AdvocateAnswer:
    plain = _plain(text)
    name = None
    for pattern in _NAME_PATTERNS:
        for match in pattern.finditer(text):
            title, candidate = (match.group(1) or ""), match.group(2)
            words = [w for w in candidate.split() if w not in _NOT_NAMES and w.lower() not in RELATIONS]
            if words:
                name = (title + " ".join(words)).strip()[:200]
                break
        if name:
            break
    relation = _RELATION_RE.search(plain)
    return AdvocateAnswer(
        name=name,
        relationship=relation.group(1) if relation else None,
        writer_is_advocate=writer_is_advocate or bool(_WRITER_IS_ADVOCATE.search(plain)),
        says_consent=bool(_CONSENT.search(plain)),
    )


# --- how and when to contact them ----------------------------------------------------------
_METHODS = (
    ("sms", re.compile(r"\b(text|texts|texting|sms|message me|whatsapp)\b")),
    ("phone", re.compile(r"\b(call|calls|phone|ring|telephone|mobile)\b")),
    ("email", re.compile(r"\b(email|e-mail|e mail)\b|@")),
    ("letter", re.compile(r"\b(letter|post|in writing|write to me)\b")),
    ("web", re.compile(r"\b(chat|here|online|this way)\b")),
)
_TIME = re.compile(
    r"\b(mornings?|afternoons?|evenings?|lunch ?time|night|any ?time|whenever|weekdays?|weekends?|"
    r"(after|before|from|between|around|about) \d{1,2}(:\d{2})?\s*(am|pm)?( and \d{1,2}(:\d{2})?\s*(am|pm)?)?|"
    r"\d{1,2}(:\d{2})?\s*(am|pm)|(" + "|".join(_DAYS.split("|")) + r")s?)\b"
)
_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w])(\+?\d[\d \-]{8,15}\d)(?![\w])")


@dataclass(frozen=True)
class ContactAnswer:
    method: str | None
    time: str | None
    phone: str | None
    email: str | None


def read_contact(text: str) -> ContactAnswer:
    plain = _plain(text)
    found = []
    for method, pattern in _METHODS:
        match = pattern.search(plain)
        if match:
            found.append((match.start(), method))
    method = min(found)[1] if found else None
    times = [m.group(0) for m in _TIME.finditer(plain)]
    email = _EMAIL.search(text)
    phone = _PHONE.search(text)
    if method is None and email:
        method = "email"
    if method is None and phone:
        method = "phone"
    return ContactAnswer(
        method=method,
        time=", ".join(dict.fromkeys(times))[:100] or None,
        phone=phone.group(1) if phone else None,
        email=email.group(0).lower() if email else None,
    )


# --- questions the policy's FAQ answers ----------------------------------------------------
def answer_from_faq(policy: Policy, text: str) -> FaqEntry | None:
    plain = f" {_plain(text)} "
    best, best_score = None, 0
    for entry in policy.faq:
        score = sum(1 for keyword in entry.keywords if f" {keyword.lower()} " in plain)
        if score > best_score:
            best, best_score = entry, score
    return best


# --- answers to a clarifying question -----------------------------------------------------
_CLARIFY_CUES = {
    "complaint": re.compile(
        r"\b(unhappy|not happy|dealt|handled|handling|again|before|already|still|told you|complain\w*|fed up|"
        r"second|third|times|nothing (has been )?done|ignored|not good enough|the way you|how you)\b"
    ),
    "service_request": re.compile(
        r"\b(first( time)?|new|never (told|reported)|not (told|reported)|just (happened|started|noticed)|i need|repair|request)\b"
    ),
    "asb_report": re.compile(
        r"\b(neighbour\w*|next door|someone else|they|them|people|kids|noise|upstairs|downstairs)\b"
    ),
    "compliment": re.compile(
        r"\b(thanks?|thank you|say thanks|nothing wrong|all good|just to say|happy|pleased)\b"
    ),
}


def read_clarification(text: str, candidates: list[str]) -> str | None:
    plain = _plain(text)
    answer = yes_no(text)
    if set(candidates) == {"complaint", "compliment"} and answer is not None:
        return "complaint" if answer else "compliment"
    # Unhappiness with how we dealt with it wins whatever we guessed (TRIAGE_GUIDE rule 1); then
    # the categories we asked about; then anything else the answer plainly says.
    order = ["complaint", *[c for c in candidates if c != "complaint"]]
    order += [c for c in ("service_request", "asb_report", "compliment") if c not in order]
    for category in order:
        if category in _CLARIFY_CUES and _CLARIFY_CUES[category].search(plain):
            return category
    return None

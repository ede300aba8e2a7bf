"""The rule layer: exclusion cues, urgent risks, advocates and adjustments, on spaCy.

One tokenizer pass per message (`spacy.blank("en")`, `make_doc` only: no
downloaded model, nothing from the internet), then a token `Matcher` over a
small pattern language so that every cue is a readable phrase:

    "smell|smells of gas"     alternatives for one token
    "suicid*"                 a token starting with "suicid"
    "the? boiler"             an optional token
    "threaten* _ kill"        `_` any one optional token, `__` up to three tokens

Matching is on lower-cased text with typographic apostrophes straightened, so
spans keep their offsets. The result carries the evidence spans and a list of
rule tokens the statistical model reads as extra features.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from spacy.tokens import Doc

from classifier.dates import DateReading, read_dates

# ---------------------------------------------------------------------------
# Cue phrases, by label. Keep them general: the classifier is judged on
# messages written by people who never saw these lists.
# ---------------------------------------------------------------------------
STAFF = (
    "your|the|ur|you|a|an|that|this|ya|their operative|operatives|contractor|contractors|engineer|engineers|officer"
    "|staff|plumber|electrician|workman|workmen|worker|workers|builder|builders|gasman|caretaker|surveyor"
    "|repairman|handyman|employee|employees|tradesman|tradesmen|fitter|fitters|inspector|cleaner|cleaners"
    "|decorator|decorators|scaffolder|scaffolders|warden|manager"
)
PATTERNS: dict[str, list[str]] = {
    # --- dissatisfaction with the landlord (rule 1) -------------------------
    "cue:complaint": [
        "still not|n't|no fixed|sorted|done|resolved|repaired|working|heard|been",
        "still waiting|wating", "still has|have|hav n't|not", "still nothing", "still no",
        "nobody|noone|no1|no+one|no-one came|come|turned|showed|shown|bothered|rang|called|contacted|responded|got|has|have|did",
        "didn't|didnt|never|did+not turn|show up", "never turned|showed|came|come|arrived|heard|got|rang|called",
        "no show", "no-show", "not turned|showed up", "failed to", "missed appointment|appointment|appt",
        "second|2nd|third|3rd|fourth|4th|fifth|5th|sixth|6th time", "several|many|numerous|countless|multiple times",
        "two|three|four|five|six|seven|eight|nine|ten|2|3|4|5|6|7|8|9|10 times", "times now", "so many times",
        "not happy|satisfied|good+enough|acceptable|impressed|ok|okay", "unhappy", "dissatisfied", "disgusted",
        "disgrace*", "appalling", "shocking", "diabolical", "pathetic", "useless", "incompetent*", "shambles",
        "joke", "ridiculous", "outrageous", "unacceptable", "rude*", "disrespect*", "unprofessional",
        "fed up", "sick of", "sick and tired", "had enough", "let down", "lied", "lying", "ignored|ignoring",
        "escalate*", "complain*", "complaint", "formal complaint", "compensation", "refund", "reimburse*",
        "no response|reply|answer|update|call|callback", "never got back|replied|responded|heard|called",
        "not got back", "not heard back|anything", "not had a reply|response", "waiting weeks|months|ages|since",
        "chased", "chasing", "promised", "keep|keeps|kept being|getting fobbed|passed", "fobbed off", "passed around",
        "botched", "bodged", "bodge", "shoddy", "poor service|workmanship|job|communication|standard",
        "done nothing", "doing nothing", "did nothing", "nothing has|'s been done", "not done anything",
        "haven't done|n't done anything", "still hasn't", "painted over", "patched up", "made it worse",
        "left a mess", "cancelled|canceled my|the appointment|repair|job", "cancelled again",
        "again and again", "weeks later", "months later", "months on", "weeks on", "how many more", "how long",
        "your service", "customer service", "treated like", "discriminat*", "not good enough", "never again",
        "charged me|for", "wrongly charged", "overcharged", "taking the piss", "piss take", "take responsibility",
    ],
    "cue:praise": [
        "thank you|u|you so", "thanks|thankyou|thx|ty", "brilliant", "fantastic", "excellent", "amazing", "great job|work|service",
        "well done", "lovely", "pleased", "grateful", "credit to", "above and beyond", "so helpful", "really helpful",
        "very helpful", "appreciate*", "shout out", "praise", "compliment*", "superb", "outstanding", "kind",
    ],
    "cue:asb": [
        "neighbour|neighbours|neighbor|neighbors|neighbour's|neighbours'|nieghbour|naybour",
        "next door", "upstairs|downstairs", "the flat above|below|opposite", "loud music", "music", "noise|noisy",
        "drug*", "dealing", "dealers", "weed", "cannabis", "skunk", "shouting", "screaming", "banging", "party|parties",
        "harass*", "intimidat*", "threaten*", "abus*", "fighting", "youths", "teenagers", "kids hanging",
        "gang", "dog fouling", "barking", "antisocial", "anti-social", "anti social", "asb", "nuisance",
        "fly tipping", "fly-tipping", "graffiti", "vandal*", "smashed", "racist", "hate crime", "stalking",
    ],
    "cue:other": [
        "opening hours", "what time do+you|are+you open|close", "how do|can i pay", "pay my|the rent",
        "rent account", "direct debit", "wrong number", "who do i speak to", "how do i", "can you tell me",
        "is it possible to", "where can i", "do you know", "what's the number", "phone number", "address for",
        "unsubscribe", "click here", "prize", "winner",
    ],
    # --- exclusion cues -----------------------------------------------------
    "cue:legal_filed": [
        "issued|filed|lodged|started|commenced|brought|begun a|my|the|court|legal|disrepair claim|proceedings|case",
        "claim|proceedings|case has|have|was|were been? issued|filed|started|commenced",
        "court claim", "county court", "high court", "small claims court", "court proceedings", "legal proceedings",
        "court hearing", "hearing date", "hearing is|on", "court date", "court case", "at|through|with|by the? court",
        "particulars of claim", "claim form", "n1", "tribunal", "judge", "district judge", "issued proceedings",
        "sealed", "court reference|ref|number", "court papers", "served with|the|you",
    ],
    "cue:legal_threat": [
        "take|taking|bring|drag you|u|this|ya|them|it|the+matter|matters to court", "see you|u in court", "sue|suing|sued",
        "legal action", "legal advice", "legal route", "solicitor|solicitors|lawyer|lawyers", "no win no fee",
        "letter of claim", "letter before action", "pre-action", "pre action", "housing disrepair",
    ],
    "cue:insurance": [
        "insurance|insurers|insurer|insurers'|insurance's claim|claims|company|team|department|form|adjuster|reference|ref",
        "your|the|landlord's|public+liability insurance|insurers|insurer", "loss adjuster", "claim on|against|through|with your|the|their insurance|insurers|insurer",
        "liability claim", "claim for damage|damages|compensation|my|the", "claim reference|ref|number",
        "made|put+in|lodged|submitted|filed|started|opened a|an|my claim",
    ],
    "cue:final_response": [
        "final response|decision|reply|letter|outcome", "stage 2|two|ii response|decision|reply|outcome|letter",
        "already been+through|investigated|decided|considered", "already complained|raised about|this", "complaint was|has+been closed|upheld|rejected|refused|dealt",
        "closed my|the complaint", "reopen*", "re-open*", "same complaint|issue|matter|problem as+before|as+last+time|that+i+raised|i+raised|previously|already|again",
        "complaints process finished|ended|concluded|completed", "you gave your|a final", "end of the process",
        "exhausted the|your complaints", "response at stage 2|two",
    ],
    "cue:complaint_history": [
        "stage 1|2|one|two|ii", "previous complaint", "last complaint", "earlier complaint", "original complaint",
        "complaints process|procedure|team", "ombudsman", "complaint reference|ref|number",
    ],
    "cue:elected_rep": [
        "mp|m.p.|councillor|councilor|cllr|cllr.|alderman|assembly+member|senedd+member|member+of+parliament|ward+member|ward+councillor",
        "constituent|constituents|constituency|ward|caseworker|casework|parliamentary|surgery",
        "house of commons", "on behalf of my constituent", "my constituent", "constituency office",
    ],
    "cue:elected_self": [
        "i+am|i'm the|a? councillor|cllr|mp", "i+am|i'm the|a? ward|local councillor|member|mp", "as the? ward|local councillor|member|mp",
        "as councillor|cllr|mp", "in my capacity as", "as an elected member|representative", "my ward", "my residents",
        "residents in my ward", "my constituency", "the ward i represent", "i represent",
    ],
    "cue:crime": [
        "stole|stolen|steal|stealing|steals|theft|thief|thieves|nicked|pinched|robbed|burgl*", "took money|cash",
        "fraud*", "bribe*", "assault*", "attacked|hit|punched|slapped|pushed|shoved|grabbed|groped|kicked me",
        "sexual*", "indecent*", "exposed himself", "touched me", "criminal",
        "crime reference|number", "went through my", "missing from", "gone missing", "went missing",
        "racially abused", "pocketed", "embezzl*", "forged", "falsified", "took a bribe",
    ],
    "cue:staff": [STAFF.replace("your|the|ur|you|a|an|that|this|ya|their ", "")],
    "cue:other_org": [
        "council tax", "bin collection|collections|men|lorry|day", "bins not|weren't|haven't|never|been+not being? collected|emptied",
        "refuse collection", "recycling collection", "collect the bins", "the council's", "city council",
        "borough council", "district council", "county council", "local authority", "energy supplier|company|provider|bill",
        "gas|electric|electricity|water|energy bill|bills|supplier|tariff|company", "meter reading|readings", "prepayment meter",
        "british gas", "octopus", "e.on", "eon", "edf", "ovo", "scottish power", "bulb", "utility company|companies", "thames|severn|yorkshire|anglian|united|southern water",
        "water company", "universal credit", "dwp", "housing benefit", "benefits office", "job centre|jobcentre",
        "parking ticket|fine", "pothole*", "street light|lights|lighting", "road sweep*", "broadband", "virgin media",
        "bt", "openreach", "royal mail", "managing agent|agents", "freeholder",
        "management company", "dvla", "hmrc", "tv licence", "highways",
    ],
    # --- urgent risks ---------------------------------------------------------
    "urg:gas": [
        "smell|smells|smelling|smelt|smelled|stink|stinks|whiff of? gas", "gas smell|leak|leaking|escape",
        "leaking gas", "carbon monoxide", "co alarm|detector", "monoxide", "gas alarm",
    ],
    "urg:fire": [
        "on fire", "caught|catching fire", "a|the fire in+the|in+my|on+the|at+the|started|broke+out", "flames", "smoke coming|pouring|everywhere|filling",
        "smoke from", "burning smell|smells", "smell of burning|smoke", "smoking socket|plug|fuse|box|meter",
        "fire brigade", "firefighters", "fire service", "melted|melting socket|plug|wire|wires|cable",
    ],
    "urg:flood": [
        "flood|flooded|flooding|floods", "water pouring|gushing|pissing|flooding|streaming|everywhere",
        "pouring with water", "gushing water", "burst pipe|pipes|main", "pipe burst|has+burst", "burst", "sewage",
        "raw sewage", "water coming|pouring|dripping|leaking through|into|from|in the|my light|lights|light+fitting|socket|sockets|electrics|fuse+box",
        "ceiling is|has collapsed|coming+down",
        "inches of water", "cant|can't|cannot stop the water",
    ],
    "urg:electrics": [
        "sparking|sparks|spark", "exposed wire|wires|wiring", "live wire|wires|electrics", "electric shock",
        "electrocut*", "shock from|off the",         "fuse box|board smoking|sparking|buzzing|burning", "bare wires", "wires hanging|sticking|exposed",
        "buzzing socket", "socket hanging off", "tripping", "trip switch",
    ],
    "urg:structural": [
        "ceiling collapsed|collapsing|caved|falling|fell|coming+down|came+down|come+down", "ceiling has|is collapsed|collapsing|falling|come+down|coming+down|fallen",
        "collapsed|collapse|collapsing", "caved in", "falling down|apart|in|off", "structural*", "subsidence",
        "wall bowing|leaning|cracking", "crack|cracks getting bigger|wider", "unsafe balcony|stairs|floor|building",
        "balcony loose|unsafe|collapsing|railings", "could fall", "about to fall", "dangerous structure",
        "roof came|fell|falling|blown|caving", "window fell|falling out", "window came out", "floor gave way", "gave way",
        "loose masonry|bricks|tiles|railing", "bricks falling", "tiles falling",
    ],
    "urg:violence": [
        "threaten*|threat|threats to kill|stab|hurt|burn|beat|shoot|smash|kick|attack|batter|petrol", "threaten*|threat|threats to come+and|come+round+and kill|stab|hurt|beat|smash|batter",
        "kill|stab|beat|batter|shoot me|us|you|him|her|them", "knife|knives|machete|gun|weapon|weapons|blade",
        "attacked|assaulted|punched|stabbed|beaten|battered", "beat me up", "kick|kicking|smash|smashing my|the door in|down",
        "going to hurt|kill|get", "death threat|threats", "violent|violence", "scared|frightened|terrified|afraid|fear for my|our life|lives|safety",
        "not safe", "in danger", "scared|frightened|terrified to leave|go",
    ],
    "urg:self_harm": [
        "suicid*", "kill myself|meself|mysel", "end|ending|take|taking it+all|my+life|my+own+life", "self harm|harming",
        "self-harm*", "hurt|hurting|harm|harming myself", "overdose", "don't|dont|do+not want to be+here|live|go+on",
        "can't|cant|cannot go+on|cope+anymore", "no point living|in+living", "better off dead|without+me",
        "want to die", "wanna die", "end it", "ending it", "not be here anymore",
    ],
    "urg:domestic_abuse": [
        "domestic abuse|violence", "da", "dv", "abusive partner|ex|husband|wife|boyfriend|girlfriend|relationship",
        "my|her|his partner|ex|husband|wife|boyfriend|girlfriend hits|hit|beats|beat|attacked|hurt|threatens|threatened|strangled|choked",
        "fleeing", "flee", "refuge", "coercive", "controlling", "non-molestation", "non molestation", "marac", "idva",
        "restraining order", "injunction", "safe house",
    ],
    "cond:no_heat": [
        "no|not|without any? heating|heat|hot+water|hotwater|gas|electric|electricity|power", "heating|boiler not+working|isn't+working|stopped|broke|broken|packed+up|gone|down|failed|died|dead|bust|kaput",
        "heating|boiler has stopped|broken|packed+up|packed+in|gone|died|failed|broke",
        "cold water only", "freezing", "frozen", "no radiators", "radiators cold|not", "stone cold",
    ],
    "cond:vulnerable": [
        "baby|babies|newborn|infant|toddler|pregnant|pregnancy|preg", "1|2|3|4|5|6|7|8|9|10|11|12|18|one|two|three|four|five|six|seven|eight|nine|ten|eleven month|week|months|weeks|mth old",
        "elderly", "old age", "pensioner", "disabled", "disability", "disabilities", "vulnerable", "frail", "poorly",
        "ill", "illness", "cancer", "chemo*", "asthma*", "copd", "heart condition|problems", "diabetic",
        "oxygen", "terminal*", "kids", "children", "child", "my son|daughter", "grandchildren", "dementia",
        "wheelchair", "bedbound", "bed bound", "housebound", "my nan|gran|grandma|grandad|grandfather|grandmother",
        "my mum|dad|mother|father|nan|gran is 7*|8*|9*", "aged 7*|8*|9*", "in her|his|their 70s|80s|90s|seventies|eighties|nineties",
        "hypothermia", "medical condition", "health condition", "sickle cell", "arthritis", "just had surgery",
        "operation", "immunocompromised", "carer",
    ],
    "cond:mould": ["mould|mold|mouldy|moldy|damp|fungus|condensation|mildew"],
    "cond:health": [
        "cough*", "asthma*", "chest infection|infections|problems", "chesty", "breathing", "breathe", "wheez*",
        "inhaler", "hospital", "a&e", "gp|doctor|doctors|dr says|said|has|told", "ill", "sick", "poorly", "infection",
        "respiratory", "lungs", "allergic", "allergy", "allergies", "health", "rash", "eczema", "bronch*", "pneumonia",
        "making us|him|her|them|me ill|sick|poorly", "making my son|daughter|kids|baby|children|son's|daughter's ill|sick|poorly|asthma|chest", "affecting my|our|his|her health|breathing|chest",
    ],
    # --- advocates ------------------------------------------------------------
    "adv": [
        "on behalf of", "on her|his|their|my+mum's|my+dad's|my+mother's|my+father's behalf", "behalf of my|our|the",
        "writing|emailing|texting|messaging|contacting|complaining|calling|here for|about|on my|our mum|mother|dad|father|nan|gran|grandmother|grandfather|grandma|grandad|son|daughter|brother|sister|aunt|uncle|client|elderly",
        "my client|clients", "my service user", "our client|clients|service+user", "the tenant|resident i support",
        "support worker", "key worker", "keyworker", "social worker", "care worker", "advocate", "advocacy",
        "caseworker", "case worker", "outreach worker", "tenancy support", "floating support", "citizens advice",
        "i support", "i+am|i'm her|his|their|the carer|daughter|son|advocate|sister|brother|niece|nephew|granddaughter|grandson",
        "her|his|their carer|advocate|support+worker|social+worker", "my mum's|mums|dad's|dads|nan's|gran's|mother's|father's|sister's|brother's|grandmother's|grandad's flat|house|home|boiler|kitchen|bathroom|tenancy|landlord|property|place|heating",
        "my mum|dad|mother|father|nan|gran|son|daughter|sister|brother is+your|is+a|who+is+your|who+is+a tenant|resident",
        "my mum|dad|mother|father|nan|gran|grandmother|grandfather|aunt|uncle lives|has+lived|is+living",
        "she|he has asked me", "asked me to write|contact|email|get+in+touch", "with her|his|their consent|permission",
        "consent form", "authority to act", "power of attorney", "lpa", "appointee", "acting for", "act for",
        "speak for her|him|them", "my constituent", "a constituent", "for my constituent",
    ],
    # --- adjustments ----------------------------------------------------------
    "adj:deaf": [
        "deaf", "deafness", "hard of hearing", "hearing impaired|impairment|loss|aid|aids", "bsl", "british sign language",
        "sign language", "lip read|reads|reading", "lipread", "relay uk", "textrelay",
        "text relay", "minicom",
    ],
    "adj:sight_loss": [
        "blind", "partially sighted", "visually impaired", "visual impairment", "sight loss", "sight impaired",
        "large print", "big print", "bigger print", "braille", "screen reader", "screenreader", "macular*",
        "glaucoma", "registered blind", "losing my sight", "lost my sight", "poor eyesight",
        "audio format", "read it out",
    ],
    "adj:dyslexia": [
        "dyslexic", "dyslexia", "struggle|struggles|struggling with reading|writing|spelling", "difficulty|trouble|problems reading|writing",
        "can't|cant|cannot read|write well|very+well|properly", "not good at|with reading|writing|spelling", "bad at reading|spelling",
        "reading difficulties", "spelling is bad|terrible", "excuse|sorry about? my|the spelling",
    ],
    "adj:learning_disability": [
        "learning disability|disabilities|difficulty|difficulties", "explain|explained things|it simply|slowly",
        "simple words|language|english", "easy read", "easy-read", "plain english|language", "down's syndrome",
        "downs syndrome", "learning needs", "keep it simple", "doesn't|dont|don't understand letters|forms",
    ],
    "adj:cognitive": [
        "dementia", "alzheimer*", "memory problems|loss|issues", "poor memory", "forgets|forgetful|forgetting",
        "brain injury", "head injury", "gets confused", "easily confused", "stroke", "memory is", "cognitive", "doesn't|does n't remember",
    ],
    "adj:mental_health": [
        "anxiety", "depression", "depressed", "ptsd", "mental health", "bipolar", "schizophreni*",
        "panic attack|attacks", "ocd", "agoraphobi*", "nervous breakdown", "psychosis", "psychiatric", "mentally",
        "personality disorder", "eating disorder", "trauma", "traumatised", "severe anxiety",
    ],
    "adj:mobility": [
        "wheelchair", "bedbound", "bed bound", "bed-bound", "housebound", "mobility", "zimmer", "walking frame",
        "walking stick", "crutches", "can't|cant|cannot walk|climb", "manage|do the? stairs",
        "amputee", "paralys*", "paraplegic", "disabled access", "ramp", "stairlift", "stair lift", "scooter",
        "limited movement", "physical disability", "multiple sclerosis", "hoist",
    ],
    "adj:phone_only": [
        "phone|ring|call me only", "only phone|ring|call", "by phone only", "phone only", "contact me by phone|telephone",
        "rather than write|writing|email|emails|letter|letters",
        "no internet", "no email", "don't|dont have|use|do email|internet|computer|a+computer|a+smartphone",
        "not on email", "can't|cant|cannot read letters|emails|email", "no computer", "not online",
    ],
    "adj:written_only": [
        "in writing only", "only in writing", "writing only", "email only", "by email only", "text only",
        "texts only", "only text|email|write", "in writing please",
        "don't|dont phone|ring|call", "can't|cant|cannot use|do|speak+on|talk+on|hear+on|answer the? phone|phones|telephone|calls",
        "not phone|ring|call me", "no phone calls", "no calls", "struggle with phone|phones|calls", "cannot take calls",
    ],
    "adj:interpreter": [
        "interpreter|interpreters|interpreting|translator|translators|translation|translated|translate",
        "english is+not|isn't|not my|her|his|their first language",
        "no english", "little english", "not much english", "poor english", "very little english", "limited english", "my english is|not good|bad|poor|very+bad|not+good|not+very+good",
        "don't|dont|doesn't|cannot|can't speak english", "do+not|does+not speak english", "only speak|speaks", "speak|speaks only",
        "cymraeg", "gymraeg", "yn gymraeg", "siarad cymraeg", "in welsh", "welsh speaker", "welsh language",
    ],
}

LANGUAGES = (
    "albanian amharic arabic bengali bangla bosnian bulgarian cantonese chinese croatian czech dari dutch estonian"
    " farsi french german greek gujarati hausa hebrew hindi hungarian igbo italian japanese korean kurdish kurmanji"
    " latvian lingala lithuanian malayalam mandarin marathi nepali oromo pashto persian polish portuguese punjabi"
    " romanian russian serbian sinhala slovak somali sorani spanish swahili sylheti tagalog tamil telugu thai"
    " tigrinya turkish twi ukrainian urdu vietnamese welsh yoruba hungarian patois shona krio tigre"
).split()
_LANG_SET = frozenset(LANGUAGES)
# Welsh words common in short messages: several of them together mean the message is in Welsh.
_WELSH_WORDS = frozenset(
    "dw i yn mae ddim fy gyda diolch os gwelwch dda eich chi ni nhw wedi ac rwy rydw roedd bod tŷ ty fflat"
    " gwres dŵr dwr boeler plis helo bore prynhawn angen cwyn atgyweirio cegin ystafell wely ydw hefyd"
    " achos oherwydd heddiw ddoe wythnos mis".split()
)
_WELSH_DISTINCT = frozenset("ddim gwelwch diolch mae gyda rydw rwy roedd wedi eich nhw gwres dŵr boeler cwyn angen ydw heddiw".split())

ADJUSTMENT_LABELS = (
    "deaf", "sight_loss", "dyslexia", "learning_disability", "cognitive", "mental_health", "mobility",
    "phone_only", "written_only",
)  # fmt: skip
URGENT_KINDS = ("gas", "fire", "flood", "electrics", "structural", "violence", "self_harm", "domestic_abuse")
EXCLUSION_CUES = {
    "legal_proceedings": "cue:legal_filed",
    "insurance_claim": "cue:insurance",
    "previously_considered": "cue:final_response",
    "elected_representative": "cue:elected_self",
    "criminal_allegation": "cue:crime",
    "other_organisation": "cue:other_org",
}

_NEGATORS = frozenset({"no", "not", "n't", "never", "without", "isn't", "wasn't", "dont", "don't", "nt"})


def _expand(phrase: str) -> list[str]:
    """All the literal phrases a pattern stands for (alternatives "|", optional "?", "+" joins words)."""
    options: list[list[str]] = [[]]
    for slot in phrase.split():
        optional = len(slot) > 1 and slot.endswith("?")
        alternatives = [a.replace("+", " ") for a in (slot[:-1] if optional else slot).split("|")]
        if optional:
            alternatives.append("")
        options = [words + [a] if a else words for words in options for a in alternatives]
    return [" ".join(words) for words in options if words]


def _prefixes() -> tuple[str, ...]:
    found = set()
    for phrases in PATTERNS.values():
        for phrase in phrases:
            for slot in phrase.split():
                for a in slot.rstrip("?").split("|"):
                    if a.endswith("*") and "+" not in a:
                        found.add(a[:-1])
    return tuple(sorted(found, key=len, reverse=True))


@lru_cache(maxsize=1)
def _pipeline():
    """The blank tokenizer and the matchers, built once per process.

    Patterns are expanded to literal phrases for spaCy's PhraseMatcher (hash look-ups, fast);
    "word*" prefixes are handled by mapping every token that starts with a known prefix to
    the token "word*" before matching, in the patterns and in the message alike.
    """
    import spacy
    from spacy.matcher import Matcher, PhraseMatcher

    nlp = spacy.blank("en")
    prefixes = _prefixes()
    matcher = PhraseMatcher(nlp.vocab, attr="ORTH")
    for label, phrases in PATTERNS.items():
        literal = sorted({p for phrase in phrases for p in _expand(phrase)})
        docs = []
        for doc in nlp.tokenizer.pipe(literal):
            words = [_canonical(t.text, prefixes) for t in doc]
            docs.append(Doc(nlp.vocab, words=words))
        matcher.add(label, docs)
    interp = Matcher(nlp.vocab)
    lang = {"ORTH": {"IN": list(LANGUAGES)}}
    interp.add(
        "lang",
        [
            [lang, {"ORTH": {"IN": ["interpreter", "interpreters", "translator", "translation", "speaker", "speaking", "speakers"]}}],
            [{"ORTH": {"IN": ["speak", "speaks", "speaking", "in", "into", "understand", "understands", "read", "reads"]}}, {"ORTH": "only", "OP": "?"}, lang],
            [{"ORTH": {"IN": ["interpreter", "translator", "translation", "translated", "translate"]}}, {"ORTH": {"IN": ["for", "in", "into", "to", "speaking"]}}, {"OP": "?"}, lang],
            [lang, {"ORTH": {"IN": ["only", "please", "language"]}}],
            [{"ORTH": "first"}, {"ORTH": "language"}, {"ORTH": {"IN": ["is", "was"]}}, lang],
            [{"ORTH": "my"}, {"ORTH": "language"}, {"ORTH": "is"}, lang],
        ],
    )
    return nlp, matcher, interp, prefixes


def _canonical(word: str, prefixes: tuple[str, ...]) -> str:
    if word.startswith(prefixes):
        for prefix in prefixes:
            if word.startswith(prefix):
                return prefix + "*"
    return word


def normalise(text: str) -> str:
    """Lower-case and straighten apostrophes without moving any character."""
    lowered = text.lower()
    if len(lowered) != len(text):
        lowered = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    return lowered.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")


@dataclass(frozen=True)
class Hit:
    label: str
    start: int
    end: int


@dataclass
class RuleResult:
    """What the rules found in one view of a message (spans are in that view)."""

    hits: list[Hit] = field(default_factory=list)
    exclusion_cues: dict[str, list[Hit]] = field(default_factory=dict)
    urgent: dict[str, list[Hit]] = field(default_factory=dict)
    advocate: list[Hit] = field(default_factory=list)
    adjustments: dict[str, list[Hit]] = field(default_factory=dict)
    dates: DateReading | None = None
    legal_threat_only: bool = False
    tokens: list[str] = field(default_factory=list)  # features for the model

    def labels(self, label: str) -> list[Hit]:
        return [h for h in self.hits if h.label == label]


def _negated(doc, start: int) -> bool:
    return any(doc[i].lower_ in _NEGATORS for i in range(max(0, start - 3), start))


# A crime word counts against staff only when a staff word is this close (characters).
_CRIME_STAFF_WINDOW = 250
# Longest text the rule layer reads: bounds the time spent on a 100 KB paste.
MAX_RULE_CHARS = 20_000


def analyse(text: str, received_at: date | None = None) -> RuleResult:
    """Run every rule over `text` (one view of a message)."""
    nlp, matcher, interp, prefixes = _pipeline()
    lower = normalise(text[:MAX_RULE_CHARS])
    doc = nlp.make_doc(lower)
    words = [t.text for t in doc]
    canonical = [_canonical(w, prefixes) for w in words]
    matched_doc = doc if canonical == words else Doc(nlp.vocab, words=canonical)
    result = RuleResult()
    vocab_strings = nlp.vocab.strings
    by_label: dict[str, list[Hit]] = {}
    for match_id, start, end in matcher(matched_doc):
        label = vocab_strings[match_id]
        span = doc[start:end]
        hit = Hit(label, span.start_char, span.end_char)
        if label.startswith("urg:") and label not in ("urg:self_harm", "urg:domestic_abuse") and _negated(doc, start):
            continue
        if label.startswith("adj:") and _negated(doc, start) and label not in ("adj:written_only", "adj:phone_only", "adj:interpreter"):
            continue
        by_label.setdefault(label, []).append(hit)
    result.hits = [h for hits in by_label.values() for h in hits]
    tokens = {label for label in by_label}

    # Exclusion cues.
    if "cue:crime" in by_label and "cue:staff" in by_label:
        near = [
            (c, st)
            for c in by_label["cue:crime"]
            for st in by_label["cue:staff"]
            if abs(c.start - st.start) <= _CRIME_STAFF_WINDOW
        ]
        if near:
            result.exclusion_cues["criminal_allegation"] = [near[0][0], near[0][1]]
            tokens.add("x:crime_by_staff")
    for reason, label in EXCLUSION_CUES.items():
        if reason == "criminal_allegation":
            continue
        if label in by_label:
            result.exclusion_cues[reason] = by_label[label][:3]
    if "cue:elected_rep" in by_label and "cue:elected_self" in by_label:
        tokens.add("x:elected_self")
    if "cue:legal_threat" in by_label and "cue:legal_filed" not in by_label:
        result.legal_threat_only = True
        tokens.add("x:legal_threat_only")
    result.dates = read_dates(lower, received_at)
    if result.dates.has_old_date:
        tokens.add("date:old")
        if result.dates.out_of_time:
            tokens.add("date:out_of_time")
            d = result.dates.oldest
            result.exclusion_cues["out_of_time"] = [Hit("cue:out_of_time", d.start, d.end)]
    if result.dates.ongoing:
        tokens.add("date:ongoing")
    if result.dates.ended:
        tokens.add("date:ended")
    if result.dates.recent:
        tokens.add("date:recent")

    # Urgent risks.
    for kind in URGENT_KINDS:
        hits = by_label.get(f"urg:{kind}")
        if hits:
            result.urgent[kind] = hits[:2]
    if "cond:no_heat" in by_label and "cond:vulnerable" in by_label:
        result.urgent["no_heat_vulnerable"] = by_label["cond:no_heat"][:1] + by_label["cond:vulnerable"][:1]
    if "cond:mould" in by_label and "cond:health" in by_label:
        result.urgent["damp_mould_health"] = by_label["cond:mould"][:1] + by_label["cond:health"][:1]
    tokens.update(f"u:{kind}" for kind in result.urgent)

    # Advocates and adjustments.
    result.advocate = by_label.get("adv", [])[:2]
    for code in ADJUSTMENT_LABELS:
        hits = by_label.get(f"adj:{code}")
        if hits:
            result.adjustments[code] = hits[:2]
    languages = _languages(doc, interp, vocab_strings, "adj:interpreter" in by_label)
    for language, hit in languages.items():
        result.adjustments[f"interpreter:{language}"] = [hit]
        tokens.add("a:interpreter")
    result.tokens = sorted(tokens)
    return result


def _languages(doc, interp, vocab_strings, interpreter_cue: bool) -> dict[str, Hit]:
    found: dict[str, Hit] = {}
    for _, start, end in interp(doc):
        for token in doc[start:end]:
            if token.lower_ in _LANG_SET:
                language = {"bangla": "bengali", "persian": "farsi"}.get(token.lower_, token.lower_)
                if language == "english":
                    continue
                found.setdefault(language, Hit("adj:interpreter", token.idx, token.idx + len(token)))
    words = [t.lower_ for t in doc if t.is_alpha]
    if words:
        welsh = sum(1 for w in words if w in _WELSH_WORDS)
        distinct = sum(1 for w in set(words) if w in _WELSH_DISTINCT)
        if distinct >= 2 and welsh >= max(3, len(words) // 5):
            first = next(t for t in doc if t.lower_ in _WELSH_WORDS)
            found.setdefault("welsh", Hit("adj:interpreter", first.idx, first.idx + len(first)))
    if interpreter_cue and not found:
        for token in doc:
            if token.lower_ in _LANG_SET and token.lower_ not in ("english", "polish"):
                found.setdefault(token.lower_, Hit("adj:interpreter", token.idx, token.idx + len(token)))
                break
    return found

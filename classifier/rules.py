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

from classifier.dates import DateReading, read_dates

# ---------------------------------------------------------------------------
# Cue phrases, by label. Keep them general: the classifier is judged on
# messages written by people who never saw these lists.
# ---------------------------------------------------------------------------
STAFF = (
    "your|the|ur|you|a|an|that|this|ya|their operative|operatives|contractor|contractors|engineer|engineers|officer"
    "|staff|plumber|electrician|workman|workmen|worker|workers|builder|builders|gasman|caretaker|surveyor"
    "|repairman|handyman|employee|employees|tradesman|tradesmen|fitter|fitters|inspector|rep|man|guy|lad|lads|men"
)
PATTERNS: dict[str, list[str]] = {
    # --- dissatisfaction with the landlord (rule 1) -------------------------
    "cue:complaint": [
        "still not|n't|no fixed|sorted|done|resolved|repaired|working|heard|been",
        "still waiting|wating", "still has|have|hav n't|not", "still nothing", "still no",
        "nobody|noone|no1|nobody's came|come|turned|showed|shown|bothered|rang|called|contacted|responded|got|has|have|did",
        "no one|body came|come|turned|showed|bothered|rang|called|contacted|responded|got|has|have|did",
        "no-one came|turned|showed|has|rang|called|got",
        "did|didn't|didnt|never n't? turn|show up", "never turned|showed|came|come|arrived|heard|got|rang|called",
        "no show", "no-show", "not turned|showed up", "failed to", "missed appointment|appointment|appt",
        "second|2nd|third|3rd|fourth|4th|fifth|5th|sixth|6th time", "several|many|numerous|countless|multiple times",
        "two|three|four|five|six|seven|eight|nine|ten|2|3|4|5|6|7|8|9|10 times", "times now", "so many times",
        "not happy|satisfied|good enough|acceptable|impressed|ok|okay", "unhappy", "dissatisfied", "disgusted",
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
        "left a mess", "left it", "cancelled|canceled my|the appointment|repair|job", "cancelled again",
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
        "opening hours", "what time do you|are you open|close", "how do|can i pay", "pay my|the rent",
        "rent account", "direct debit", "wrong number", "who do i speak to", "how do i", "can you tell me",
        "is it possible to", "where can i", "do you know", "what's the number", "phone number", "address for",
        "unsubscribe", "click here", "prize", "winner",
    ],
    # --- exclusion cues -----------------------------------------------------
    "cue:legal_filed": [
        "issued|filed|lodged|started|commenced|submitted|brought a|my|the|court|legal claim|proceedings|case",
        "claim|proceedings|case has|have|was|were been? issued|filed|lodged|started|commenced|submitted",
        "claim|case number|no|ref|reference", "court claim", "county court", "high court", "small claims court",
        "court proceedings", "legal proceedings", "court hearing", "hearing date", "court date", "court case",
        "at|in|through|with the? court", "particulars of claim", "claim form", "n1", "tribunal", "judge",
        "issued proceedings", "sealed claim", "served|serve you|the claim", "defence", "defense",
    ],
    "cue:legal_threat": [
        "will|'ll|going|gonna|might|may|could|shall|intend|consider*|thinking take|taking|sue|suing|see|speak|contact|get",
        "take you to court", "see you in court", "sue you", "suing", "legal action", "legal advice", "a solicitor",
        "my solicitor", "solicitors", "lawyer", "no win no fee", "letter of claim", "letter before action",
        "pre-action", "pre action",
    ],
    "cue:insurance": [
        "insurance|insurers|insurer|insurers'|insurance's claim|claims|company|team|department|form|adjuster|reference|ref",
        "your|the landlord's|public liability insurance|insurers|insurer", "loss adjuster", "claim on|against|through|with your|the|their insurance|insurers|insurer",
        "liability claim", "claim for damage|damages|compensation|my|the", "claim reference|ref|number",
        "made|put in|lodged|submitted|filed|started|opened a|an|my claim",
    ],
    "cue:final_response": [
        "final response|decision|reply|letter|outcome", "stage 2|two|ii", "stage-2", "second stage",
        "already been through|complained|raised|considered|investigated|decided|closed", "complaint was|has been closed|upheld|not upheld|rejected|refused|dealt",
        "closed my complaint", "reopen*", "re-open*", "same complaint", "previous complaint", "last complaint",
        "earlier complaint", "original complaint", "complaints process", "complaints procedure", "ombudsman",
        "exhausted", "reference number", "you gave your|a final", "end of the process",
    ],
    "cue:elected_rep": [
        "mp|m.p.|councillor|councilor|cllr|cllr.|alderman|assembly member|ms|senedd member|member of parliament|ward member|ward councillor",
        "constituent|constituents|constituency|ward|caseworker|casework|parliamentary|surgery",
        "house of commons", "on behalf of my constituent", "my constituent", "constituency office",
    ],
    "cue:elected_self": [
        "i am|i'm the|a? councillor|cllr|mp|member", "as the? ward|local councillor|member|mp",
        "as councillor|cllr|mp", "in my capacity as", "as an elected member|representative", "my ward", "my residents",
        "residents in my ward", "my constituency", "the ward i represent", "i represent",
    ],
    "cue:crime": [
        "stole|stolen|steal|stealing|theft|thief|thieves|nicked|pinched|robbed|burgl*", "took money|cash|my",
        "fraud*", "scam*", "bribe*", "assault*", "attacked|hit|punched|slapped|pushed|shoved|grabbed|groped|kicked me",
        "sexual*", "indecent*", "exposed himself", "touched me", "crime", "criminal", "police",
        "crime reference|number", "reported him|her|them|it to the police", "went through my", "missing from",
        "gone missing", "went missing", "racially abused", "threatened me",
    ],
    "cue:staff": [STAFF.replace("your|the|ur|you|a|an|that|this|ya|their ", "")],
    "cue:other_org": [
        "council tax", "bin collection|collections|men|lorry|day", "bins not|weren't|were n't|haven't|have n't collected|emptied",
        "refuse collection", "recycling collection", "collect the bins", "the council's|councils", "city council",
        "borough council", "district council", "county council", "local authority", "energy supplier|company|provider|bill",
        "gas|electric|electricity|water|energy bill|bills|supplier|meter|tariff", "british gas", "octopus", "e.on",
        "eon", "edf", "ovo", "scottish power", "bulb", "utility company|companies", "thames|severn|yorkshire|anglian|united|southern water",
        "water company", "universal credit", "dwp", "housing benefit", "benefits office", "job centre|jobcentre",
        "parking ticket|fine", "pothole*", "street light|lights|lighting", "road sweep*", "broadband", "virgin media",
        "bt", "sky", "openreach", "royal mail", "nhs", "gp surgery", "managing agent|agents", "freeholder",
        "management company", "dvla", "hmrc", "tv licence", "highways",
    ],
    # --- urgent risks ---------------------------------------------------------
    "urg:gas": [
        "smell|smells|smelling|smelt|smelled|stink|stinks|whiff of? gas", "gas smell|leak|leaking|escape",
        "leaking gas", "carbon monoxide", "co alarm|detector", "monoxide", "gas alarm",
    ],
    "urg:fire": [
        "on fire", "caught|catching fire", "a|the fire in|on|at|started|broke", "flames", "smoke coming|pouring|everywhere|filling",
        "smoke from", "burning smell|smells", "smell of burning|smoke", "smoking socket|plug|fuse|box|meter",
        "fire brigade", "firefighters", "fire service", "melted|melting socket|plug|wire|wires|cable",
    ],
    "urg:flood": [
        "flood|flooded|flooding|floods", "water pouring|gushing|pissing|flooding|streaming|everywhere",
        "pouring with|of? water", "gushing water", "burst pipe|pipes|main", "pipe burst|has burst|burst", "sewage",
        "raw sewage", "toilet water overflowing", "water coming through the|my ceiling|light", "ceiling is|has collapsed|coming down",
        "inches of water", "cant|can't|cannot stop the water", "stop tap",
    ],
    "urg:electrics": [
        "sparking|sparks|spark", "exposed wire|wires|wiring", "live wire|wires|electrics", "electric shock",
        "electrocut*", "shock from|off the", "water in|into|through the light|lights|socket|sockets|fuse|electrics",
        "fuse box|board smoking|sparking|buzzing|burning", "bare wires", "wires hanging|sticking|exposed",
        "buzzing socket", "socket hanging off", "tripping", "trip switch",
    ],
    "urg:structural": [
        "ceiling collapsed|collapsing|caved|falling|fell|coming", "ceiling has|is collapsed|collapsing|falling|come|coming",
        "collapsed|collapse|collapsing", "caved in", "falling down|apart|in|off", "structural*", "subsidence",
        "wall bowing|leaning|cracking", "crack|cracks getting bigger|wider", "unsafe balcony|stairs|floor|building",
        "balcony loose|unsafe|collapsing|railings", "could fall", "about to fall", "dangerous structure",
        "roof came|fell|falling|blown|caving", "window fell|falling out|came out", "floor gave way", "gave way",
        "loose masonry|bricks|tiles|railing", "bricks falling", "tiles falling",
    ],
    "urg:violence": [
        "threaten*|threat|threats to|_ kill|stab|hurt|burn|beat|shoot|smash|kick|attack|batter|petrol",
        "kill|stab|hurt|beat|batter|shoot|burn me|us|my|you|him|her|them", "knife|knives|machete|gun|weapon|weapons|blade",
        "attacked|assaulted|punched|stabbed|beaten|beat up|battered", "beat me up", "kick my|the door in|down",
        "going to hurt|kill|get", "death threat|threats", "violent|violence", "scared for my|our life|lives|safety",
        "fear for my|our life|lives|safety", "not safe", "in danger",
    ],
    "urg:self_harm": [
        "suicid*", "kill myself|meself|mysel", "end|ending|take|taking it all|my life|my own life", "self harm|harming",
        "self-harm*", "hurt|hurting|harm|harming myself", "overdose", "don't|dont|do n't want to be here|live|go on",
        "can't|cant|can not|ca n't go on|cope anymore", "no point living|in living", "better off dead|without me",
        "want to die", "wanna die", "end it", "ending it", "not be here anymore",
    ],
    "urg:domestic_abuse": [
        "domestic abuse|violence", "da", "dv", "abusive partner|ex|husband|wife|boyfriend|girlfriend|relationship",
        "my|her|his partner|ex|husband|wife|boyfriend|girlfriend hits|hit|beats|beat|attacked|hurt|threatens|threatened|strangled|choked",
        "fleeing", "flee", "refuge", "coercive", "controlling", "non-molestation", "non molestation", "marac", "idva",
        "restraining order", "injunction", "safe house",
    ],
    "cond:no_heat": [
        "no|not|without any? heating|heat|hot water|hotwater|gas|electric|electricity|power", "heating|boiler not|isn't|is n't|stopped|broke|broken|packed|gone|down|off|failed|died|dead",
        "heating|boiler has stopped|broken|packed|gone|died|failed|broke", "boiler|heating packed up|in",
        "cold water only", "freezing", "frozen", "no radiators", "radiators cold|not", "stone cold",
    ],
    "cond:vulnerable": [
        "baby|babies|newborn|infant|toddler|pregnant|pregnancy|preg", "month|week|months|weeks old", "\\d+ month|week old",
        "elderly", "old age", "pensioner", "disabled", "disability", "disabilities", "vulnerable", "frail", "poorly",
        "ill", "illness", "sick", "cancer", "chemo*", "asthma*", "copd", "heart condition|problems", "diabetic",
        "oxygen", "terminal*", "kids", "children", "child", "my son|daughter", "grandchildren", "dementia",
        "wheelchair", "bedbound", "bed bound", "housebound", "my nan|gran|grandma|grandad|grandfather|grandmother",
        "my mum|dad|mother|father is 7*|8*|9*", "aged 7*|8*|9*", "in her|his 70s|80s|90s|seventies|eighties|nineties",
        "hypothermia", "medical condition", "health condition", "sickle cell", "arthritis", "just had surgery",
        "operation", "immunocompromised", "carer", "blue",
    ],
    "cond:mould": ["mould|mold|mouldy|moldy|damp|black mould|fungus|condensation|mildew"],
    "cond:health": [
        "cough*", "asthma*", "chest infection|infections|problems", "chesty", "breathing", "breathe", "wheez*",
        "inhaler", "hospital", "a&e", "gp|doctor|doctors|dr says|said|has|told", "ill", "sick", "poorly", "infection",
        "respiratory", "lungs", "allergic", "allergy", "allergies", "health", "rash", "eczema", "bronch*", "pneumonia",
        "making us|him|her|them|me|my ill|sick|poorly", "affecting my|our|his|her health|breathing|chest",
    ],
    # --- advocates ------------------------------------------------------------
    "adv": [
        "on behalf of", "on her|his|their|my mum's|my dad's behalf", "behalf of my|our|the",
        "writing|emailing|texting|messaging|contacting|complaining|calling for|about my|our mum|mother|dad|father|nan|gran|grandmother|grandfather|grandma|grandad|son|daughter|brother|sister|aunt|uncle|client|tenant|friend|neighbour|wife|husband|partner",
        "my client|clients", "my service user", "our client|clients|service user|tenant|resident", "the tenant|resident i support",
        "support worker", "key worker", "keyworker", "social worker", "care worker", "advocate", "advocacy",
        "caseworker", "case worker", "outreach worker", "tenancy support", "floating support", "citizens advice",
        "i support|help|care for", "i am|i'm her|his|their|the carer|daughter|son|advocate|support|sister|brother|niece|nephew",
        "her|his|their carer|advocate|support worker|social worker", "my mum's|mums|my dad's|dads|my nan's|my gran's|my mother's|my father's|my sister's|my brother's flat|house|home|boiler|kitchen|bathroom|tenancy|landlord|property|place",
        "my mum|dad|mother|father|nan|gran|son|daughter|sister|brother is|who is your|a tenant|resident",
        "my mum|dad|mother|father|nan|gran|grandmother|grandfather|aunt|uncle lives|has lived|is living",
        "she|he has asked me", "asked me to write|contact|email|get in touch", "with her|his|their consent|permission",
        "consent form", "authority to act", "power of attorney", "lpa", "appointee", "acting for", "act for",
        "speak for her|him|them", "my constituent", "a constituent", "for my constituent",
    ],
    # --- adjustments ----------------------------------------------------------
    "adj:deaf": [
        "deaf", "deafness", "hard of hearing", "hearing impaired|impairment|loss|aid|aids", "bsl", "british sign language",
        "sign language", "lip read|reads|reading", "lipread", "can't|cant|cannot|ca n't hear", "relay uk", "textrelay",
        "text relay", "minicom",
    ],
    "adj:sight_loss": [
        "blind", "partially sighted", "visually impaired", "visual impairment", "sight loss", "sight impaired",
        "large print", "big print", "bigger print", "braille", "screen reader", "screenreader", "macular*",
        "glaucoma", "registered blind", "can't|cant|cannot|ca n't see", "losing my sight", "lost my sight", "poor eyesight",
        "audio format", "read it out",
    ],
    "adj:dyslexia": [
        "dyslexic", "dyslexia", "struggle|struggles|struggling with reading|writing|spelling", "difficulty|trouble|problems reading|writing",
        "can't|cant|cannot|ca n't read|write well|very well|properly", "not good at|with reading|writing|spelling", "bad at reading|spelling",
        "reading difficulties", "spelling is bad|terrible", "excuse|sorry about my|the spelling",
    ],
    "adj:learning_disability": [
        "learning disability|disabilities|difficulty|difficulties", "explain|explained things|it simply|slowly",
        "simple words|language|english", "easy read", "easy-read", "plain english|language", "down's syndrome",
        "downs syndrome", "learning needs", "keep it simple", "doesn't|does n't|dont|don't|do n't understand letters|forms",
    ],
    "adj:cognitive": [
        "dementia", "alzheimer*", "memory problems|loss|issues", "poor memory", "forgets|forgetful|forgetting",
        "brain injury", "head injury", "confused|confusion", "stroke", "memory is", "cognitive", "doesn't|does n't remember",
    ],
    "adj:mental_health": [
        "anxiety", "anxious", "depression", "depressed", "ptsd", "mental health", "bipolar", "schizophreni*",
        "panic attack|attacks", "ocd", "agoraphobi*", "breakdown", "psychosis", "psychiatric", "mentally",
        "personality disorder", "eating disorder", "trauma", "traumatised", "severe anxiety",
    ],
    "adj:mobility": [
        "wheelchair", "bedbound", "bed bound", "bed-bound", "housebound", "mobility", "zimmer", "walking frame",
        "walking stick", "crutches", "can't|cant|cannot|ca n't walk|manage the stairs|manage stairs|do stairs|get up|get down|climb",
        "amputee", "paralys*", "paraplegic", "disabled access", "ramp", "stairlift", "stair lift", "scooter",
        "limited movement", "physical disability", "ms", "multiple sclerosis", "frame", "hoist",
    ],
    "adj:phone_only": [
        "phone|ring|call me only", "only phone|ring|call", "by phone only", "phone only", "contact me by phone|telephone",
        "please ring|call|phone me", "ring me instead", "call me instead", "rather than write|writing|email|letter|letters",
        "no internet", "no email", "don't|dont|do n't have|use|do email|internet|computer|a computer",
        "not on email", "can't|cant|cannot|ca n't read letters|emails|email|read", "no computer", "not online",
    ],
    "adj:written_only": [
        "in writing only", "only in writing", "writing only", "email only", "by email only", "text only",
        "texts only", "only text|email|write", "put it in writing", "in writing please", "please email|text|write",
        "don't|dont|do n't|please don't|please do n't phone|ring|call", "can't|cant|cannot|ca n't use|do|speak on|talk on the? phone|phones|telephone|calls",
        "not phone|ring|call me", "no phone calls", "no calls", "contact me by email|text|letter|writing",
        "by email|text|letter please", "struggle with phone|phones|calls", "cannot take calls",
    ],
    "adj:interpreter": [
        "interpreter|interpreters|interpreting|translator|translators|translation|translated|translate",
        "english is not my|her|his|their first language", "english not my|her|his|their first language",
        "no english", "little english", "not much english", "poor english", "my english is not good|bad|poor|not",
        "don't|dont|do n't speak english", "doesn't|does n't speak english", "only speak|speaks", "speak|speaks only",
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


def _token_spec(word: str) -> dict:
    op = None
    if word == "_":
        return {"OP": "?"}
    if word == "__":
        return {"OP": "{0,3}"}
    if len(word) > 1 and word.endswith("?"):
        word, op = word[:-1], "?"
    alternatives = word.split("|")
    if any(a.endswith("*") or a.startswith("\\") for a in alternatives):
        regex = "^(?:" + "|".join(
            a if a.startswith("\\") else re.escape(a[:-1]) + ".*" if a.endswith("*") else re.escape(a) + "$"
            for a in alternatives
        ) + ")"
        spec: dict = {"LOWER": {"REGEX": regex}}
    elif len(alternatives) > 1:
        spec = {"LOWER": {"IN": alternatives}}
    else:
        spec = {"LOWER": word}
    if op:
        spec["OP"] = op
    return spec


@lru_cache(maxsize=1)
def _pipeline():
    """The blank tokenizer and the compiled matcher, built once per process."""
    import spacy
    from spacy.matcher import Matcher

    nlp = spacy.blank("en")
    matcher = Matcher(nlp.vocab)
    for label, phrases in PATTERNS.items():
        patterns = []
        for phrase in phrases:
            tokens = []
            for word in phrase.split():
                tokens.extend(_token_spec(w) for w in _split_apostrophes(word))
            patterns.append(tokens)
        matcher.add(label, patterns)
    interp = Matcher(nlp.vocab)
    lang = {"LOWER": {"IN": list(LANGUAGES)}}
    interp.add(
        "lang",
        [
            [lang, {"LOWER": {"IN": ["interpreter", "interpreters", "translator", "translation", "speaker", "speaking", "speakers"]}}],
            [{"LOWER": {"IN": ["speak", "speaks", "speaking", "in", "into", "understand", "understands", "read", "reads"]}}, {"LOWER": "only", "OP": "?"}, lang],
            [{"LOWER": {"IN": ["interpreter", "translator", "translation", "translated", "translate"]}}, {"LOWER": {"IN": ["for", "in", "into", "to", "speaking"]}}, {"OP": "?"}, lang],
            [lang, {"LOWER": {"IN": ["only", "please", "language"]}}],
            [{"LOWER": "first"}, {"LOWER": "language"}, {"LOWER": {"IN": ["is", "was"]}}, lang],
            [{"LOWER": "my"}, {"LOWER": "language"}, {"LOWER": "is"}, lang],
        ],
    )
    return nlp, matcher, interp


def _split_apostrophes(word: str) -> list[str]:
    """spaCy splits "can't" into "ca" "n't" and "mum's" into "mum" "'s": mirror that in patterns."""
    if "'" not in word or word.startswith("\\"):
        return [word]
    alternatives = word.split("|")
    if len(alternatives) == 1:
        w = alternatives[0]
        if w.endswith("n't") and len(w) > 3:
            head = w[:-3]
            return [{"can": "ca", "won": "wo"}.get(head, head), "n't"]
        if w.endswith("'s") or w.endswith("'ll") or w.endswith("'ve") or w.endswith("'m") or w.endswith("'re") or w.endswith("'d"):
            head, tail = w.split("'", 1)
            return [head, "'" + tail]
        return [w]
    # Several alternatives with apostrophes: keep the plain ones and the common contractions as one token.
    return ["|".join(a.replace("'", "") if a.endswith("n't") else a for a in alternatives if "'" not in a or a.endswith("n't"))]


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


# Longest text the rule layer reads: bounds the time spent on a 100 KB paste.
MAX_RULE_CHARS = 20_000


def analyse(text: str, received_at: date | None = None) -> RuleResult:
    """Run every rule over `text` (one view of a message)."""
    nlp, matcher, interp = _pipeline()
    lower = normalise(text[:MAX_RULE_CHARS])
    doc = nlp.make_doc(lower)
    result = RuleResult()
    vocab_strings = nlp.vocab.strings
    by_label: dict[str, list[Hit]] = {}
    for match_id, start, end in matcher(doc):
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
        result.exclusion_cues["criminal_allegation"] = by_label["cue:crime"][:2] + by_label["cue:staff"][:1]
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

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
from operator import itemgetter
from typing import NamedTuple

from spacy.attrs import IDX, LANG, LENGTH, LOWER, NORM

from classifier.dates import DateReading, read_dates
from classifier.types import ADJUSTMENT_CODES

# ---------------------------------------------------------------------------
# Cue phrases, by label. Keep them general: the classifier is judged on
# messages written by people who never saw these lists.
# ---------------------------------------------------------------------------
# fmt: off
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
        # Welsh
        "cwyn", "gwyno", "trydydd|ail|pedwerydd tro", "dal i", "dal heb", "neb wedi", "dim ateb", "dim ymateb", "siomedig",
        "annerbyniol", "eto fyth", "dim byd wedi",
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
    # A resident saying in so many words that this is a first report (guide: first reports are
    # service requests). Read by decide.py only when no dissatisfaction cue is found too (rule R2).
    "cue:first_report": [
        "first time i|we|i've|we've|ive|weve|im|i'm|i+have|we+have|i+am reported|reporting|report|rang|contacted|raised",
        "first time reporting|reported", "first time it|it's|its|this|that has|'s|is|happened|happening",
        "just a normal report|request|repair", "tro cyntaf i mi|ni",
        "never reported|raised it|this before",
    ],
    # The landlord already failed on this matter (guide rule 1's typical words): read by decide.py
    # only, to keep a repeat report or a missed visit from passing as a first report (rule R2).
    "cue:failed_before": [
        "nobody|noone|no1|no+one|no-one came|come|turned+up|showed+up|showed|came+back|come+back|bothered",
        "never turned|showed up", "never came|arrived|showed|came+back|come+back|rang+back|called+back|got+back",
        "didn't|didnt|did+not turn|show up", "didn't|didnt|did+not arrive|attend",
        "no show", "no-show", "second|2nd|third|3rd|fourth|4th|fifth|5th time i|i've|ive|we've|weve|of|asking|reporting|ringing|calling|chasing",
        "still not|n't fixed|sorted|repaired|done", "still hasn't|hasnt|has+not been fixed|sorted|repaired|done",
        "still waiting", "botched|bodged", "made it worse",
        # Welsh
        "trydydd|ail|pedwerydd|3ydd|2il|4ydd tro", "ddaeth neb", "neb wedi dod|ateb|ffonio", "dal heb",
        "dim ateb|ymateb", "heb gael ateb",
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
        "take|taking|bring|drag you|u|this|it|them to small+claims|the+small+claims|the+tribunal|tribunal|the+ombudsman",
        "see you|u in small+claims|the+small+claims", "apply|go|going to the tribunal", "report you to the ombudsman",
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
        "closed my|the complaint", "same complaint|issue|matter|problem as+before|as+last+time|that+i+raised|i+raised|previously|already|again",
        "complaints process finished|ended|concluded|completed", "you gave your|a final", "end of the process",
        "exhausted the|your complaints", "response at stage 2|two",
    ],
    "cue:complaint_history": [
        "stage 1|2|one|two|ii", "previous complaint", "reopen*", "re-open*", "last complaint", "earlier complaint", "original complaint",
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
        "eggy|rotten+egg|rotten+eggs smell", "smell of rotten? eggs", "co detector|alarm going|keeps|went|is beeping|off",
        "orange|yellow flame", "flame is|looks orange|yellow",
    ],
    "urg:fire": [
        "on fire", "caught|catching fire", "a|the fire in+the|in+my|on+the|at+the|started|broke+out", "flames", "smoke coming|pouring|everywhere|filling",
        "smoke from", "burning smell|smells", "smell of burning|smoke", "smoking socket|plug|fuse|box|meter",
        "fire brigade", "firefighters", "fire service", "melted|melting socket|plug|wire|wires|cable",
    ],
    "urg:flood": [
        "flooding", "is flooded|flooding", "water pouring|gushing|pissing|flooding|streaming|everywhere",
        "pouring with water", "gushing water", "burst pipe|pipes|main", "pipe burst|has+burst", "sewage",
        "raw sewage", "water coming|pouring|dripping|leaking through|into|from|in the|my light|lights|light+fitting|socket|sockets|electrics|fuse+box",
        "ceiling is|has collapsed|coming+down",
        "inches of water", "cant|can't|cannot stop the water",
    ],
    "urg:electrics": [
        "sparking|sparks|spark", "exposed wire|wires|wiring", "live wire|wires|electrics", "electric shock",
        "electrocut*", "shock from|off the",         "fuse box|board smoking|sparking|buzzing|burning", "bare wires", "wires hanging|sticking|exposed",
        "buzzing socket", "socket hanging off",
        "crackling socket|switch|plug|noise|sound", "switch|socket|plug|sockets is|are|feels warm|hot", "scorch marks",
        "scorched|blackened|burnt socket|switch|plug", "wires showing|poking|coming+out", "with the wires showing|out",
    ],
    "urg:structural": [
        "ceiling collapsed|collapsing|caved|falling|fell|coming+down|came+down|come+down", "ceiling has|is collapsed|collapsing|falling|come+down|coming+down|fallen",
        "is collapsing", "has collapsed", "caved in", "falling down|apart|in|off", "structural*", "subsidence",
        "wall bowing|leaning|cracking", "crack|cracks getting bigger|wider", "unsafe balcony|stairs|floor|building",
        "balcony loose|unsafe|collapsing|railings", "could fall", "about to fall", "dangerous structure",
        "roof came|fell|falling|blown|caving", "window fell|falling out", "window came out", "floor gave way", "gave way",
        "loose masonry|bricks|tiles|railing", "bricks falling", "tiles falling",
    ],
    "urg:violence": [
        "threaten*|threat|threats to kill|stab|hurt|burn|beat|shoot|smash|kick|attack|batter|petrol", "threaten*|threat|threats to come+and|come+round+and kill|stab|hurt|beat|smash|batter",
        "kill|stab|beat|batter|shoot me|us|you|him|her|them", "knife|knives|machete|gun|weapon|weapons|blade",
        "attacked me|us|my|him|her", "punched|stabbed|beaten|battered", "beat me up", "kick|kicking|smash|smashing my|the door in|down",
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
        "domestic abuse|violence", "abusive partner|ex|husband|wife|boyfriend|girlfriend|relationship",
        "my|her|his partner|ex|husband|wife|boyfriend|girlfriend hits|hit|beats|beat|attacked|hurt|threatens|threatened|strangled|choked",
        "fleeing", "flee", "refuge", "he's|hes|she's|shes back and|&", "when he's|hes|she's|shes not here|around|in|out",
        "checks my phone", "he doesn't|doesnt know", "watching my phone", "spying on my phone", "coercive", "controlling", "non-molestation", "non molestation", "marac", "idva",
        "restraining order", "safe house",
    ],
    "urg:fire_extra": [
        "set fire|alight", "set on fire", "setting fire|alight", "fire spreading|spread|is+spreading", "burn|torch the|my|our|your|his|her flat|house|place|block|building|car down",
        "burn you|us|them|me out", "petrol through", "burning down", "smoke is|was coming", "smoke coming",
    ],
    "urg:flood_extra": [
        "water everywhere", "water is? going|gushing|pouring|spraying|spurting|flooding everywhere", "going everywhere",
        "can't|cant|cannot turn it|the+water|the+tap off", "can't|cant|cannot stop it", "water coming|pouring in under|through+the+door",
        "water is|keeps rising", "ankle deep", "inches deep", "gushing", "spurting", "spraying water|everywhere",
    ],
    "urg:hazard": [
        "window restrictor|restrictors|lock|locks", "restrictor", "no restrictor", "needles|syringe|syringes", "asbestos", "glass everywhere",
        "broken glass", "smashed glass", "live cable|cables", "exposed cable|cables", "tiles came|come|coming|falling|hanging off|down",
        "branch hanging|split|snapped|fallen|falling|cracked", "tree has? fallen|falling|leaning|uprooted|come+down|came+down",
        "about to fall|collapse|come+down|give+way", "could fall|collapse|come+down", "gonna fall", "going to fall|collapse",
        "will fall|collapse", "bowing", "nearly hit|fell", "near miss", "trip hazard", "tripped|fell over|down",
        "carbon monoxide", "fumes", "rats|rat in the|my? kitchen|cot|bed|baby's", "bitten", "dog attacked|bit", "bleeding", "blood",
        "trapped", "stuck in|on|inside|halfway", "can't|cant|cannot get out", "can't|cant|cannot get up|upstairs|downstairs|out+of+bed",
        "on the floor", "lay|lying|laid on the floor", "fallen over|down", "had a fall", "fell in|on|down|over",
        "locked out", "no way of calling|to+call", "unsafe", "dangerous", "danger", "hazard", "safeguarding", "cuckooing", "exploit*",
        "not safe", "don't|dont|do+not feel safe", "scared|frightened|terrified|afraid",
    ],
    "urg:danger": [
        "lethal", "deadly", "death trap", "someone will die|get+hurt|be+killed|get+killed|fall", "could kill|injure|electrocute",
        "could have|could've killed|died|been+killed", "nearly killed|died|electrocuted", "accident waiting",
        "nearly hit|gone+over|went+over|fell|fallen|picked", "by the throat", "bitten", "scalding|scalded", "got burnt|burned|scalded",
        "police on the? way|their+way|route", "police are on|coming|here|outside", "police have|'ve been? called", "called|rang|phoned|ringing|calling the? police|999|ambulance",
        "ambulance is|on", "999", "can't|cant get to the door", "lying|lay on the floor now",
        "following my|her|his daughter|son|child", "outside her|my|his bedroom window", "stalking|stalked", "cuckoo*",
        "trapped", "stuck in the lift", "stuck halfway", "stuck in bed|my+bed", "can't|cant get out of bed|the+flat|my+flat",
        "no water", "water is|has been off", "water's off", "no electric|electricity|power", "power cut|is+off|has+gone",
        "electric is|has gone|run+out|off", "no way of calling", "someone could fall", "loose railing|balcony|panel",
        "railing|railings is|are loose", "balcony railing", "roof blown", "blown half|off", "might come off", "fire door propped|wedged",
        "wedged|propped open", "fire exit blocked", "blocked fire", "no smoke alarm|alarms", "smoke alarm|alarms not|don't|doesn't|isn't working",
        "haven't|havent|not seen him|her|them for days|ages|a+week", "curtains shut|closed|drawn|still+shut",
        "post piling up", "milk on|still+on the step|doorstep", "no answer at the door",
        # Welsh
        "monocsid", "orffen y cyfan", "lladd fy hun", "nwy", "ogla nwy", "arogl nwy", "tân", "mwg", "ofn", "bygwth|fygwth", "heddlu", "trywanu|nhrywanu", "gwreichion",
        "llifogydd", "llifo",
    ],
    "cond:care_kit": [
        "pull cord|cords", "pullcord", "emergency cord|alarm|button|pendant", "alarm cord|pendant", "lifeline", "careline", "telecare",
        "warden call|alarm", "call system", "alarm system", "pendant", "stairlift|stairlifts", "stair lift", "hoist", "profiling bed", "stair-lift", "lifft grisiau",
        "oxygen", "concentrator", "dialysis", "sensor", "door alarm", "through-floor lift", "vibrating pad", "flashing doorbell",
        "smoke alarm|alarms|detector|detectors", "fire alarm|alarms", "ramp", "only lift", "wheelchair lift", "lift with wheelchair",
    ],
    "cond:kit_down": [
        "broken", "broke", "not working", "n't working", "isn't working", "stopped working", "stopped", "down", "removed", "taken down",
        "taken away", "not connected", "disconnected", "stuck", "failed", "faulty", "dead", "out of order|action|service",
        "not been working", "cut off", "no power", "ran|run out", "will run out", "wedi torri",
    ],
    "cond:partner": ["partner|ex|husband|boyfriend|wife|girlfriend|ex-partner|ex-husband|ex-boyfriend|fiance|bf|hubby"],
    "cond:abuse_act": [
        "hit|hits|hitting|beat|beats|beating|smashed|smashing|punched|slapped|kicked|strangled|choked|throttled|pushed|shoved|grabbed",
        "kicking off", "arrested", "bail", "bailed", "scared|frightened|terrified|afraid of him|her|them", "hurt me|her|the+kids",
        "threw|thrown", "threatened|threatening|threatens", "turning|turns|turned up", "won't leave", "controlling", "checks my phone",
        "black eye", "bruise|bruises|bruised", "attacked", "make her|me|you pay", "too scared|frightened", "injunction", "non-molestation",
        "police", "ring me before|when+he's+not", "when he's not here", "he's back", "hes back", "she's back",
    ],
    "cond:threat_marker": ["'ll|will|gonna|going|threaten*|wil|threat|threats"],
    "cond:violent_act": [
        "kill|stab|burn|hurt|batter|beat|shoot|petrol|acid|slash|torch|bash|murder",
        "break|smash|knock his|her|your|my|their legs|leg|arm|arms|neck|nose|jaw|face|head|teeth|windows|car|door",
        "put my|her|his|your|the|their windows|window in", "do you|him|her|me|them in", "glass you|him|her|me",
    ],
    "urg:self_harm_extra": [
        "want|wish it all to stop|end", "no reason to live", "not worth living", "don't|dont want to wake up",
        "tablets saved", "take all my pills|tablets", "jump off|from",
        "don't|dont|do+not|can't|cant see the|any point in anything|living|life|going+on|carrying+on|it+anymore",
        "no point in anything|living|life|going+on",
        "nothing left to live", "no point anymore|any+more",
        "might as well not be here|around", "better off if i was+n't|wasn't|was+not|were+n't|weren't here|around",
        "better off without me", "tablets|pills lined up", "thinking about|of ending it|things|my+life",
        "don't|dont|do+not want to be around|alive",
    ],
    "cond:no_heat": [
        "no|not|without any? heating|heat|hot+water|hotwater|gas|electric|electricity|power", "heating|boiler not+working|isn't+working|stopped|broke|broken|packed+up|gone|down|failed|died|dead|bust|kaput",
        "heating|boiler has stopped|broken|packed+up|packed+in|gone|died|failed|broke",
        "cold water only", "freezing", "frozen", "no radiators", "radiators cold|not", "stone cold",
        "heating is|was|'s|has+been off", "heating off", "heating not coming on", "heating won't|wont|doesn't|isn't come+on|work|working",
        "heaters|heater don't|dont|doesn't|won't|not work|working", "storage heaters", "no heat", "without heating|heat",
        "degrees", "in her|his|my|their coat|coats", "wrapped in blankets", "like an? oven|ovens|sauna", "too hot",
        "overheating", "sweltering", "heatwave", "boiling hot", "boiling kettles", "kettle to wash", "communal heating",
        "radiators don't|dont|won't get warm|work|heat+up",
    ],
    "cond:vulnerable": [
        "baby|babies|newborn|infant|toddler|pregnant|pregnancy|preg", "1|2|3|4|5|6|7|8|9|10|11|12|18|one|two|three|four|five|six|seven|eight|nine|ten|eleven month|week|months|weeks|mth old",
        "elderly", "old age", "pensioner", "disabled", "disability", "disabilities", "vulnerable", "frail", "poorly",
        "ill", "illness", "cancer", "chemo*", "asthma*", "copd", "heart condition|problems", "diabetic",
        "oxygen", "terminal*", "kids", "children", "child", "my son|daughter", "grandchildren", "dementia",
        "wheelchair", "bedbound", "bed bound", "housebound", "my nan|gran|grandma|grandad|grandfather|grandmother",
        "in her|his|their 70s|80s|90s|seventies|eighties|nineties",
        "hypothermia", "medical condition", "health condition", "sickle cell", "arthritis", "just had surgery",
        "operation", "immunocompromised", "carer", "carers", "over 65|70|75|80|85|90", "sheltered", "extra care",
        "heart failure|attack", "dialysis", "oxygen", "lives alone", "on her|his own", "on my own", "frail", "autistic",
        "small|little|young son|daughter|child|children|kids|boy|girl|one|ones", "diabetes", "heart problems|problem",
    ],
    "cond:gas_word": ["gas|gaz|gass"],
    "cond:heat_word": ["heating|boiler|radiators|radiator|heater|heaters|storage+heaters|hot+water|gwres|boeler"],
    "cond:heat_fail": [
        "broken|broke|stopped|failed|died|dead|off|cold|bust|kaput|leaking", "not|n't|still+not|never work|working|come+on|get+warm|heat+up",
        "packed up|in", "gone off|out", "wedi torri", "ddim yn gweithio",
    ],
    "cond:lift": ["lift|lifts|elevator|lift's"],
    # An insecure home and someone trying to get in: a risk to safety now.
    "cond:insecure": [
        "won't|wont|doesn't|doesnt|can't|cant|cannot|not|no+longer lock|shut|close|secure", "insecure",
        "no lock", "lock|locks is|are|was broken|bust|snapped", "door|window was|has+been|got kicked|smashed|forced",
    ],
    "cond:intruder": [
        "someone|somebody|people|men|lads|man|he|they tried|trying|try|tries my|the|our door|handle|window|windows",
        "tried|trying to get|break in", "break|broke|breaking in", "someone|somebody|people|men|lads|man got|getting|coming in",
    ],
    "cond:trapped": ["stuck|trapped|inside|in+it"],
    "cond:smell": ["smell*|smelt|stink*|whiff|hiss*|odour|odor|reek*"],
    "cond:water": ["water|leak|leaking|leaks|dripping|drip|drips|wet|soaked|flooding|pouring"],
    "cond:electric": ["socket|sockets|plug|plugs|fuse|fusebox|electrics|electric|electrical|wiring|wires|bulb|light+fitting|light+switch|lights|light|heater|extension"],
    "cond:mould": ["mould|mold|mouldy|moldy|damp|fungus|condensation|mildew|llwydni|lleithder"],
    "cond:health": [
        "cough*", "asthma*", "chest infection|infections|problems", "chesty", "breathing", "breathe", "wheez*",
        "inhaler", "hospital", "a&e", "gp|doctor|doctors|dr says|said|has|told", "ill", "sick", "poorly", "infection",
        "respiratory", "lungs", "allergic", "allergy", "allergies", "health", "rash", "eczema", "bronch*", "pneumonia",
        "pesychu", "peswch", "meddyg",
        "making us|him|her|them|me ill|sick|poorly", "making my son|daughter|kids|baby|children|son's|daughter's ill|sick|poorly|asthma|chest", "affecting my|our|his|her health|breathing|chest",
    ],
    # --- advocates ------------------------------------------------------------
    "adv": [
        "on her|his|their|my+mum's|my+dad's|my+mother's|my+father's behalf", "behalf of my|our|your",
        "on behalf of mr|mrs|ms|miss|dr|our+client|my+client|my+constituent|a+constituent|the+tenant|your+tenant|a+tenant",
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
        "typing this|for me|for+her|for+him", "is typing", "typing on behalf", "writing this for me|her|him",
        "executor", "next of kin", "granddaughter|grandson|daughter|son|niece|nephew|carer of mrs|mr|ms|miss",
        "'s carer|carers|support+worker|social+worker|advocate",
        "messaging|writing|texting|emailing|contacting|here for my mate|friend|neighbour", "for my mate|friend",
        "i help her|him|them with", "help her|him with her|his bills|post|letters",
        "ar ran", "caller said she|he was", "reporting it|this for her|him|them", "asked me to deal|sort|write|contact|email|report",
        "i'm|i+am writing|emailing|contacting you for|about my mum|dad|mother|father|nan|gran",
        "emailing|writing|texting|txting|messaging|contacting|write|email|text|calling|ringing for my|our girlfriend|boyfriend|partner|wife|husband|parents|friend|mate|brother|sister|nan|gran|mum|dad|son|daughter|aunt|uncle|neighbour",
        "for one of my|our young+people|clients|residents|tenants", "son|daughter|carer|relative|friend|niece|nephew of tenant|the+tenant",
        "my? mums|dads|nans|grans|mothers|fathers flat|house|home|boiler|kitchen|bathroom|heating|smoke|door|window|tenancy|rent|place|shower|toilet|garden",
        "youth worker", "welfare rights", "money adviser|advisor", "benefits adviser|advisor", "housing adviser|advisor",
        "manage|handle|deal+with|look+after my|his|her father's|mother's|mum's|dad's|nan's|gran's|parents' affairs", "affairs for him|her|them",
        "asked me to let+you+know|tell+you|get+in+touch|contact+you|report|raise", "is your|the tenant", "who's|whose your|the tenant",
        "she's|he's|they're your|the tenant", "lasting power of attorney", "my young person",
        "my mother|father|mum|dad|nan|gran|grandmother|grandfather|aunt|uncle|brother|sister mrs|mr|ms|miss",
        "( daughter|son|granddaughter|grandson|niece|nephew|carer|wife|husband )", "daughter|son|carer|wife of mr|mrs|ms|miss",
        "carer for mr|mrs|ms|miss", "care coordinator", "district|community|psychiatric nurse", "doing this for me|her|him",
        "doing this text|message|email for me|her|him", "does|do my messages|texts|emails for me", "helping me write",
        "writing|texting|emailing for him|her|them", "i write for my", "im|i'm texting|writing|emailing for",
    ],
    # Weaker advocate cues, a separate feature: often a group ("on behalf of the residents'
    # association"), an agent ("managed on behalf of the freeholder") or a neighbour's relative.
    "adv_weak": [
        "on behalf of", "behalf", "'s son|daughter|granddaughter|grandson|niece|nephew|neighbour",
    ],
    # A relative described by age or as the subject ("my nan is 82 and...", "it's about my grandad"): the
    # writer is implied to write for them. A feature for the advocate head, not a decision. The
    # "relative + age" form is `_RELATIVE_AGE` below (as phrases it would be thirteen thousand).
    "adv_implied": [
        "it's|its|it+is|this+is|message+is|writing|texting|emailing abt|about my nan|gran|grandad|granddad|grandma|grandpa|mum|dad|mother|father|auntie|aunt|uncle",
    ],
    # A resident mentioning their own worker ("my support worker told me to message you"): the worker
    # is not writing, so not an advocate (TRIAGE_GUIDE.md: someone writing for the resident).
    "adv_own_worker": [
        "my support+worker|key+worker|keyworker|social+worker|care+coordinator|carer|cpn|community+psychiatric+nurse|care+worker told|tells|says|said|helped|noticed|knows|suggested|visits|comes|asked+me",
        "me and|with my support+worker|key+worker|keyworker|social+worker|care+coordinator|carer",
        "i've|i+have|ive got a|my support+worker|key+worker|keyworker|social+worker|care+coordinator|cpn",
        "my support+worker|key+worker|social+worker|care+coordinator and i|me",
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
        "brain injury", "head injury", "gets confused", "easily confused", "memory is", "cognitive", "doesn't|does n't remember",
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
        "limited movement", "physical disability", "multiple sclerosis", "hoist", "stroke", "grab rail|rails",
        "walker", "rollator", "disabled", "mnd", "cerebral palsy", "arthritis", "can't|cant|cannot manage stairs|the+stairs",
    ],
    "adj:phone_only": [
        "phone|ring|call me only", "only phone|ring|call", "by phone only", "phone only", "contact me by phone|telephone",
        "rather than write|writing|email|emails|letter|letters", "don't|dont|do+not|no send letters|letters|emails|writing",
        "instead of letters|writing|emails", "not letters", "phone me instead|please", "ring me instead|please",
        "call me instead|please", "please phone|ring|call me", "please phone|ring|call", "speak to me on the phone",
    ],
    "cond:cannot_read": [
        "can't|cant|cannot read|write", "can't|cant|cannot read or write", "no internet", "not online", "not on email",
        "don't|dont use email|computers|the+internet", "no email", "no computer", "struggle|struggles to read",
        "can't|cant read well", "dyslexi*",
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
_LANG_SET = frozenset(LANGUAGES) - {"english"}
# Welsh words common in short messages: several of them together mean the message is in Welsh.
_WELSH_WORDS = frozenset(
    "dw i yn mae ddim fy gyda diolch os gwelwch dda eich chi ni nhw wedi ac rwy rydw roedd bod tŷ ty fflat"
    " gwres dŵr dwr boeler plis helo bore prynhawn angen cwyn atgyweirio cegin ystafell wely ydw hefyd"
    " achos oherwydd heddiw ddoe wythnos mis y yr r 'r ar am efo mewn hyn hi o fo neb dim sori rhif anghywir"
    " dydi dyw nid nad oes mi ei eu sy sydd ond neu a ag i'r i'n ges gan dros drwy wrth yma yno fan ydi"
    " isio eisiau moyn gallu gwneud cael dal eto ers pan hen newydd drws ffenestri ffenest llythyr llythyrau"
    " ymateb terfynol cam swyddog tai rhent ffens gefn storm neithiwr brys gwybod pwnc annwyl cofion"
    " mam dad nhad taid nain ran blant plant mlynedd blynedd".split()
)
_WELSH_DISTINCT = frozenset(
    "ddim gwelwch diolch mae gyda rydw rwy roedd wedi eich nhw gwres dŵr boeler cwyn angen ydw heddiw efo neb"
    " dydi dyw nid oes sydd isio eisiau ymateb swyddog annwyl cofion pwnc anghywir neithiwr brys gwybod ran"
    " mewn ers dal drws llythyr".split()
)

# fmt: on
ADJUSTMENT_LABELS = ADJUSTMENT_CODES  # the closed list of TRIAGE_GUIDE.md
URGENT_KINDS = ("gas", "fire", "flood", "electrics", "structural", "violence", "self_harm", "domestic_abuse",
                "care_equipment", "danger")  # fmt: skip
# Hazard words that only add to the model's view: alone they do not set `urgent`.
_OLD_AGE = re.compile(
    r"\b(?:(?:aged?|is|am|'s|i'm|im|shes|hes)\s+(?:7\d|8\d|9\d|10\d)\b|(?:7\d|8\d|9\d|10\d)\s*(?:-?\s*years?|yrs?|y/?o|year-old)\b"
    r"|in (?:her|his|their|my) (?:70|80|90)s)"
)
_TWO_DIGITS = re.compile(r"\d\d")  # every `_OLD_AGE` match has two digits together
# "my nan is 82", "grandad's 90", "my mum turned 75": a relative described by age (adv_implied).
_RELATIVE_AGE = re.compile(
    r"\b(?:my )?(?:nan|gran|grandad|granddad|grandma|grandpa|mum|dad|auntie|aunt|uncle|mother|father)"
    r"(?:'s|s)?(?:\s+(?:is|who's|who is|turned)|'s)\s+(?:6\d|[7-9]\d|10[0-5])\b"
)
EXCLUSION_CUES = {
    "legal_proceedings": "cue:legal_filed",
    "insurance_claim": "cue:insurance",
    "previously_considered": "cue:final_response",
    "elected_representative": "cue:elected_self",
    "criminal_allegation": "cue:crime",
    "other_organisation": "cue:other_org",
}

# Labels a preceding "no", "not", "never" cancels ("no smell of gas", "I'm not deaf").
_NEGATABLE = frozenset(
    [
        f"urg:{k}"
        for k in ("gas", "fire", "flood", "electrics", "structural", "violence", "fire_extra", "flood_extra")
    ]
    + ["cond:smell"]
    + [
        f"adj:{k}"
        for k in (
            "deaf",
            "sight_loss",
            "dyslexia",
            "learning_disability",
            "cognitive",
            "mental_health",
            "mobility",
        )
    ]
)
_NEGATORS = frozenset({"no", "not", "n't", "never", "without", "isn't", "wasn't", "dont", "don't", "nt"})


def _expand(phrase: str) -> list[str]:
    """All the literal phrases a pattern stands for (alternatives "|", optional "?", "+" joins words)."""
    options: list[list[str]] = [[]]
    for slot in phrase.split():
        optional = len(slot) > 1 and slot.endswith("?")
        # "word*" becomes "word": the prefix mapping in `_canonical` turns both sides into "word*".
        alternatives = [a.replace("+", " ").rstrip("*") for a in (slot[:-1] if optional else slot).split("|")]
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
    from spacy.matcher import PhraseMatcher

    _NORMS.clear()  # a new vocabulary: no lexeme has its prefix norm yet
    nlp = spacy.blank("en")
    # A new word's lexeme gets only the attributes matching reads (NORM, and LOWER and LANG), not
    # the twenty-odd others (shape, prefix, suffix, like_url, ...): a fraction of the time for an
    # unseen word, and fewer strings kept per word.
    nlp.vocab.lex_attr_getters = {
        attr: getter for attr, getter in nlp.vocab.lex_attr_getters.items() if attr in (LOWER, NORM, LANG)
    }
    prefixes = _prefixes()
    matcher = PhraseMatcher(nlp.vocab, attr="NORM")
    for label, phrases in PATTERNS.items():
        literal = sorted({p for phrase in phrases for p in _expand(phrase)})
        docs = []
        for doc in nlp.tokenizer.pipe(literal):
            for token in doc:
                if token.text.startswith(prefixes):
                    token.norm_ = _canonical(token.text, prefixes)
            docs.append(doc)
        matcher.add(label, docs)
    return nlp, matcher, prefixes


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


# The label of a hit that is the whole message being in another language (not a phrase in it).
WRITTEN_IN = "adj:written_in"


class Hit(NamedTuple):
    """One rule match: what it is evidence for, and where (characters of the text analysed)."""

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
    written_in: str | None = None  # a language other than English or Welsh the message is written in
    tokens: list[str] = field(default_factory=list)  # features for the model


def _merge(by_label: dict[str, list[Hit]], into: str, extra: str) -> None:
    if extra in by_label:
        by_label.setdefault(into, []).extend(by_label.pop(extra))


# Two cues close together make a risk: (first cue, second cue, window in characters, must the first
# come first, the label they make). "care kit" near "not working" is failed care equipment.
_NEAR_PAIRS = (
    ("cond:care_kit", "cond:kit_down", 80, False, "urg:care_equipment"),
    ("cond:partner", "cond:abuse_act", 120, False, "urg:domestic_abuse"),
    ("cond:threat_marker", "cond:violent_act", 30, True, "urg:violence"),
    ("cond:gas_word", "cond:smell", 40, False, "urg:gas"),
    ("cond:water", "cond:electric", 80, False, "urg:electrics"),
    ("cond:heat_word", "cond:heat_fail", 40, False, "cond:no_heat"),
    ("cond:insecure", "cond:intruder", 200, False, "urg:danger"),
    ("cond:lift", "cond:trapped", 40, False, "urg:danger"),
)


def _near(first: list[Hit], second: list[Hit], window: int, ordered: bool = False) -> tuple[Hit, Hit] | None:
    """The first pair of hits within `window` characters (with `first` before `second` when ordered)."""
    for a in first:
        for b in second:
            gap = b.start - a.end
            if (
                (0 <= gap <= window)
                or (not ordered and -window <= b.end - a.start <= 0)
                or (a.start <= b.start < a.end)
            ):
                if a is not b and (a.start, a.end) != (b.start, b.end):
                    return a, b
    return None


def _negated(words: list[str], start: int) -> bool:
    return any(words[i] in _NEGATORS for i in range(max(0, start - 3), start))


# A court word this close after a threat marker ("I'll", "if", "unless") is a threat, unless the
# words themselves say proceedings exist ("hearing", "issued", "claim number").
_THREAT_WINDOW = 60
_THREAT_BEFORE = re.compile(
    r"\b(?:i'll|ill|i will|we'll|we will|i'd|will be|would|going to|gonna|unless|threaten\w*|or else|if)\b"
)
_FILED_WORDS = re.compile(
    r"issued|filed|lodged|started|commenced|sealed|hearing|served|claim form|particulars|ref|number|papers|\bn1\b"
)


def _threatened(lower: str, hit: Hit) -> bool:
    """A legal-filed cue that is really a threat: a threat marker just before it, no filed words in it."""
    if _FILED_WORDS.search(lower, hit.start, hit.end):
        return False
    before = lower[max(0, hit.start - _THREAT_WINDOW) : hit.start]
    return bool(_THREAT_BEFORE.search(before)) and not _FILED_WORDS.search(before)


# A crime word counts against staff only when a staff word is this close (characters).
_CRIME_STAFF_WINDOW = 250
# Strings in spaCy's vocabulary before the rule pipeline is rebuilt (about 30 MB).
_MAX_VOCABULARY = 300_000
# Longest text the rule layer reads: bounds the time spent on a 100 KB paste.
MAX_RULE_CHARS = 20_000
# Each word seen, and the "prefix*" norm put on its lexeme ("" for none); started again when this
# big, and whenever the pipeline (so the vocabulary) is rebuilt.
_NORMS: dict[str, str] = {}
_MAX_NORMS = 100_000


def _match(nlp, matcher, prefixes, lower: str, by_label: dict[str, list[Hit]]) -> list[tuple[str, int]]:
    """Tokenize once, run the phrase matcher, fill `by_label`; returns (token, offset) pairs."""
    doc = nlp.make_doc(lower)
    if not len(doc):
        return []
    # Offsets and texts straight from the token array: a Python Token object per token costs more
    # than the matching itself.
    starts_lengths = doc.to_array([IDX, LENGTH]).ravel().tolist()
    starts = starts_lengths[0::2]
    words = [
        lower[start : start + length] for start, length in zip(starts, starts_lengths[1::2], strict=True)
    ]
    token_offsets = list(zip(words, starts, strict=True))
    # "threatened" matches the pattern "threaten*": each word's prefix norm is looked up once.
    # The norm goes on the word's lexeme, so every later message with the word has it already.
    norms = list(map(_NORMS.get, words))
    if None in norms:
        vocab = nlp.vocab
        for i, norm in enumerate(norms):
            if norm is None:
                word = words[i]
                norm = _canonical(word, prefixes) if word.startswith(prefixes) else ""
                if norm:
                    vocab[word].norm_ = norm
                if len(_NORMS) >= _MAX_NORMS:
                    _NORMS.clear()
                _NORMS[word] = norms[i] = norm
    vocab_strings = nlp.vocab.strings
    for match_id, start, end in matcher(doc):
        label = vocab_strings[match_id]
        if label in _NEGATABLE and _negated(words, start):
            continue
        last_word, last_idx = token_offsets[end - 1]
        hit = Hit(label, token_offsets[start][1], last_idx + len(last_word))
        hits = by_label.get(label)
        if hits is None:
            by_label[label] = [hit]
        else:
            hits.append(hit)
    return token_offsets


def analyse(text: str, received_at: date | None = None) -> RuleResult:
    """Run every rule over `text` (one view of a message)."""
    nlp, matcher, prefixes = _pipeline()
    if len(nlp.vocab.strings) > _MAX_VOCABULARY:
        # Every new word a resident types joins spaCy's vocabulary. Rebuilding now and then keeps a
        # long-running worker's memory bounded; a per-message memory zone would also drop the
        # tokenizer's cache and cost more than the whole rest of the rule layer.
        _pipeline.cache_clear()
        nlp, matcher, prefixes = _pipeline()
    lower = normalise(text[:MAX_RULE_CHARS])
    result = RuleResult()
    by_label: dict[str, list[Hit]] = {}
    token_offsets = _match(nlp, matcher, prefixes, lower, by_label)
    result.hits = [h for hits in by_label.values() for h in hits]
    tokens = {label for label in by_label}
    tokens.discard("cue:first_report")  # read by decide.py (rule R2), not a model feature
    tokens.discard("cue:failed_before")

    # Exclusion cues.
    if "cue:legal_filed" in by_label:
        # "If it isn't fixed I'll take you to the county court": a court word after a threat is a
        # threat, not started proceedings (TRIAGE_GUIDE.md: "I will take you to court" is a complaint).
        threats = [h for h in by_label["cue:legal_filed"] if _threatened(lower, h)]
        if threats:
            by_label.setdefault("cue:legal_threat", []).extend(threats)
            kept = [h for h in by_label["cue:legal_filed"] if h not in threats]
            if kept:
                by_label["cue:legal_filed"] = kept
            else:
                del by_label["cue:legal_filed"]
                tokens.discard("cue:legal_filed")
                tokens.add("cue:legal_threat")
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
    _merge(by_label, "urg:fire", "urg:fire_extra")
    _merge(by_label, "urg:flood", "urg:flood_extra")
    _merge(by_label, "urg:self_harm", "urg:self_harm_extra")
    for age in _OLD_AGE.finditer(lower) if _TWO_DIGITS.search(lower) else ():
        by_label.setdefault("cond:vulnerable", []).append(Hit("cond:vulnerable", age.start(), age.end()))
    for relative in _RELATIVE_AGE.finditer(lower) if _TWO_DIGITS.search(lower) else ():
        by_label.setdefault("adv_implied", []).append(Hit("adv_implied", relative.start(), relative.end()))
        tokens.add("adv_implied")
    for first, second, window, ordered, into in _NEAR_PAIRS:
        if first in by_label and second in by_label:
            pair = _near(by_label[first], by_label[second], window, ordered)
            if pair:
                by_label.setdefault(into, []).extend(pair)
    if "cond:gas_word" in by_label and len(lower.split()) <= 4:
        by_label.setdefault("urg:gas", []).extend(by_label["cond:gas_word"][:1])  # a one-word "gas!!"
    tokens.update(label for label in by_label if label.startswith("urg:"))
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
    result.advocate = (by_label.get("adv", []) + by_label.get("adv_weak", []))[:2]
    if "adj:phone_only" in by_label:
        asks = by_label.pop("adj:phone_only")
        strong = [h for h in asks if "only" in lower[h.start : h.end] or "instead" in lower[h.start : h.end]]
        pair = (
            _near(by_label.get("cond:cannot_read", []), asks, 120) if "cond:cannot_read" in by_label else None
        )
        if strong or pair:
            by_label["adj:phone_only"] = strong or list(pair)
    if "urg:self_harm" in by_label:
        by_label.setdefault("adj:mental_health", by_label["urg:self_harm"][:1])
    for code in ADJUSTMENT_LABELS:
        hits = by_label.get(f"adj:{code}")
        if hits:
            result.adjustments[code] = hits[:2]
    languages = _languages(token_offsets, lower, "adj:interpreter" in by_label)
    for language, hit in languages.items():
        result.adjustments[f"interpreter:{language}"] = [hit]
        tokens.add("a:interpreter")
        if hit.label == WRITTEN_IN:
            result.written_in = language
            tokens.add("a:written_in_other_language")
    result.tokens = sorted(tokens)
    return result


_SCRIPTS = (
    ("\u0980", "\u09ff", "bengali"), ("\u0a00", "\u0a7f", "punjabi"), ("\u0a80", "\u0aff", "gujarati"),
    ("\u0900", "\u097f", "hindi"), ("\u0b80", "\u0bff", "tamil"), ("\u4e00", "\u9fff", "chinese"),
    ("\uac00", "\ud7af", "korean"), ("\u0e00", "\u0e7f", "thai"), ("\u0370", "\u03ff", "greek"),
    ("\u0590", "\u05ff", "hebrew"), ("\u1200", "\u137f", "tigrinya"),
)  # fmt: skip
_LATIN_LANGUAGES = {
    "polish": ("nie jest się na że do mam mój moja proszę dzień dobry mieszkanie jestem bardzo już mnie "
               "jak ale czy pan pani mojej moim", "łśżźćńąę"),
    "romanian": ("și este nu în cu vă rog bună ziua apartamentul sunt foarte că mea meu pentru vorbesc", "șțăâî"),
    "portuguese": ("não é da do em um uma eu que tenho obrigada obrigado olá por favor casa está muito minha meu "
                   "falo com para", "ãõç"),
    "spanish": ("el la los las que por favor hola tengo mi casa está muy gracias es hablo con para una", "ñ¿¡"),
    "somali": ("waxaan waa iyo ka ku ma aan la fadlan gurigayga ah oo caawiya waxa jira cidna", ""),
    "lithuanian": ("aš yra ne ir kad su mano prašau labas butas nėra", "ėųūįčšž"),
    "turkish": ("ve bir bu için çok ben evim lütfen merhaba değil var yok", "ğış"),
    "french": ("je le la les et est pas une un mon ma bonjour vous plaît merci avec dans chez", "àèùêœ"),
    "italian": ("il la di che non è per una sono mio casa buongiorno grazie della", ""),
    "kurdish": ("ez û min ji bo li te çi", ""),
}  # fmt: skip
_LATIN_WORDS = {lang: frozenset(words.split()) for lang, (words, _) in _LATIN_LANGUAGES.items()}


def written_language(text: str, words: list[str]) -> str | None:
    """The language a message is written in, when it is plainly not English (script, then common words)."""
    english = sum(map(_ENGLISH_WORDS.__contains__, words))
    if english >= max(2, len(words) * 0.2):
        return None  # plainly English: the common case, decided cheaply
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return None
    for lo, hi, language in _SCRIPTS if not text.isascii() else ():
        if sum(1 for c in letters if lo <= c <= hi) > len(letters) / 3:
            return language
    if text.isascii():
        letters = []
    arabic = [c for c in letters if "\u0600" <= c <= "\u06ff"]
    if len(arabic) > len(letters) / 3:
        if any(c in "ےںٹڈڑ" for c in arabic):
            return "urdu"
        if any(c in "پچژگ" for c in arabic):
            return "farsi"
        return "arabic"
    cyrillic = [c for c in letters if "\u0400" <= c <= "\u04ff"]
    if len(cyrillic) > len(letters) / 3:
        return "ukrainian" if any(c in "іїєґ" for c in cyrillic) else "russian"
    if len(words) < 4:
        return None
    best, best_score = None, 0.0
    for language, vocabulary in _LATIN_WORDS.items():
        hits = sum(1 for w in words if w in vocabulary)
        marks = sum(1 for c in letters if c in _LATIN_LANGUAGES[language][1])
        score = hits + min(marks, 5) * 0.5
        if score > best_score:
            best, best_score = language, score
    if best and best_score >= 3 and best_score > english * 1.5 and best_score >= len(words) * 0.15:
        return best
    return None


_ENGLISH_WORDS = frozenset(
    "the and to i is in my it of for on have has not you your this that with me be are was at no can please".split()
)


_LANG_BEFORE = frozenset(
    "speak speaks speaking in into understand understands read reads only is was language".split()
)
_LANG_AFTER = frozenset(
    "interpreter interpreters translator translation speaker speaking speakers only please language".split()
)
_LANG_NAMES = {"bangla": "bengali", "persian": "farsi"}


def _languages(tokens: list[tuple[str, int]], text: str, interpreter_cue: bool) -> dict[str, Hit]:
    """interpreter:<language> codes: a language named beside a need for it, or a message written in it."""
    found: dict[str, Hit] = {}
    n = len(tokens)
    every_word = list(map(itemgetter(0), tokens))
    for i, (word, idx) in enumerate(tokens) if not _LANG_SET.isdisjoint(every_word) else ():
        if word in _LANG_SET:
            before = tokens[i - 1][0] if i else ""
            before2 = tokens[i - 2][0] if i > 1 else ""
            after = tokens[i + 1][0] if i + 1 < n else ""
            if (
                before in _LANG_BEFORE
                or after in _LANG_AFTER
                or before2 in ("interpreter", "translator", "speak", "speaks")
            ):
                found.setdefault(_LANG_NAMES.get(word, word), Hit("adj:interpreter", idx, idx + len(word)))
    words = list(filter(str.isalpha, every_word))
    if words:
        distinct = len(_WELSH_DISTINCT.intersection(words))
        welsh = sum(map(_WELSH_WORDS.__contains__, words)) if distinct else 0  # without, never Welsh
        if (distinct >= 2 and welsh >= max(2, len(words) // 4)) or (
            distinct and welsh >= 2 and welsh * 2 >= len(words)
        ):
            first = next((w, idx) for w, idx in tokens if w in _WELSH_WORDS)
            found.setdefault("welsh", Hit("adj:interpreter", first[1], first[1] + len(first[0])))
        elif not found:
            language = written_language(text, words)
            if language:
                found[language] = Hit(WRITTEN_IN, 0, min(len(text), 40))
    if interpreter_cue and not found:
        for word, idx in tokens:
            if word in _LANG_SET and word != "polish":
                found.setdefault(_LANG_NAMES.get(word, word), Hit("adj:interpreter", idx, idx + len(word)))
                break
    return found

"""A keyword-rule baseline, to show what the model adds. Plain substring checks, no learning."""

from __future__ import annotations

_COMPLAINT = (
    "still not",
    "still no",
    "nobody came",
    "no one came",
    "nobody turned up",
    "no one turned up",
    "again",
    "third time",
    "3rd time",
    "not happy",
    "unhappy",
    "complain",
    "escalate",
    "rude",
    "disgusting",
    "disgrace",
    "unacceptable",
    "ignored",
    "no response",
    "never got back",
    "waiting",
    "chased",
    "promised",
    "compensation",
)
_ASB = (
    "neighbour",
    "neighbor",
    "next door",
    "upstairs",
    "loud music",
    "noise",
    "drugs",
    "dealing",
    "harass",
    "threaten",
)
_COMPLIMENT = (
    "thank you",
    "thanks",
    "brilliant",
    "fantastic",
    "excellent",
    "well done",
    "great job",
    "lovely",
)
_SERVICE = (
    "repair",
    "broken",
    "leak",
    "boiler",
    "not working",
    "fix",
    "please could",
    "can someone",
    "mould",
    "damp",
)
_EXCLUSION = {
    "legal_proceedings": ("court", "claim issued", "proceedings"),
    "insurance_claim": ("insurance",),
    "previously_considered": ("final response", "stage 2"),
    "elected_representative": ("councillor", " mp ", "constituent"),
    "criminal_allegation": ("stole", "theft", "police"),
    "other_organisation": ("council tax", "bin collection", "energy supplier"),
    "out_of_time": ("years ago", "in 2019", "in 2020", "in 2021", "in 2022"),
}
_URGENT = (
    "gas",
    "fire",
    "flood",
    "sparking",
    "no heating",
    "no hot water",
    "collapsed",
    "kill",
    "suicide",
    "violence",
)
_ADVOCATE = ("on behalf of", "my mum", "my dad", "my client", "support worker", "my constituent")
_ADJUSTMENTS = {
    "deaf": ("deaf", "bsl"), "sight_loss": ("blind", "large print"), "dyslexia": ("dyslexi",),
    "learning_disability": ("learning disab",), "cognitive": ("dementia", "memory"),
    "mental_health": ("anxiety", "depression", "mental health"), "mobility": ("wheelchair",),
    "phone_only": ("phone only",), "written_only": ("in writing", "email only"),
}  # fmt: skip


def baseline_predict(text: str) -> dict:
    t = f" {text.lower()} "
    reason = next((r for r, words in _EXCLUSION.items() if any(w in t for w in words)), None)
    complaint = any(w in t for w in _COMPLAINT)
    if complaint and reason:
        category = "exclusion"
    elif complaint:
        category = "complaint"
    elif any(w in t for w in _ASB):
        category = "asb_report"
    elif any(w in t for w in _COMPLIMENT):
        category = "compliment"
    elif any(w in t for w in _SERVICE):
        category = "service_request"
    else:
        category = "other"
    return {
        "category": category,
        "exclusion_reason": reason if category == "exclusion" else None,
        "urgent": any(w in t for w in _URGENT),
        "advocate": any(w in t for w in _ADVOCATE),
        "adjustments": [code for code, words in _ADJUSTMENTS.items() if any(w in t for w in words)]
        + (["interpreter:unknown"] if "interpreter" in t else []),
    }

"""From one message to a `Triage`: clean, run the rules, score with the model, combine.

How the parts are combined (TRIAGE_GUIDE.md):
- The category is the model's argmax, or `complaint` when the model gives it
  at least `COMPLAINT_FLOOR` (a missed complaint is the costly error). The
  model reads the exclusion and date cues as features, so "claim issued at
  court" or "since 2019 and still" moves it. Then a weak `exclusion` (under `_WEAK_EXCLUSION`) with no rule cue, or whose
  only cue is a *threat* of court, or an `out_of_time` while the dates say it
  is still going on, falls back to `complaint` (guide rule 3: without a clear
  cue, doubt goes to the resident); for a threat of court the bar is
  `_THREAT_ONLY_EXCLUSION`.
- The exclusion reason is the rule cue's when the rules found one (the model
  breaks ties between several), else the reason model's.
- `urgent` is set by a rule hit (except the kinds in `SOFT_URGENT_KINDS`) or
  by the urgent model above `URGENT_THRESHOLD`, or because nobody can read the
  message yet (`UNREADABLE_IS_URGENT`); `advocate` by the advocate
  model (which reads the advocate rules as features); adjustments come from
  the rules (a closed list of codes).
- `needs_review` when the confidence is under `REVIEW_THRESHOLD`, the
  category is `exclusion` (only staff decide exclusions), or the message is
  written in a language other than English or Welsh (the model cannot read it,
  so neither its category nor its risk flags can be trusted).
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

import numpy as np

from classifier.features import ModelInput, prepare_text
from classifier.model import CompiledModel, Scored
from classifier.rules import RuleResult, analyse, normalise
from classifier.textclean import View, clean
from classifier.types import CATEGORIES, EXCLUSION_REASONS, Evidence, Triage

# Below this calibrated confidence a person looks at the triage. Chosen from the
# calibration curve of the held-out split (training_data/README.md, "Review threshold").
REVIEW_THRESHOLD = 0.70
# A message is a complaint whenever the model gives complaint at least this, even if another
# category scores higher. Per-source cross-validation (26 Nov 2026): 0.38 gives +0.5 points of
# complaint recall over 0.40 at the same macro-F1.
COMPLAINT_FLOOR = 0.38
# Flag thresholds for the two binary heads. Urgent is low because a missed risk costs more than a
# look: 0.98 recall, 0.34 precision in per-source cross-validation (training_data/README.md).
URGENT_THRESHOLD = 0.05
# 0.4 rather than 0.5: +0.8 to +1.1 points of advocate F1 in per-source cross-validation.
ADVOCATE_THRESHOLD = 0.4
# An exclusion the model is less sure of than this falls back to complaint when the rules found no
# exclusion cue, or only a threat of court, or an issue that is still going on. In per-source
# cross-validation: +0.8 points of complaint recall, -1.2 of exclusion-reason accuracy.
_WEAK_EXCLUSION = 0.5
# A legal_proceedings exclusion whose only legal cue is a threat ("I'll take you to small claims")
# falls back to complaint below this (guide: a threat to sue is a complaint). Chosen in per-source
# cross-validation on the training split (training_data/README.md, "Decision thresholds").
_THREAT_ONLY_EXCLUSION = 0.7
# A message written in a language the model cannot read cannot be ruled safe: it is flagged urgent
# so that a person reads it first (it always needs review too).
UNREADABLE_IS_URGENT = True
# ...and it is opened as a possible complaint: the model's category for text it cannot read is a
# guess (it got 0 of 12 right on the held-out split), and a complaint is the costly one to miss.
UNREADABLE_IS_COMPLAINT = True
# Urgent kinds too often said of the past ("the flood last year") to set the flag without the model.
SOFT_URGENT_KINDS = ("flood", "structural")
# Too short to carry an exclusion cue the rules could miss ("I want to complain"): without a rule
# cue, a short message is never an exclusion (guide rule 3).
SHORT_MESSAGE_WORDS = 12
# A bare conversational answer has nothing actionable in it yet (guide rule 5): `other`.
BARE_ANSWERS = frozenset("no nope nah n yes yeah yep yup y ok okay k kk sure fine right maybe dunno".split())
MAX_EVIDENCE = 8
# Rule R2 (training_data/README.md): a message that says in so many words that it is a first report
# ("first time I've reported it", "just a normal repair") and shows no dissatisfaction cue of its own is
# a service request (guide: first reports), unless the model is at least this sure of complaint.
FIRST_REPORT_KEEPS_COMPLAINT = 0.9
# The other direction of R2: a service request that says the landlord already failed on it ("nobody
# came", "third time I've reported", "still not fixed") is a complaint (guide rule 1) when the model
# gives complaint at least this. Per-source cross-validation: 6 missed complaints found and none lost
# anywhere from 0.0 to 0.1 (0.2 finds 2, 0.3 one); 0.05 is the middle of that flat range.
FAILED_BEFORE_FLOOR = 0.05
# Thanks that the model reads as a compliment first are pulled up to complaint by COMPLAINT_FLOOR only
# when something in them says what is still wrong: a dissatisfaction cue, or a turn such as "but",
# "again", "still" (guide rule 4 needs dissatisfaction with something; thanks that recount the problem
# that was fixed are a compliment). Per-source cross-validation: 7 compliments found, no complaint lost.
_TURN_IN_PRAISE = re.compile(
    r"\b(?:but|however|although|though|except|shame|pity|again|still|apart from|only thing|for nothing"
    r"|yet|ond|eto|dal)\b",
    re.IGNORECASE,
)


def prepare(text: str, received_at: date | None) -> tuple[ModelInput, RuleResult, View, View]:
    """Clean a message and run the rules: what training and classifying both start from."""
    cleaned = clean(text)
    rules = analyse(cleaned.rules.text, received_at)
    return (
        ModelInput(prepare_text(cleaned.model.text), tuple(rules.tokens)),
        rules,
        cleaned.rules,
        cleaned.model,
    )


def _span(view: View, original: str, start: int, end: int, label: str) -> Evidence:
    o_start, o_end = view.to_original(start, end)
    return Evidence(o_start, o_end, label, original[o_start:o_end])


@lru_cache(maxsize=20_000)
def _gram_pattern(gram: str) -> re.Pattern:
    return re.compile(r"\b" + r"\W+".join(re.escape(w) for w in gram.split()) + r"\b", re.IGNORECASE)


def _word_span(view: View, lowered: str, original: str, gram: str, label: str) -> Evidence | None:
    """Find a model feature (a word or two) in the message, for evidence."""
    if "0" in gram:
        return None
    at = lowered.find(gram)  # fast path; the pattern handles punctuation between the two words
    while at >= 0:
        end = at + len(gram)
        if (at == 0 or not lowered[at - 1].isalnum()) and (end == len(lowered) or not lowered[end].isalnum()):
            return _span(view, original, at, end, label)
        at = lowered.find(gram, at + 1)
    match = _gram_pattern(gram).search(view.text) if " " in gram else None
    if not match:
        return None
    return _span(view, original, match.start(), match.end(), label)


def decide(
    model: CompiledModel,
    text: str,
    received_at: date | None = None,
    *,
    prepared: tuple[ModelInput, RuleResult, View, View] | None = None,
    scored: Scored | None = None,
) -> Triage:
    doc, rules, rules_view, model_view = prepared if prepared is not None else prepare(text, received_at)
    vector, heads = scored if scored is not None else model.score_many([doc])[0]
    probabilities = heads["category"]
    category = CATEGORIES[int(probabilities.argmax())]
    confidence = float(probabilities.max())
    p_complaint = float(probabilities[CATEGORIES.index("complaint")])
    plain_thanks = category == "compliment" and _plain_thanks(rules, rules_view.text)
    if category not in ("complaint", "exclusion") and p_complaint >= COMPLAINT_FLOOR and not plain_thanks:
        # A missed complaint is the costly error (Code 1.2, 1.3): a close call goes to complaint.
        category, confidence = "complaint", p_complaint
    if category == "complaint" and p_complaint < FIRST_REPORT_KEEPS_COMPLAINT and _first_report_only(rules):
        # A rule overrode the model: the confidence stays the model's own, so a person usually looks.
        category, confidence = "service_request", float(probabilities[CATEGORIES.index("service_request")])
    elif category == "service_request" and p_complaint >= FAILED_BEFORE_FLOOR and _failed_before(rules):
        category, confidence = "complaint", p_complaint
    evidence: list[Evidence] = []
    reason: str | None = None
    dates = rules.dates
    if _is_bare_answer(rules_view.text) and not (rules.urgent or rules.exclusion_cues or rules.adjustments):
        category = "other"
        confidence = max(float(probabilities[CATEGORIES.index("other")]), 0.9)

    if category == "exclusion":
        reason_probs = heads["reason"]
        if rules.exclusion_cues:
            reason = max(rules.exclusion_cues, key=lambda r: reason_probs[EXCLUSION_REASONS.index(r)])
        else:
            reason = EXCLUSION_REASONS[int(np.argmax(reason_probs))]
        threat_only = reason == "legal_proceedings" and rules.legal_threat_only
        still_going = reason == "out_of_time" and dates is not None and dates.ongoing and not dates.ended
        no_cue = not rules.exclusion_cues
        short = len(rules_view.text.split()) < SHORT_MESSAGE_WORDS
        weak = confidence < _WEAK_EXCLUSION or (no_cue and short)
        if (threat_only and confidence < _THREAT_ONLY_EXCLUSION) or ((still_going or no_cue) and weak):
            # Guide rule 3: without a clear cue (none at all, only a threat to sue, or an old issue
            # that is still happening) a doubtful exclusion stays a complaint.
            category, reason = "complaint", None
            confidence = float(
                probabilities[CATEGORIES.index("complaint")] + probabilities[CATEGORIES.index("exclusion")]
            )

    # Written in a language the model was not trained to read (Welsh it was): whatever it scores is
    # a guess, so a person reads it, and until then it is a possible complaint (guide rule 3:
    # doubt goes to the resident; a missed complaint is the costly error).
    unreadable = rules.written_in not in (None, "welsh")
    if unreadable and UNREADABLE_IS_COMPLAINT:
        category, reason, confidence = "complaint", None, p_complaint

    if reason and reason in rules.exclusion_cues:
        for hit in rules.exclusion_cues[reason][:2]:
            evidence.append(_span(rules_view, text, hit.start, hit.end, f"exclusion:{reason}"))

    hard_kinds = [k for k in rules.urgent if k not in SOFT_URGENT_KINDS]
    urgent = (
        bool(hard_kinds)
        or float(heads["urgent"][0]) >= URGENT_THRESHOLD
        or (unreadable and UNREADABLE_IS_URGENT)
    )
    urgent_kinds = (hard_kinds + [k for k in rules.urgent if k in SOFT_URGENT_KINDS]) if urgent else []
    urgent_kind = urgent_kinds[0] if urgent_kinds else ("other" if urgent else None)
    for kind in urgent_kinds[:2]:
        for hit in rules.urgent[kind][:2]:
            evidence.append(_span(rules_view, text, hit.start, hit.end, f"urgent:{kind}"))

    advocate = float(heads["advocate"][0]) >= ADVOCATE_THRESHOLD
    if advocate:
        for hit in rules.advocate[:1]:
            evidence.append(_span(rules_view, text, hit.start, hit.end, "advocate"))

    adjustments = tuple(sorted(rules.adjustments))
    for code in adjustments:
        hit = rules.adjustments[code][0]
        evidence.append(_span(rules_view, text, hit.start, hit.end, f"adjustment:{code}"))

    if category != "exclusion" or not evidence:
        output = CATEGORIES.index(category)
        lowered = normalise(model_view.text)
        for gram in model.contributions(vector, output):
            found = _word_span(model_view, lowered, text, gram, category)
            if found:
                evidence.append(found)
    evidence = _dedupe(evidence)[:MAX_EVIDENCE]

    confidence = min(1.0, confidence)
    return Triage(
        category=category,
        confidence=round(confidence, 4),
        exclusion_reason=reason if category == "exclusion" else None,
        urgent=urgent,
        urgent_kind=urgent_kind,
        advocate=advocate,
        adjustments=adjustments,
        needs_review=category == "exclusion" or confidence < REVIEW_THRESHOLD or unreadable,
        evidence=tuple(evidence),
        model_version=model.metadata.get("version", ""),
        unreadable_language=rules.written_in if unreadable else None,
        probabilities={c: round(p, 4) for c, p in zip(CATEGORIES, probabilities.tolist(), strict=True)},
    )


def _first_report_only(rules: RuleResult) -> bool:
    """A first-report cue and no dissatisfaction cue outside it (rule R2)."""
    firsts = [h for h in rules.hits if h.label == "cue:first_report"]
    if not firsts:
        return False
    for h in rules.hits:
        if h.label == "cue:complaint" and not any(f.start <= h.start and h.end <= f.end for f in firsts):
            return False
    return True


def _plain_thanks(rules: RuleResult, text: str) -> bool:
    """Thanks with no dissatisfaction cue and no turn ("but", "again", "still"): nothing is wrong."""
    if any(h.label == "cue:complaint" for h in rules.hits):
        return False
    return _TURN_IN_PRAISE.search(text) is None


def _failed_before(rules: RuleResult) -> bool:
    """A cue that the landlord already failed on this matter, and no first-report cue (rule R2)."""
    labels = {h.label for h in rules.hits}
    return "cue:failed_before" in labels and "cue:first_report" not in labels


_LOWER_WORD = re.compile(r"[a-z]+")


def _is_bare_answer(text: str) -> bool:
    words: list[str] = []
    for match in _LOWER_WORD.finditer(text.lower()):
        if len(words) == 2:
            return False  # a third word: not a bare answer (and no need to read the rest)
        words.append(match.group())
    return bool(words) and all(word in BARE_ANSWERS for word in words)


def _dedupe(evidence: list[Evidence]) -> list[Evidence]:
    seen = set()
    out = []
    for e in evidence:
        key = (e.start, e.end, e.label)
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out

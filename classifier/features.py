"""What the model reads: word 1-2 grams, character 2-5 grams inside word boundaries, and rule tokens.

The same functions serve training (as scikit-learn analyzers) and classification
(the compiled model in `classifier.model`), so the two cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from classifier.rules import normalise

# The same tokens as r"(?u)\b\w+\b" (a run of word characters always has a boundary at each
# end), found faster.
_WORD = re.compile(r"\w+")
_DIGITS = re.compile(r"\d")
# The longest text the model reads; the rest of a very long message adds little and costs time.
MAX_MODEL_CHARS = 6_000
CHAR_NGRAM_RANGE = (2, 5)


@dataclass(frozen=True)
class ModelInput:
    """One message as the model sees it: the cleaned text, and the rule layer's tokens."""

    text: str  # normalised (lower-case) model view of the message
    rule_tokens: tuple[str, ...]


def prepare_text(model_view_text: str) -> str:
    text = normalise(model_view_text[:MAX_MODEL_CHARS])
    return _DIGITS.sub("0", text)  # flat 12 and flat 47 are the same feature


def word_features(doc: ModelInput) -> list[str]:
    words = _WORD.findall(doc.text)
    return words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]


_char_cache: dict[str, list[str]] = {}
_CHAR_CACHE_MAX = 200_000


def char_ngrams(word: str) -> list[str]:
    """The character n-grams of one word, padded with a space each side (uncached)."""
    padded = f" {word} "
    lo, hi = CHAR_NGRAM_RANGE
    return [padded[i : i + n] for n in range(lo, hi + 1) for i in range(len(padded) - n + 1)]


def word_char_ngrams(word: str) -> list[str]:
    grams = _char_cache.get(word)
    if grams is None:
        grams = char_ngrams(word)
        if len(_char_cache) < _CHAR_CACHE_MAX:
            _char_cache[word] = grams
    return grams


def char_features(doc: ModelInput) -> list[str]:
    out: list[str] = []
    for word in doc.text.split():
        out.extend(word_char_ngrams(word))
    return out


def rule_features(doc: ModelInput) -> list[str]:
    return list(doc.rule_tokens)


# The rule tokens the category model reads. Only the exclusion and date cues help it: in
# per-source cross-validation the other rule tokens (urgent, advocate, adjustment cues) made
# the category worse, so they feed the flag heads alone.
CATEGORY_RULE_PREFIXES = ("x:", "date:", "cue:legal", "cue:insurance", "cue:final", "cue:elected", "cue:crime",
                          "cue:other_org")  # fmt: skip


def category_rule_features(doc: ModelInput) -> list[str]:
    return [t for t in doc.rule_tokens if t.startswith(CATEGORY_RULE_PREFIXES)]

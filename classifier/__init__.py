"""Text in, Triage out. No I/O at classify time beyond loading the model once.

    from classifier import classify, classify_many
    triage = classify("the boiler is broken AGAIN, third time this month", received_at=date(2025, 1, 14))
    triages = classify_many([(text, received_at), ...])  # the same results, several times faster

The model is loaded lazily, once per process. Build it with `triage train`
(or `ensure_model()`, which rebuilds only when it is missing or stale).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import date, datetime

from classifier.errors import ClassifierError, HeldOutDataError, ModelNotTrainedError, TrainingDataError
from classifier.types import (
    ADJUSTMENT_CODES,
    CATEGORIES,
    EXCLUSION_REASONS,
    Evidence,
    Triage,
    is_adjustment_code,
)

__all__ = [
    "ADJUSTMENT_CODES",
    "CATEGORIES",
    "EXCLUSION_REASONS",
    "ClassifierError",
    "Evidence",
    "HeldOutDataError",
    "ModelNotTrainedError",
    "TrainingDataError",
    "Triage",
    "classify",
    "classify_many",
    "ensure_model",
    "is_adjustment_code",
    "load_model",
]

_lock = threading.Lock()
_model = None


def load_model(reload: bool = False):
    """The model of this process, read from disk the first time it is needed."""
    global _model
    if _model is None or reload:
        with _lock:
            if _model is None or reload:
                from classifier.rules import _pipeline
                from classifier.training import read_model

                model = read_model()
                model.warm()  # build the look-up tables and the rule matchers now, not on the first message
                _pipeline()
                _model = model
    return _model


def ensure_model(log=None):
    """Train when the model file is missing or its training-data hash is stale; return the loaded model."""
    from classifier.training import is_stale, train

    if is_stale():
        train(log=log or (lambda *_: None))
        return load_model(reload=True)
    return load_model()


def _received(received_at: date | datetime | str | None) -> date | None:
    from classifier.data import parse_date

    if isinstance(received_at, datetime):
        return received_at.date()
    if isinstance(received_at, str):
        return parse_date(received_at)
    return received_at


def classify(text: str, received_at: date | datetime | str | None = None) -> Triage:
    """Triage one message. `received_at` anchors date reasoning ("two years ago"); default today."""
    from classifier.decide import decide

    received_at = _received(received_at)
    if not isinstance(text, str):
        raise TypeError("text must be a string")
    return decide(load_model(), text, received_at)


# Messages scored together by `classify_many`: big enough to amortise the vectorising, small
# enough to keep the batch's arrays to a few MB.
BATCH_SIZE = 256


def classify_many(
    items: Iterable[str | tuple[str, date | datetime | str | None]], *, return_exceptions: bool = False
) -> list[Triage]:
    """Triage many messages at once: each result is exactly `classify(text, received_at)`.

    `items` are texts or `(text, received_at)` pairs. The model vectorises and scores
    `BATCH_SIZE` messages at a time, which is several times faster than one by one. With
    `return_exceptions`, a message that cannot be classified gets its exception in its place in
    the list (the others are still classified); without, the first such exception is raised.
    """
    from classifier.decide import decide, prepare

    model = load_model()
    results: list = []
    chunk: list[tuple[int, str, date | None]] = []

    def flush() -> None:
        prepared = []
        for at, text, received_at in chunk:
            try:
                prepared.append((at, text, received_at, prepare(text, received_at)))
            except Exception as exc:  # kept for the caller, in its place
                results[at] = exc
        try:
            scored = model.score_many([p[3][0] for p in prepared])
        except Exception:  # score one by one, so only the bad message fails
            scored = [None] * len(prepared)
        for (at, text, received_at, p), s in zip(prepared, scored, strict=True):
            try:
                results[at] = decide(model, text, received_at, prepared=p, scored=s)
            except Exception as exc:
                results[at] = exc
        chunk.clear()

    for item in items:
        at = len(results)
        results.append(None)
        try:
            text, received_at = (item, None) if isinstance(item, str) else item
            received_at = _received(received_at)
            if not isinstance(text, str):
                raise TypeError("text must be a string")
        except Exception as exc:
            results[at] = exc
            continue
        chunk.append((at, text, received_at))
        if len(chunk) >= BATCH_SIZE:
            flush()
    if chunk:
        flush()
    if not return_exceptions:
        for result in results:
            if isinstance(result, BaseException):
                raise result
    return results

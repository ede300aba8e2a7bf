"""Text in, Triage out. No I/O at classify time beyond loading the model once.

    from classifier import classify
    triage = classify("the boiler is broken AGAIN, third time this month", received_at=date(2025, 1, 14))

The model is loaded lazily, once per process. Build it with `triage train`
(or `ensure_model()`, which rebuilds only when it is missing or stale).
"""

from __future__ import annotations

import threading
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
                _pipeline()  # build the rule matchers now, not on the first message
                _model = model
    return _model


def ensure_model(log=None):
    """Train when the model file is missing or its training-data hash is stale; return the loaded model."""
    from classifier.training import is_stale, train

    if is_stale():
        train(log=log or (lambda *_: None))
        return load_model(reload=True)
    return load_model()


def classify(text: str, received_at: date | datetime | str | None = None) -> Triage:
    """Triage one message. `received_at` anchors date reasoning ("two years ago"); default today."""
    from classifier.data import parse_date
    from classifier.decide import decide

    if isinstance(received_at, datetime):
        received_at = received_at.date()
    elif isinstance(received_at, str):
        received_at = parse_date(received_at)
    if not isinstance(text, str):
        raise TypeError("text must be a string")
    return decide(load_model(), text, received_at)

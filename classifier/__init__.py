"""Text in, Triage out. No I/O at classify time beyond loading the model once."""

from classifier.types import ADJUSTMENT_CODES, CATEGORIES, EXCLUSION_REASONS, Evidence, Triage, is_adjustment_code

__all__ = ["ADJUSTMENT_CODES", "CATEGORIES", "EXCLUSION_REASONS", "Evidence", "Triage", "is_adjustment_code"]

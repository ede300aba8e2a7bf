"""Labelled examples: loading, the held-out split, and the training-data hash."""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from classifier.errors import TrainingDataError
from classifier.types import CATEGORIES, EXCLUSION_REASONS, is_adjustment_code

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TRAINING_DIR = PROJECT_ROOT / "training_data"
SPLITS_FILE = TRAINING_DIR / "splits.toml"


@dataclass(frozen=True)
class Example:
    id: str
    text: str
    received_at: date | None
    channel: str
    category: str
    exclusion_reason: str | None
    urgent: bool
    advocate: bool
    adjustments: tuple[str, ...]
    source: str
    batch: str  # the file it came from, relative to training_data/, e.g. "batches/sms_young_shorthand.jsonl"

    @property
    def is_correction(self) -> bool:
        return self.source.startswith("correction:")

    def gold(self) -> dict:
        """The labels in the shape score_triage.py reads."""
        return {
            "id": self.id,
            "category": self.category,
            "exclusion_reason": self.exclusion_reason,
            "urgent": self.urgent,
            "advocate": self.advocate,
            "adjustments": list(self.adjustments),
        }


def parse_date(value) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def data_files(training_dir: Path = TRAINING_DIR) -> list[Path]:
    """Every labelled file under training_data/, in a stable order."""
    return sorted(p for p in training_dir.rglob("*.jsonl") if p.is_file())


def data_hash(training_dir: Path = TRAINING_DIR) -> str:
    """SHA-256 over the names and bytes of every labelled file and the split: a changed byte means retrain."""
    digest = hashlib.sha256()
    files = data_files(training_dir)
    split = training_dir / "splits.toml"
    if split.exists():
        files.append(split)
    for path in files:
        digest.update(path.relative_to(training_dir).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def _example(obj: dict, batch: str, where: str) -> Example:
    try:
        category = obj["category"]
        if category not in CATEGORIES:
            raise TrainingDataError(f"{where}: unknown category {category!r}")
        reason = obj.get("exclusion_reason")
        if category == "exclusion" and reason not in EXCLUSION_REASONS:
            raise TrainingDataError(f"{where}: exclusion without a valid exclusion_reason ({reason!r})")
        if category != "exclusion":
            reason = None
        adjustments = tuple(str(a).strip().lower() for a in obj.get("adjustments") or ())
        bad = [a for a in adjustments if not is_adjustment_code(a)]
        if bad:
            raise TrainingDataError(f"{where}: unknown adjustment code(s) {bad}")
        return Example(
            id=str(obj["id"]),
            text=str(obj["text"]),
            received_at=parse_date(obj.get("received_at")),
            channel=str(obj.get("channel") or ""),
            category=category,
            exclusion_reason=reason,
            urgent=bool(obj.get("urgent")),
            advocate=bool(obj.get("advocate")),
            adjustments=adjustments,
            source=str(obj.get("source") or f"authored:{Path(batch).stem}"),
            batch=batch,
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise TrainingDataError(f"{where}: {exc!r}") from exc


def load_file(path: Path, training_dir: Path = TRAINING_DIR, strict: bool = False) -> list[Example]:
    """Examples of one file. A malformed line is skipped (files are being written while we read) unless strict."""
    batch = path.relative_to(training_dir).as_posix() if path.is_relative_to(training_dir) else path.name
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(_example(json.loads(line), batch, f"{batch}:{n}"))
        except (json.JSONDecodeError, TrainingDataError):
            if strict:
                raise
    return out


def held_out_files(training_dir: Path = TRAINING_DIR) -> list[str]:
    """The held-out files named in splits.toml (paths relative to training_data/)."""
    split = training_dir / "splits.toml"
    if not split.exists():
        return []
    with split.open("rb") as fh:
        config = tomllib.load(fh)
    return list(config.get("test", {}).get("files", []))


@dataclass(frozen=True)
class Dataset:
    train: list[Example]
    test: list[Example]
    dropped_duplicates: int = 0


def load_dataset(training_dir: Path = TRAINING_DIR) -> Dataset:
    """All examples split by whole file: held-out files never reach `train`.

    A training example whose text also appears in the held-out split is dropped, so a
    line copied between batches cannot leak the test set into the model.
    """
    held_out = set(held_out_files(training_dir))
    train: list[Example] = []
    test: list[Example] = []
    seen_ids: set[str] = set()
    for path in data_files(training_dir):
        examples = load_file(path, training_dir)
        for ex in examples:
            if ex.id in seen_ids:
                continue  # ids are unique by the schema; a repeat is a copy
            seen_ids.add(ex.id)
            (test if ex.batch in held_out else train).append(ex)
    test_texts = {_norm(ex.text) for ex in test}
    kept = [ex for ex in train if _norm(ex.text) not in test_texts]
    return Dataset(kept, test, len(train) - len(kept))


def _norm(text: str) -> str:
    return " ".join(text.lower().split())

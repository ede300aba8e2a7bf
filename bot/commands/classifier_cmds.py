"""`triage classify`, `triage train` and `triage evaluate`: the classifier on the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from bot.commands import fail

OUTPUT_KEYS = ("id", "category", "confidence", "exclusion_reason", "urgent", "advocate", "adjustments",
               "needs_review", "evidence")  # fmt: skip
# Larger inputs are cut here before classifying: the resident's point is made long before.
MAX_TEXT_CHARS = 100_000


class BadLine(ValueError):
    """One input line cannot be classified; the batch goes on."""


def parse_line(raw: bytes) -> tuple[object, str, str | None]:
    """(id, text, received_at) from one JSON Lines record, or BadLine with a plain reason."""
    line = raw.decode("utf-8", errors="replace")
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BadLine(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise BadLine("each line must be a JSON object")
    record_id = obj.get("id")
    text = obj.get("text")
    if text is None:
        _bad(record_id, "missing 'text'")
    if not isinstance(text, str):
        _bad(record_id, "'text' must be a string")
    received_at = obj.get("received_at")
    if received_at is not None and not isinstance(received_at, str):
        _bad(record_id, "'received_at' must be a YYYY-MM-DD string")
    if received_at:
        from classifier.data import parse_date

        try:
            parse_date(received_at)
        except ValueError:
            _bad(record_id, f"'received_at' is not a date: {received_at[:40]!r}")
    return record_id, text[:MAX_TEXT_CHARS], received_at or None


def _bad(record_id, message: str):
    exc = BadLine(message)
    exc.record_id = record_id
    raise exc


def _progress(enabled: bool):
    if not enabled:
        return None
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    progress = Progress(
        SpinnerColumn(), TextColumn("classifying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=Console(stderr=True), transient=True,
    )  # fmt: skip
    progress.start()
    return progress


def classify_stream(
    stdin, stdout, stderr, show_progress: bool = False, batch_size: int | None = None
) -> tuple[int, int]:
    """Classify JSON Lines from `stdin` (bytes) to `stdout` (text), in order. Returns (ok, errors).

    Lines are read `batch_size` at a time (default `classifier.BATCH_SIZE`) and classified
    together with `classify_many`, which gives exactly what `classify` gives for each message.
    """
    from classifier import BATCH_SIZE, classify_many
    from classifier.evaluation import prediction_row

    batch_size = max(1, batch_size or BATCH_SIZE)
    ok = errors = 0
    progress = _progress(show_progress)
    task = progress.add_task("classify", total=None) if progress else None
    # (line number, id, row) per line: a finished row (an error), or None until it is classified.
    pending: list[tuple[int, object, dict | None]] = []
    items: list[tuple[str, str | None]] = []

    def flush() -> None:
        nonlocal ok, errors
        results = classify_many(items, return_exceptions=True)
        done = iter(results)
        for number, record_id, row in pending:
            if row is None:
                result = next(done)
                if isinstance(result, Exception):  # one odd message must never stop the batch
                    row = {"id": record_id, "error": f"could not classify: {type(result).__name__}"}
                    stderr.write(f"line {number}: could not classify ({type(result).__name__}: {result})\n")
                    errors += 1
                else:
                    row = prediction_row(record_id, result)
                    ok += 1
            stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
        if progress:
            progress.update(task, advance=len(pending))
        pending.clear()
        items.clear()

    try:
        for number, raw in enumerate(stdin, 1):
            if not raw.strip():
                continue
            try:
                record_id, text, received_at = parse_line(raw.rstrip(b"\r\n"))
            except BadLine as exc:
                record_id = getattr(exc, "record_id", None)
                pending.append((number, record_id, {"id": record_id, "error": str(exc)}))
                stderr.write(f"line {number}: {exc}\n")
                errors += 1
            except Exception as exc:  # one odd line must never stop the batch
                row = {"id": None, "error": f"could not classify: {type(exc).__name__}"}
                pending.append((number, None, row))
                stderr.write(f"line {number}: could not classify ({type(exc).__name__}: {exc})\n")
                errors += 1
            else:
                pending.append((number, record_id, None))
                items.append((text, received_at))
            if len(pending) >= batch_size:
                flush()
        flush()
    finally:
        if progress:
            progress.stop()
        stdout.flush()
    return ok, errors


def register(app: typer.Typer) -> None:
    @app.command("classify")
    def classify_command() -> None:
        """Triage JSON Lines from stdin ({"id", "text", "received_at"?, "channel"?}) to JSON Lines on stdout."""
        from classifier import ModelNotTrainedError, load_model

        try:
            load_model()
        except ModelNotTrainedError as exc:
            fail(str(exc))
        stdout = sys.stdout
        if hasattr(stdout, "reconfigure"):
            stdout.reconfigure(encoding="utf-8", errors="replace")
        # Typed at a terminal, answer each line at once; from a file or a pipe, in batches.
        batch_size = 1 if sys.stdin.isatty() else None
        ok, errors = classify_stream(
            sys.stdin.buffer, stdout, sys.stderr, show_progress=sys.stderr.isatty(), batch_size=batch_size
        )
        if errors:
            typer.echo(f"{ok} classified, {errors} line(s) with errors.", err=True)

    @app.command("train")
    def train_command(
        if_stale: Annotated[
            bool, typer.Option("--if-stale", help="Only train when the model is missing or stale.")
        ] = False,
    ) -> None:
        """Build the triage model from training_data/ (never from the held-out split)."""
        from classifier import ClassifierError
        from classifier.training import MODEL_PATH, is_stale, train

        if if_stale and not is_stale():
            typer.echo(f"Model is up to date: {MODEL_PATH}")
            return
        try:
            train(log=typer.echo)
        except ClassifierError as exc:
            fail(str(exc))
        typer.echo(f"Saved {MODEL_PATH}")

    @app.command("evaluate")
    def evaluate_command(
        scorer: Annotated[
            Path | None,
            typer.Option(help="score_triage.py (default ../shared/tools/score_triage.py, or TRIAGE_SCORER)"),
        ] = None,
        dev_set: Annotated[
            Path | None, typer.Option(help="Dev set JSON Lines (default ../shared/dev_set/dev.jsonl)")
        ] = None,
        png: Annotated[Path | None, typer.Option(help="Where to write the confusion-matrix PNG")] = None,
        folds: Annotated[int, typer.Option(help="Per-source cross-validation folds (0 to skip)")] = 5,
    ) -> None:
        """Score the held-out split (beside a keyword baseline), per-source cross-validation and the dev set."""
        from classifier import ClassifierError, ensure_model
        from classifier.report import run_evaluation

        try:
            model = ensure_model(log=typer.echo)
            run_evaluation(model, scorer=scorer, dev_set=dev_set, png=png, folds=folds, out=typer.echo)
        except (ClassifierError, FileNotFoundError) as exc:
            fail(str(exc))

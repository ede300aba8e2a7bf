#!/usr/bin/env python3
"""Set up and run the product, or its tests, on a machine with only Python 3.11.

    python3.11 dev.py run      # set up, then start the web chat and staff console (SQLite)
    python3.11 dev.py test     # set up, then run every test

Setting up means: a virtual environment in .venv, the project and its test tools installed
into it (again only when pyproject.toml changes), and the classifier's model trained when it is
missing or older than the training data. Anything after the command is passed on
(`dev.py run --port 9000`, `dev.py test -k outbox`).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
STAMP = VENV / ".installed-from"


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def run(*args: str | Path, **kwargs) -> None:
    result = subprocess.run([str(a) for a in args], cwd=ROOT, **kwargs)
    if result.returncode:
        sys.exit(result.returncode)


def setup() -> None:
    if sys.version_info[:2] != (3, 11):
        sys.exit(
            f"Please run this with Python 3.11 (this is {sys.version.split()[0]}): python3.11 dev.py ..."
        )
    if not PYTHON.exists():
        say("Creating the virtual environment in .venv")
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not STAMP.exists() or STAMP.read_text().strip() != wanted:
        say("Installing the project and its tools (first time only; a few minutes)")
        run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
        run(PYTHON, "-m", "pip", "install", "--quiet", "-e", ".[test]")
        STAMP.write_text(wanted)
    say("Checking the classifier model (trains it when missing or out of date)")
    run(BIN / "triage", "train", "--if-stale")


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in ("run", "test", "setup"):
        sys.exit(__doc__)
    command, rest = argv[0], argv[1:]
    setup()
    if command == "run":
        os.execv(str(BIN / "triage"), [str(BIN / "triage"), "run", *rest])
    elif command == "test":
        os.execv(str(PYTHON), [str(PYTHON), "-m", "pytest", *rest])


if __name__ == "__main__":
    main(sys.argv[1:])

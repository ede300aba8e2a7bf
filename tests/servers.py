"""Start real server processes for tests: `triage run` on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_app(database_url: str, data_dir: Path, *extra_args: str, env: dict | None = None):
    """Yield (base_url, process) for `triage run` against the given database; stop it after."""
    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DATA_DIR": str(data_dir),
        "SECRET_KEY": "test-secret-key-for-servers",
        "SECURE_COOKIES": "false",
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        **(env or {}),
    }
    log = open(data_dir / f"server-{port}.log", "w+")  # noqa: SIM115 (kept open while the server runs)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--port", str(port), *extra_args],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=environment,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"server exited early:\n{log.read()}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start within 60 seconds")
            time.sleep(0.2)
        yield base, process, log
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()

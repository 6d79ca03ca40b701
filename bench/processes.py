"""The processes a bench measures against, each started the same way and waited for until it is
ready (or the bench stops with its output): Celery workers consuming a queue of their own
(bench/daily_close.py, bench/subsidy_run.py), gunicorn on a free local port (bench/api_lists.py).
`stop` ends either."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READY_SECONDS = 60.0


def _wait_ready(process: subprocess.Popen[bytes], ready: Callable[[], bool], what: str, output: str) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while not ready():
        if time.monotonic() > deadline or process.poll() is not None:
            stop(process)
            text = Path(output).read_text(errors="replace") if output else ""
            raise SystemExit(f"{what} did not start:\n{text}")
        time.sleep(0.2)


def start_workers(
    queue: str, count: int, log: Path, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`count` Celery worker processes (prefork) consuming only `queue`, their output in `log`;
    `env` adds to this process's environment (say, the DATABASE_URL of a copy of the book)."""
    environment = {**os.environ, **(env or {}), "CELERY_QUEUE": queue, "PYTHONUNBUFFERED": "1"}
    # The worker refuses the built-in secret key (config.safety); the bench signs nothing.
    environment.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    command = [
        *(sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue),
        *("--concurrency", str(count), "--without-gossip", "--without-mingle", "-l", "info"),
    ]
    with log.open("w") as sink:
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=sink, stderr=subprocess.STDOUT)
    _wait_ready(process, lambda: " ready." in log.read_text(errors="replace"), "the workers", str(log))
    return process


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


def start_gunicorn(workers: int, env: Mapping[str, str] | None = None) -> tuple[subprocess.Popen[bytes], int]:
    """gunicorn with `workers` workers serving config.wsgi on a free local port, in a session of its
    own (stop ends the workers with it); returns the process and the port."""
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        *("-w", str(workers), "-b", f"127.0.0.1:{port}", "--log-level", "warning", "config.wsgi"),
    ]
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **(env or {})}, start_new_session=True)
    _wait_ready(process, lambda: _listening(port), "gunicorn", "")
    return process, port


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (to its whole session when it leads one), then wait for it."""
    if process.poll() is None:
        if os.getpgid(process.pid) == process.pid:
            os.killpg(process.pid, signal.SIGTERM)
        else:
            process.terminate()
    process.wait(timeout=30)

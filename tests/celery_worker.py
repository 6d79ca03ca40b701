"""The one harness of the tests that run a REAL Celery worker process against the pytest test database
(marked `broker`: they need CELERY_BROKER_URL and a PostgreSQL DATABASE_URL and are skipped otherwise,
see tests/conftest.py).

A worker is `python -m celery -A config worker --pool=solo --concurrency=1 -Q <queue> --without-gossip
--without-mingle`, consuming only its test's queue (a unique CELERY_QUEUE) and reaching the test
database through a DATABASE_URL built from django.db.connection.settings_dict. Every worker started is
terminated at the end and its output printed (pytest shows it for a failed test). In the test process,
`sending_to(queue)` makes `.delay()` go through the broker to that queue instead of running in process.

The fixtures `queue`, `worker`, `workers` and `through_the_broker` are bound into a test module by name
(`queue, worker = celery_worker.queue, celery_worker.worker`) or imported into a conftest.py.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.db import connection, transaction
from django.db.models import Model

from config.celery import app

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 60.0  # seconds wait_until waits by default
POLL = 0.2  # seconds between two looks at a condition


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def new_queue() -> str:
    return f"test-worker-{uuid.uuid4().hex[:12]}"


def worker_database_url() -> str:
    """DATABASE_URL of the test database this process uses (NAME is the test database's name)."""
    s = connection.settings_dict
    user = quote(s["USER"] or "", safe="")
    password = f":{quote(s['PASSWORD'], safe='')}" if s.get("PASSWORD") else ""
    credentials = f"{user}{password}@" if user else ""
    host = s["HOST"] or "127.0.0.1"
    port = f":{s['PORT']}" if s.get("PORT") else ""
    return f"postgres://{credentials}{host}{port}/{quote(s['NAME'], safe='')}"


def worker_env(queue: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "CELERY_BROKER_URL": os.environ["CELERY_BROKER_URL"],
        "CELERY_QUEUE": queue,
        "DJANGO_SECURE_SSL_REDIRECT": "off",
        "DJANGO_SECRET_KEY": "test-worker-" + "k8Xq2mZ" * 8,  # a worker refuses the built-in key
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONUNBUFFERED": "1",
        **(extra or {}),
    }


def wait_until(
    predicate: Callable[[], bool],
    timeout: float = TIMEOUT,
    *,
    what: str = "the condition",
    worker: Worker | None = None,
) -> None:
    """Poll predicate() until it holds; fail after `timeout` seconds, or as soon as `worker` has exited,
    with the worker's output."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if worker is not None:
            assert worker.process.poll() is None, f"the worker exited early:\n{worker.output()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}" + (
            f":\n{worker.output()}" if worker is not None else ""
        )
        time.sleep(POLL)


class Worker:
    """One real worker process consuming only `queue`, its output in `log`. `env` adds to (or
    overrides) its environment; `config` sets Celery settings on its command line (after `--`)."""

    def __init__(
        self,
        queue: str,
        log: Path,
        *,
        env: Mapping[str, str] | None = None,
        config: Mapping[str, Any] | None = None,
        args: Sequence[str] = (),
    ) -> None:
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "-Q",
            queue,
            "--without-gossip",
            "--without-mingle",
            "-l",
            "info",
            *args,
        ]
        if config:
            command += ["--", *(f"{key}=(json){json.dumps(value)}" for key, value in config.items())]
        self.queue = queue
        self.log = log
        with log.open("w") as sink:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=worker_env(queue, env), stdout=sink, stderr=subprocess.STDOUT
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
        wait_until(condition, timeout, what=what, worker=self)

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, no acknowledgement, the open transaction is abandoned."""
        self.process.kill()
        self.process.wait(timeout=20)

    def stop(self) -> None:
        """Terminate it (warm shutdown, SIGKILL after 20 s) unless it has exited; print its output."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        print(f"--- worker output, {self.log.name} (exit {self.process.returncode}) ---\n{self.output()}")


def with_watchdog(log_dir: Path, every: float = 1.0) -> dict[str, Any]:
    """Worker options that embed Celery beat (-B) running the batch watchdog every `every` seconds
    from a schedule file of this test (not the database scheduler), for `Workers.start(**...)`."""
    return {
        "args": ["-B", "-S", "celery.beat:PersistentScheduler", "-s", str(log_dir / "beat-schedule")],
        "config": {"beat_schedule": {"watchdog": {"task": "fintech.batch_watchdog", "schedule": every}}},
    }


HEAL = {"BATCH_HEARTBEAT_SECONDS": "2"}  # the heartbeat deadline of a worker that heals


def lock_waiters() -> int:
    """How many sessions of the test database wait for a row lock (a worker held inside a chunk)."""
    with connection.cursor() as cursor:
        # Inside a transaction the statistics views are a snapshot taken at their first read.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


def kill_inside(workers: Workers, chunk: Model, before: Callable[[], bool]) -> None:
    """Start a worker, wait until `before` holds (say, the run's first chunk is done), then SIGKILL
    it inside `chunk`, where a row lock this test takes holds it."""
    with transaction.atomic():
        type(chunk)._default_manager.select_for_update().get(pk=chunk.pk)
        doomed = workers()
        doomed.wait_for(before, "the first chunk")
        doomed.wait_for(lambda: lock_waiters() > 0, "the worker to be inside the held chunk")
        doomed.kill()


def start_healer(workers: Workers, log_dir: Path) -> Worker:
    """A new worker that embeds beat running the watchdog every second, heartbeat deadline 2 s."""
    return workers(env=HEAL, **with_watchdog(log_dir))


class Workers:
    """The real workers of one test, all on one queue; `workers()` starts one more (say, a new worker
    after one was killed)."""

    def __init__(self, queue: str, log_dir: Path) -> None:
        self.queue = queue
        self.log_dir = log_dir
        self.started: list[Worker] = []

    def start(
        self,
        *,
        env: Mapping[str, str] | None = None,
        config: Mapping[str, Any] | None = None,
        args: Sequence[str] = (),
    ) -> Worker:
        log = self.log_dir / f"worker-{len(self.started) + 1}.log"
        worker = Worker(self.queue, log, env=env, config=config, args=args)
        self.started.append(worker)
        return worker

    __call__ = start

    def stop(self) -> None:
        for worker in self.started:
            worker.stop()


@contextmanager
def celery_workers(log_dir: Path, queue: str | None = None) -> Iterator[Workers]:
    """Real workers on `queue` (a new one by default), none started yet; every one started is
    terminated on exit and its output printed."""
    workers = Workers(queue or new_queue(), log_dir)
    try:
        yield workers
    finally:
        workers.stop()


@contextmanager
def sending_to(queue: str) -> Iterator[None]:
    """In this process, send tasks through the broker (not in process) to `queue`; restore afterwards."""
    eager, default_queue = app.conf.task_always_eager, app.conf.task_default_queue
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    try:
        yield
    finally:
        app.conf.task_always_eager = eager
        app.conf.task_default_queue = default_queue


# --- fixtures --------------------------------------------------------------------------------------


@pytest.fixture
def queue() -> str:
    return new_queue()


@pytest.fixture
def workers(queue: str, tmp_path: Path) -> Iterator[Workers]:
    """Start real workers on this test's queue with `workers()`; all terminated at the end."""
    with celery_workers(tmp_path, queue) as started:
        yield started


@pytest.fixture
def worker(queue: str, tmp_path: Path) -> Iterator[Worker]:
    """One real worker on this test's queue, terminated at the end."""
    with celery_workers(tmp_path, queue) as started:
        yield started.start()


@pytest.fixture
def through_the_broker(queue: str) -> Iterator[None]:
    """Send this test's tasks to the broker, on its queue."""
    with sending_to(queue):
        yield

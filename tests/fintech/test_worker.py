"""A task sent through the real broker is run by a real Celery worker process against the test
database (needs CELERY_BROKER_URL and a PostgreSQL DATABASE_URL; skipped otherwise)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from config.celery import app
from fintech.models import AuditLog, PatentStatus
from tests.fintech.helpers import make_patent

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _test_database_url() -> str:
    """DATABASE_URL of the test database this test process uses (NAME is the test DB's name)."""
    s = connection.settings_dict
    user = quote(s["USER"] or "", safe="")
    password = f":{quote(s['PASSWORD'], safe='')}" if s.get("PASSWORD") else ""
    credentials = f"{user}{password}@" if user else ""
    host = s["HOST"] or "127.0.0.1"
    port = f":{s['PORT']}" if s.get("PORT") else ""
    return f"postgres://{credentials}{host}{port}/{quote(s['NAME'], safe='')}"


@pytest.fixture
def queue() -> str:
    return f"test-worker-{uuid.uuid4().hex[:12]}"


class Worker:
    def __init__(self, process: subprocess.Popen[str], log: Path) -> None:
        self.process = process
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
        """Poll until condition() holds; fail (with the worker's output) after timeout seconds."""
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.process.poll() is None, f"the worker exited early:\n{self.output()}"
            assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{self.output()}"
            time.sleep(0.25)


@pytest.fixture
def worker(queue: str, tmp_path: Path) -> Iterator[Worker]:
    """A real worker consuming only this test's queue; always terminated, its output shown on failure."""
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "CELERY_BROKER_URL": os.environ["CELERY_BROKER_URL"],
        "CELERY_QUEUE": queue,
        "DJANGO_SECURE_SSL_REDIRECT": "off",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONUNBUFFERED": "1",
    }
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
    ]
    log = tmp_path / "worker.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT, text=True
        )
    try:
        yield Worker(process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        # pytest shows captured output only for failed tests.
        print(f"--- worker output (exit {process.returncode}) ---\n{log.read_text(errors='replace')}")


@pytest.fixture
def through_the_broker(queue: str) -> Iterator[None]:
    """Send tasks to the broker (not in process) on this test's queue; restore afterwards."""
    eager, default_queue = app.conf.task_always_eager, app.conf.task_default_queue
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    try:
        yield
    finally:
        app.conf.task_always_eager = eager
        app.conf.task_default_queue = default_queue


def test_patents_expire_runs_in_a_real_worker(worker, through_the_broker):
    # given an in-force patent whose term ended on 2024-03-31 and one still in force
    from fintech.tasks import patents_expire

    ended = make_patent(
        filing_date=date(2004, 4, 1),
        grant_date=date(2006, 4, 1),
        expires_on=date(2024, 3, 31),
        status=PatentStatus.IN_FORCE,
    )
    running = make_patent(
        filing_date=date(2020, 4, 1),
        grant_date=date(2022, 4, 1),
        expires_on=date(2040, 3, 31),
        status=PatentStatus.IN_FORCE,
    )

    # when the daily expiry task is sent through the broker for 2025-01-01
    patents_expire.delay("2025-01-01")

    # then the worker marks the ended patent expired and audits it, within a minute
    def expired() -> bool:
        ended.refresh_from_db()
        return (
            ended.status == PatentStatus.EXPIRED and AuditLog.objects.filter(action="patent.expire").exists()
        )

    worker.wait_for(expired, "the patent to expire")
    row = AuditLog.objects.get(action="patent.expire")
    assert (row.object_type, row.object_id) == ("fintech.patent", str(ended.pk))
    assert (row.from_state, row.to_state, row.reason) == ("in_force", "expired", "term ended 2024-03-31")
    assert row.actor is None
    running.refresh_from_db()
    assert running.status == PatentStatus.IN_FORCE


def test_patents_expire_is_idempotent_in_a_real_worker(worker, through_the_broker):
    # given a patent whose term has ended
    from fintech.tasks import patents_expire

    ended = make_patent(
        filing_date=date(2004, 4, 1),
        grant_date=date(2006, 4, 1),
        expires_on=date(2024, 3, 31),
        status=PatentStatus.IN_FORCE,
    )

    # when the task is delivered twice (a retry after a lost acknowledgement)
    patents_expire.delay("2025-01-01")
    patents_expire.delay("2025-01-01")
    # and a marker task is sent after them on the same single-process queue
    patents_expire.delay("2025-01-02")

    # then, once the worker has run all three, the patent was expired and audited exactly once
    worker.wait_for(lambda: worker.output().count(" succeeded in ") == 3, "three tasks to succeed")
    ended.refresh_from_db()
    assert ended.status == PatentStatus.EXPIRED
    assert AuditLog.objects.filter(action="patent.expire").count() == 1

"""Fixtures of the daily-close and default tests: a fast password hasher, the close run in process,
state snapshots for "nothing changed", and a real Celery worker for the broker tests (the pattern of
tests/fintech/test_worker.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.db import connection

from config.celery import app
from fintech.models import (
    Application,
    AuditLog,
    CloseRun,
    FundMovement,
    Installment,
    JournalEntry,
    Loan,
    LossEvent,
    Policy,
    Posting,
    Program,
    Repayment,
)
from fintech.services.close import close_run_dispatch
from tests.fintech.helpers import FAST_PASSWORD_HASHERS
from tests.loan_builder import Cast, active_loan, cast

ROOT = Path(__file__).resolve().parents[3]
D = Decimal

SNAPSHOT_MODELS = (
    Loan,
    Installment,
    Application,
    Policy,
    Program,
    LossEvent,
    FundMovement,
    AuditLog,
    JournalEntry,
    Posting,
    Repayment,
)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    # Every loan brings four users; the production hasher's cost is not what is tested here.
    settings.PASSWORD_HASHERS = FAST_PASSWORD_HASHERS


def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table the close and a default write, field by field."""
    return {m.__name__: list(m.objects.order_by("pk").values()) for m in SNAPSHOT_MODELS}


@pytest.fixture
def close(django_capture_on_commit_callbacks: Any) -> Callable[..., CloseRun]:
    """The close for a date as close_day dispatches it (one task per chunk, queued on commit, run in
    process), inside the test's transaction; returns the run as it then stands."""

    def run(as_of: date, chunk_size: int = 500) -> CloseRun:
        with django_capture_on_commit_callbacks(execute=True):
            started = close_run_dispatch(as_of, chunk_size=chunk_size)
        started.refresh_from_db()
        return started

    return run


def loan_on(disbursed_on: date, people: Cast | None = None, **kwargs: Any) -> Loan:
    """1,000,000.00 at 4.5 %, 12 months, equal principal (the builder's defaults) from `disbursed_on`."""
    loan, _ = active_loan(disbursed_on=disbursed_on, people=people or cast(), **kwargs)
    return loan


FEB_20 = date(2025, 2, 20)  # installments due 03-20, 04-20, 05-20, 06-20, 07-20, ... (12 months)


def five_loan_book() -> list[Loan]:
    """Five loans of one cast, as of 2025-07-01: two that default on 2025-06-19 (nothing paid,
    disbursed 02-20), two with installment 1 (due 06-10) unpaid (disbursed 05-10), one with nothing
    due yet (disbursed 06-10); in id order 02-20, 05-10, 06-10, 02-20, 05-10."""
    people = cast()
    return [
        loan_on(FEB_20, people),
        loan_on(date(2025, 5, 10), people),
        loan_on(date(2025, 6, 10), people),
        loan_on(FEB_20, people),
        loan_on(date(2025, 5, 10), people),
    ]


def statuses(loan: Loan) -> list[str]:
    return list(Installment.objects.filter(loan=loan).order_by("seq").values_list("status", flat=True))


# --- a real worker (broker tests) ----------------------------------------------------------------


def worker_database_url() -> str:
    """DATABASE_URL of the test database this process uses (NAME is the test database's name)."""
    s = connection.settings_dict
    user = quote(s["USER"] or "", safe="")
    password = f":{quote(s['PASSWORD'], safe='')}" if s.get("PASSWORD") else ""
    credentials = f"{user}{password}@" if user else ""
    host = s["HOST"] or "127.0.0.1"
    port = f":{s['PORT']}" if s.get("PORT") else ""
    return f"postgres://{credentials}{host}{port}/{quote(s['NAME'], safe='')}"


class Worker:
    def __init__(self, process: subprocess.Popen[str], log: Path) -> None:
        self.process = process
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.process.poll() is None, f"the worker exited early:\n{self.output()}"
            assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{self.output()}"
            time.sleep(0.25)


@pytest.fixture
def queue() -> str:
    return f"test-close-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def worker(queue: str, tmp_path: Path) -> Iterator[Worker]:
    """A real worker consuming only this test's queue; always terminated, its output shown on failure."""
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
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

"""Fixtures of the daily-close and default tests: a fast password hasher, the close run in process,
state snapshots for "nothing changed", and a real Celery worker for the broker tests (the fixtures of
tests/celery_worker.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

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
from tests.builders import Cast, active_loan, cast
from tests.celery_worker import queue, through_the_broker, worker  # noqa: F401  (fixtures)
from tests.fintech.helpers import FAST_PASSWORD_HASHERS

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

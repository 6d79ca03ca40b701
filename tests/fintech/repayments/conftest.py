"""The book the servicing tests work on, and the figures worked by hand from DOMAIN.md section 8.

The loan (tests.builders.active_loan): 1,000,000.00 at 4.5 % a year, 12 months, equal
principal, disbursed 2025-02-20; premium 1,000,000.00 x 2 % x 12 / 12 = 20,000.00 paid
2025-02-01. Installment k is due on the 20th, k months after; principal round(1,000,000 / 12) =
83,333.33 each, the last 1,000,000 - 11 x 83,333.33 = 83,333.37. Interest = round(opening
principal x 0.045 x days / 360):

    seq  due         days  opening        interest
    1    2025-03-20  28    1,000,000.00   3,500.00
    2    2025-04-20  31      916,666.67   3,552.08   (3,552.0833...)
    3    2025-05-20  30      833,333.34   3,125.00
    4    2025-06-20  31      750,000.01   2,906.25
    5    2025-07-20  30      666,666.68   2,500.00
    6    2025-08-20  31      583,333.35   2,260.42   (2,260.4167...)
    7    2025-09-20  31      500,000.02   1,937.50
    8    2025-10-20  30      416,666.69   1,562.50
    9    2025-11-20  31      333,333.36   1,291.67   (1,291.6668...)
    10   2025-12-20  30      250,000.03     937.50
    11   2026-01-20  31      166,666.70     645.83   (645.8335...)
    12   2026-02-20  31       83,333.37     322.92   (322.9168...)

Total interest 24,541.67; the loan owes 1,024,541.67 in all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from fintech.models import (
    AuditLog,
    Installment,
    JournalEntry,
    Loan,
    Posting,
    RepaymentFile,
    RepaymentFileLine,
    RepaymentReversal,
    User,
)
from fintech.models.repayments import Repayment, RepaymentAllocation
from tests.builders import Cast, active_loan
from tests.celery_worker import queue, through_the_broker, worker  # noqa: F401  (fixtures)
from tests.factories import OrganizationFactory, UserFactory
from tests.fintech.helpers import FAST_PASSWORD_HASHERS

D = Decimal
TOTAL_OWED = D("1024541.67")
DISBURSED_ON = date(2025, 2, 20)


@pytest.fixture(autouse=True)
def _fast_hasher(settings: Any) -> None:
    settings.PASSWORD_HASHERS = FAST_PASSWORD_HASHERS


@dataclass
class Book:
    loan: Loan
    people: Cast

    @property
    def bank(self) -> User:
        return self.people.bank


@pytest.fixture
def book(db: None) -> Book:
    """One active loan (see the module docstring for its figures); the origination services have
    booked its premium and its disbursement."""
    loan, people = active_loan()
    return Book(loan=Loan.objects.get(pk=loan.pk), people=people)


@pytest.fixture
def make_book(db: None) -> Callable[..., Book]:
    def make(**kwargs: Any) -> Book:
        loan, people = active_loan(**kwargs)
        return Book(loan=Loan.objects.get(pk=loan.pk), people=people)

    return make


@pytest.fixture
def regulator(db: None) -> User:
    return UserFactory(organization=OrganizationFactory(kind="regulator"), is_staff=True)


@pytest.fixture
def platform(db: None) -> User:
    return UserFactory(organization=OrganizationFactory(kind="platform"), is_staff=True)


def installments(loan: Loan) -> list[tuple[Any, ...]]:
    """What a repayment changes on the schedule, per installment."""
    return list(
        Installment.objects.filter(loan=loan)
        .order_by("seq")
        .values_list("seq", "principal_paid", "interest_paid", "paid_on", "status")
    )


def snapshot() -> dict[str, Any]:
    """Every row servicing writes: equal before and after a refused or replayed request."""
    counts = {
        m.__name__: m.objects.count()
        for m in (
            Repayment,
            RepaymentAllocation,
            RepaymentReversal,
            JournalEntry,
            Posting,
            RepaymentFile,
            RepaymentFileLine,
            AuditLog,
        )
    }
    counts["installments"] = list(
        Installment.objects.order_by("loan_id", "seq").values_list(
            "loan_id", "seq", "principal_paid", "interest_paid", "paid_on", "status"
        )
    )
    counts["loans"] = list(Loan.objects.order_by("id").values_list("id", "status", "settled_on"))
    counts["files"] = list(
        RepaymentFile.objects.order_by("id").values_list(
            "id", "status", "lines_done", "lines_applied", "lines_rejected", "errors"
        )
    )
    return counts


def legs(entry: JournalEntry) -> list[tuple[str, str, Decimal, int | None]]:
    return [
        (p.debit_account_id, p.credit_account_id, p.amount, p.organization_id)
        for p in entry.postings.order_by("id")
    ]

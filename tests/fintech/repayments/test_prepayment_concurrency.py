"""Races the loan's row lock must settle for prepayments: eight settlements of one loan at once,
eight partial prepayments in one accrual period, a settlement against a repayment. Each request
runs on its own connection, released together by a barrier. PostgreSQL only (SQLite serialises
writers and has no row locks)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from fintech.models import JournalEntry, Loan, Prepayment, Repayment
from tests.builders import active_loan
from tests.fintech.risk_pool.helpers import client_for
from tests.fintech.subsidies.helpers import pay

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
D = Decimal
N = 8


def _race(work: Callable[[int], Any]) -> list[Any]:
    barrier = threading.Barrier(N)
    results: list[Any] = [None] * N

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except Exception as exc:  # reported by the assertions, not lost in the thread
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    return results


@pytest.fixture
def loan_and_bank(transactional_db: None, django_db_serialized_rollback: None) -> tuple[Loan, Any]:
    # the servicing book's loan with installments 1-3 paid: payoff on 2025-06-05 is 751,500.01
    loan, people = active_loan()
    pay(loan, people, [1, 2, 3])
    return loan, people.bank


def test_eight_simultaneous_settlements_pay_once(loan_and_bank) -> None:
    loan, bank = loan_and_bank
    clients = [client_for(bank) for _ in range(N)]
    url = f"/api/v1/loans/{loan.pk}/prepayments/"
    body = {"kind": "settle", "amount": "751500.01", "value_date": "2025-06-05"}
    results = _race(lambda i: clients[i].post(url, body, format="json").status_code)
    # one settles the loan; the seven others meet a settled loan (409)
    assert Counter(results) == {201: 1, 409: N - 1}, results
    assert Prepayment.objects.count() == 1 and Repayment.objects.filter(loan=loan).count() == 4
    assert JournalEntry.objects.filter(kind="repayment", loan=loan).count() == 4


def test_eight_partial_prepayments_in_one_period_one_wins(loan_and_bank) -> None:
    loan, bank = loan_and_bank
    clients = [client_for(bank) for _ in range(N)]
    url = f"/api/v1/loans/{loan.pk}/prepayments/"
    body = {"kind": "partial", "amount": "10000.00", "value_date": "2025-06-05", "recast": "keep_term"}
    results = _race(lambda i: clients[i].post(url, body, format="json").status_code)
    # one prepayment per accrual period: the others see it under the lock (409)
    assert Counter(results) == {201: 1, 409: N - 1}, results
    assert Loan.objects.get(pk=loan.pk).schedule_version == 2
    assert JournalEntry.objects.filter(kind="prepayment", loan=loan).count() == 1


def test_the_same_idempotency_key_from_eight_retries_pays_once(loan_and_bank) -> None:
    loan, bank = loan_and_bank
    clients = [client_for(bank) for _ in range(N)]
    url = f"/api/v1/loans/{loan.pk}/prepayments/"
    body = {"kind": "settle", "amount": "751500.01", "value_date": "2025-06-05"}
    results = _race(
        lambda i: clients[i].post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="same-retry").status_code
    )
    # every retry answers the first response; one settlement exists
    assert Counter(results) == {201: N}, results
    assert Prepayment.objects.count() == 1

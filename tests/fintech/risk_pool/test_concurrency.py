"""Races the loss event's row lock must settle: recoveries and settlements of one loss released
together by a barrier, each on its own connection. PostgreSQL only (SQLite serialises writers and
has no row locks)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from fintech.models import JournalEntry, Recovery, Settlement
from fintech.services.risk_pool import settlement_record

from .helpers import World, client_for, defaulted_world, make_user

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
D = Decimal
N = 8


@pytest.fixture
def dworld(transactional_db: None, django_db_serialized_rollback: None) -> World:
    world, _ = defaulted_world()
    return world


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


def test_settlements_racing_for_the_same_share_never_overrun_it(dworld: World) -> None:
    # given the insurer's share of 507,000.00 and eight insurer clients each settling 100,000.00
    clients = [client_for(dworld.insurer) for _ in range(N)]
    url = f"/api/v1/loans/{dworld.loan.pk}/settlements/"

    def settle(i: int) -> int:
        body = {"party": "insurer", "amount": "100000.00", "paid_on": "2025-08-20", "reference": f"R{i}"}
        return clients[i].post(url, body, format="json").status_code

    # when all eight post at once
    results = _race(settle)

    # then five fit (500,000.00) and three are refused: the lock made each see the others
    assert Counter(results) == {201: 5, 400: 3}, results
    assert sum(s.amount for s in Settlement.objects.all()) == D("500000.00")


def test_recoveries_racing_for_the_rest_of_the_loss_never_exceed_it(dworld: World) -> None:
    # given the loss of 1,014,000.00 and eight bank clients each recovering 200,000.00
    clients = [client_for(dworld.bank) for _ in range(N)]
    url = f"/api/v1/loans/{dworld.loan.pk}/recoveries/"

    def recover(i: int) -> int:
        body = {"amount": "200000.00", "received_on": "2025-08-15", "source": f"lot {i}"}
        return clients[i].post(url, body, format="json").status_code

    results = _race(recover)

    # then five fit (1,000,000.00), three are refused
    assert Counter(results) == {201: 5, 400: 3}, results
    assert sum(r.amount for r in Recovery.objects.all()) == D("1000000.00")


def test_one_of_many_simultaneous_approvals_wins(dworld: World) -> None:
    # given a pending settlement and eight other members of the insurer
    settlement = settlement_record(
        actor=dworld.insurer, loan_id=dworld.loan.pk, party="insurer", amount=D("1000.00"),
        paid_on=date(2025, 8, 20), reference="ONE",
    )  # fmt: skip
    clients = [client_for(make_user(dworld.insurer.organization)) for _ in range(N)]  # type: ignore[arg-type]

    # when they all approve at once
    results = _race(lambda i: clients[i].post(f"/api/v1/settlements/{settlement.pk}/approve/").status_code)

    # then one approval, seven 409, and one ledger entry
    assert Counter(results) == {200: 1, 409: N - 1}, results
    assert JournalEntry.objects.filter(kind="settlement").count() == 1

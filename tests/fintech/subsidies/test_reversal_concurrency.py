"""A repayment reversal meeting a subsidy run that is finishing (DOMAIN.md 8a, reversal after a
subsidy): the run's finish locks the run, then caps and announces its entitlements; the reversal
cancels the entitlement of the installment it made unpaid and adjusts the run's total. Both must
take the run before the entitlement: in the other order each waits for the other and PostgreSQL
aborts one (deadlock detected). PostgreSQL only (SQLite serialises writers).

June 2024 loan (1,000,000.00 at 4.5 %, interest monthly), figures by hand in test_cap.py: 2024Q3
#1 718.75, #2 735.76, #3 721.18 = 2,175.69. Cap 1,500.00: no chunk can announce them (the SME's cap
is in play), so the finish cuts #3 to 1,500.00 - 718.75 - 735.76 = 45.49 and announces all three.
"""

from __future__ import annotations

import threading
import time
from datetime import date
from typing import Any

import pytest
from django.db import connection

from fintech.models import Repayment, SubsidyEntitlement, SubsidyRun, SubsidyRunChunk
from fintech.services import batch
from fintech.services import subsidies as services
from fintech.services.repayments import repayment_reverse
from fintech.services.subsidies import subsidy_chunk_compute, subsidy_run_start
from tests.builders import active_loan
from tests.concurrency import at_once
from tests.factories import wuhan_program

from .helpers import INTEREST_ONLY, D, amounts, pay, regulator, regulator_org, set_program

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

WAIT = 60  # seconds any one step may take before the test gives up


def _someone_waits_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        (waiting,) = cursor.fetchone()
    return bool(waiting)


def test_a_reversal_while_the_run_finishes_waits_its_turn_and_both_complete(
    transactional_db: None, django_db_serialized_rollback: None, monkeypatch: Any
) -> None:
    # given a cap of 1,500.00, the June loan with installments 1-3 paid on time (one repayment
    # each) and a 2024Q3 run whose one chunk has computed them, its finish holding the run's lock
    set_program(annual_subsidy_cap=D("1500.00"))
    loan, people = active_loan(
        method=INTEREST_ONLY, disbursed_on=date(2024, 6, 1), valuation_on=date(2024, 5, 20)
    )
    pay(loan, people, [1, 2, 3])
    third = Repayment.objects.filter(loan=loan).order_by("-id").values_list("pk", flat=True).first()
    monkeypatch.setattr(batch, "chunks_enqueue", lambda job, ids: None)  # the thread below runs it
    run = subsidy_run_start(actor=regulator(regulator_org()), program_id=wuhan_program().pk, period="2024Q3")
    (chunk,) = SubsidyRunChunk.objects.filter(run=run).values_list("pk", flat=True)

    original = services._finish
    run_held, release = threading.Event(), threading.Event()
    seen: list[str] = []

    def finish(locked: SubsidyRun) -> None:
        run_held.set()  # the programme and the run are locked (subsidy_run_finish)
        assert release.wait(WAIT), "the finish was never let go on"
        original(locked)

    def reverse() -> int:
        assert run_held.wait(WAIT), "the run never reached its finish"
        return repayment_reverse(
            actor=people.bank, repayment_id=third, reversed_on=date(2024, 9, 2), reason="bounced"
        ).pk

    def referee() -> None:
        """Lets the finish go on once the reversal is seen waiting for a lock (the run's)."""
        assert run_held.wait(WAIT), "the run never reached its finish"
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and not _someone_waits_on_a_lock():
            time.sleep(0.02)
        seen.append("reversal waiting on a lock" if time.monotonic() < deadline else "nobody waited")
        release.set()

    monkeypatch.setattr(services, "_finish", finish)

    # when the reversal of #3's repayment comes while the run finishes
    results = at_once([lambda: subsidy_chunk_compute(chunk), reverse, referee])
    print(f"\nreferee: {seen}; chunk+finish, reversal, referee: {results}")

    # then neither is aborted: the reversal waited for the run's commit
    assert results[0] is None and isinstance(results[1], int) and results[2] is None, results
    assert seen == ["reversal waiting on a lock"]
    # and the finish capped #3 to 45.49 (total 1,500.00), then the reversal cancelled it and took it
    # off the computed run's total: 1,500.00 - 45.49 = 1,454.51
    run.refresh_from_db()
    assert run.status == "computed"
    assert amounts(run) == [
        (loan.pk, 1, "interest", D("718.75"), D("718.75"), False),
        (loan.pk, 2, "interest", D("735.76"), D("735.76"), False),
        (loan.pk, 3, "interest", D("721.18"), D("45.49"), True),
    ]
    statuses = dict(SubsidyEntitlement.objects.filter(run=run).values_list("installment__seq", "status"))
    assert statuses == {1: "computed", 2: "computed", 3: "cancelled"}
    assert run.interest_total == D("1454.51")

"""A repayment reversal meeting a subsidy chunk computing the same loan (DOMAIN.md 8a): the chunk
reads the installment as paid on time and writes its entitlement; the reversal makes it unpaid and
cancels the entitlements it finds. Each must see the other's commit, or an entitlement stands on an
unpaid installment: the chunk takes FOR SHARE on its loans first, which waits for the reversal's
FOR NO KEY UPDATE on the loan, and makes a later reversal wait for the chunk's commit. PostgreSQL
only (SQLite serialises writers).

June 2024 loan, 1,000,000.00 at 4.5 %, interest monthly (the principal at maturity), disbursed
2024-06-01, subsidy 25 % of the interest at min(4.5 %, LPR 1Y) / 360 a day; LPR 3.45 % to
2024-07-21, 3.35 % from 2024-07-22. 2024Q3 holds the installments due 07-01, 08-01 and 09-01:
    #1 06-01..07-01, 30 days at 3.45 %: 1,000,000.00 x 1.035 / 360 x 25 % = 718.75
    #2 07-01..08-01, 21 days at 3.45 % + 10 at 3.35 % = 1.0595: 1,059,500 / 1,440 = 735.7638 -> 735.76
    #3 08-01..09-01, 31 days at 3.35 % = 1.0385: 1,038,500 / 1,440 = 721.1805 -> 721.18
The cap (500,000.00 a year) is far off. Reversed, #3 earns nothing: the run's total is
718.75 + 735.76 = 1,454.51.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from django.db import connection

from fintech.models import Repayment, SubsidyEntitlement, SubsidyRun, SubsidyRunChunk
from fintech.services import batch
from fintech.services import repayments as repayment_services
from fintech.services import subsidies as services
from fintech.services.repayments import repayment_reverse
from fintech.services.subsidies import subsidy_chunk_compute, subsidy_run_start
from tests.builders import Cast, active_loan
from tests.concurrency import at_once
from tests.factories import wuhan_program

from .helpers import INTEREST_ONLY, D, amounts, pay, regulator, regulator_org

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

WAIT = 60  # seconds any one step may take before the test gives up


def _waiting_statements() -> list[str]:
    """The statements of this database's other sessions waiting for a lock (pg_locks)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.query FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE NOT l.granted AND a.datname = current_database() AND a.pid <> pg_backend_pid()"
        )
        return [query for (query,) in cursor.fetchall()]


def _referee(
    started: threading.Event, done: threading.Event, release: threading.Event, seen: list[str]
) -> None:
    """Once `started`: record the first statement seen waiting for a lock (or that the other side
    finished without waiting), then let the holder go on."""
    assert started.wait(WAIT), "the holder never got its locks"
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline and not done.is_set():
        waiting = _waiting_statements()
        if waiting:
            seen.append(waiting[0])
            break
        time.sleep(0.02)
    else:
        seen.append("finished without waiting" if done.is_set() else "nobody waited")
    release.set()


def _setting(monkeypatch: Any) -> tuple[Any, Cast, SubsidyRun, int, int]:
    """The loan with #1-#3 paid on time (one repayment each), #3's repayment, and a 2024Q3 run
    whose one chunk the test runs itself."""
    loan, people = active_loan(
        method=INTEREST_ONLY, disbursed_on=date(2024, 6, 1), valuation_on=date(2024, 5, 20)
    )
    pay(loan, people, [1, 2, 3])
    third = Repayment.objects.filter(loan=loan).order_by("-id").values_list("pk", flat=True).first()
    assert third is not None
    monkeypatch.setattr(batch, "chunks_enqueue", lambda job, ids: None)  # the test runs the chunk
    run = subsidy_run_start(actor=regulator(regulator_org()), program_id=wuhan_program().pk, period="2024Q3")
    (chunk,) = SubsidyRunChunk.objects.filter(run=run).values_list("pk", flat=True)
    return loan, people, run, chunk, third


def _after(event: threading.Event, job: Callable[[], Any], done: threading.Event) -> Callable[[], Any]:
    def run() -> Any:
        assert event.wait(WAIT), "the other side never got its locks"
        try:
            return job()
        finally:
            done.set()

    return run


def test_a_chunk_starting_while_a_reversal_is_open_waits_and_skips_the_reversed_installment(
    transactional_db: None, django_db_serialized_rollback: None, monkeypatch: Any
) -> None:
    # given the reversal of #3's repayment holding its transaction open, the installment made
    # unpaid and no entitlement found to cancel (the chunk has written none yet)
    loan, people, run, chunk, third = _setting(monkeypatch)
    held, release, chunk_done = threading.Event(), threading.Event(), threading.Event()
    seen: list[str] = []
    unwind = repayment_services.entitlements_unwind

    def unwind_and_hold(**kwargs: Any) -> list[str]:
        found = unwind(**kwargs)
        held.set()
        assert release.wait(WAIT), "the reversal was never let go on"
        return found

    monkeypatch.setattr(repayment_services, "entitlements_unwind", unwind_and_hold)

    def reverse() -> int:
        return repayment_reverse(
            actor=people.bank, repayment_id=third, reversed_on=date(2024, 9, 2), reason="bounced"
        ).pk

    # when the run's chunk starts meanwhile
    results = at_once(
        [
            reverse,
            _after(held, lambda: subsidy_chunk_compute(chunk), chunk_done),
            lambda: _referee(held, chunk_done, release, seen),
        ]
    )
    print(f"\nreferee: {seen}; reversal, chunk, referee: {results}")

    # then both completed, and the chunk saw #3 unpaid: #1 718.75 and #2 735.76 only, 1,454.51
    assert isinstance(results[0], int) and results[1] is None and results[2] is None, results
    run.refresh_from_db()
    assert run.status == "computed"
    assert amounts(run) == [
        (loan.pk, 1, "interest", D("718.75"), D("718.75"), False),
        (loan.pk, 2, "interest", D("735.76"), D("735.76"), False),
    ]
    assert run.interest_total == D("1454.51")
    # because the chunk waited for the reversal's loan lock (its FOR SHARE, seen in pg_locks)
    assert len(seen) == 1 and "FOR SHARE" in seen[0], seen


def test_a_reversal_starting_while_a_chunk_is_open_waits_and_cancels_its_entitlement(
    transactional_db: None, django_db_serialized_rollback: None, monkeypatch: Any
) -> None:
    # given the run's chunk holding its transaction right after its INSERT (#1-#3 written)
    loan, people, run, chunk, third = _setting(monkeypatch)
    inserted, release = threading.Event(), threading.Event()
    reversal_done = threading.Event()
    seen: list[str] = []
    announce, finish = services._announce_settled, services.subsidy_run_finish

    def hold_then_announce(*args: Any) -> int:
        inserted.set()
        assert release.wait(WAIT), "the chunk was never let go on"
        return announce(*args)

    def finish_after_the_reversal(run_id: int) -> None:
        # the run's completion once the reversal has committed: one order of the two, every time
        assert reversal_done.wait(WAIT), "the reversal never ended"
        finish(run_id)

    monkeypatch.setattr(services, "_announce_settled", hold_then_announce)
    monkeypatch.setattr(services, "subsidy_run_finish", finish_after_the_reversal)

    def reverse() -> int:
        return repayment_reverse(
            actor=people.bank, repayment_id=third, reversed_on=date(2024, 9, 2), reason="bounced"
        ).pk

    # when the reversal of #3's repayment comes meanwhile
    results = at_once(
        [
            lambda: subsidy_chunk_compute(chunk),
            _after(inserted, reverse, reversal_done),
            lambda: _referee(inserted, reversal_done, release, seen),
        ]
    )
    print(f"\nreferee: {seen}; chunk, reversal, referee: {results}")

    # then both completed, and the reversal found the chunk's entitlement of #3 (721.18) and
    # cancelled it, with the reason
    assert results[0] is None and isinstance(results[1], int) and results[2] is None, results
    run.refresh_from_db()
    assert run.status == "computed"
    assert amounts(run) == [
        (loan.pk, 1, "interest", D("718.75"), D("718.75"), False),
        (loan.pk, 2, "interest", D("735.76"), D("735.76"), False),
        (loan.pk, 3, "interest", D("721.18"), D("721.18"), False),
    ]
    third_row = SubsidyEntitlement.objects.get(run=run, installment__seq=3)
    assert third_row.status == "cancelled"
    assert third_row.cancel_reason == f"repayment {third} reversed on 2024-09-02: bounced"
    statuses = dict(SubsidyEntitlement.objects.filter(run=run).values_list("installment__seq", "status"))
    assert statuses == {1: "computed", 2: "computed", 3: "cancelled"}
    # and the run's total leaves it out: 718.75 + 735.76 = 1,454.51
    assert run.interest_total == D("1454.51")
    # because the reversal waited for the chunk's commit (its loan lock, seen in pg_locks)
    assert len(seen) == 1 and "FOR NO KEY UPDATE" in seen[0], seen

"""Two runs of one programme and year computing at once (DOMAIN.md section 9, the annual cap): a
chunk announces the entitlements no cap can cut any more, judging by what the SME already holds
this year, and a run's completion caps what its chunks could not announce, counting what the other
runs announced. The cap must never read a snapshot that misses another run's uncommitted
announcement: announcers of a programme and year take turns (services.subsidies._announcers_lock,
held to the commit): chunks take it shared, a completion alone.

The test drives the dangerous interleaving on two connections: the 2024Q3 chunk announces its
amounts and waits before its commit; only then is a 2024Q4 run started and computed (its chunk
announces nothing while Q3 computes; its completion caps). Without the turn-taking, Q4's cap reads
a snapshot without Q3's announcement and grants Q4 in full; with it, Q4's completion waits for
Q3's commit and sees it. PostgreSQL only (SQLite serialises writers: the interleaving cannot
happen there).

June 2024 loan (1,000,000.00 at 4.5 %, interest monthly, disbursed 2024-06-01), figures by hand in
test_cap.py: Q3 #1 718.75, #2 735.76, #3 721.18 = 2,175.69; Q4 #4 697.92, #5 702.08, #6 645.83 =
2,045.83. Cap 2,500.00: either quarter alone fits in full, both together (4,221.52) do not.
"""

from __future__ import annotations

import threading
import time
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from fintech.models import SubsidyEntitlement, SubsidyRun, SubsidyRunChunk
from fintech.services import batch
from fintech.services import subsidies as services
from fintech.services.subsidies import subsidy_chunk_compute, subsidy_run_start
from tests.builders import active_loan
from tests.concurrency import at_once
from tests.factories import wuhan_program

from .helpers import INTEREST_ONLY, D, amounts, pay, regulator, regulator_org, set_program

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

WAIT = 60  # seconds any one step may take before the test gives up


def _announcers_lock_awaited() -> bool:
    """Another backend blocked on the announcers' advisory lock (pg_locks: an advisory lock of two
    int4 keys has the first in classid)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid = %s",
            [services._ANNOUNCE_NAMESPACE],
        )
        (waiting,) = cursor.fetchone()
    return bool(waiting)


def test_two_runs_of_one_year_announcing_at_once_never_promise_more_than_the_cap(
    transactional_db: None, django_db_serialized_rollback: None, monkeypatch: Any
) -> None:
    # given a cap of 2,500.00, the June loan with installments 1-6 paid on time, and a 2024Q3 run
    # started (one chunk, not yet computed)
    set_program(annual_subsidy_cap=D("2500.00"))
    loan, people = active_loan(
        method=INTEREST_ONLY, disbursed_on=date(2024, 6, 1), valuation_on=date(2024, 5, 20)
    )
    pay(loan, people, [1, 2, 3, 4, 5, 6])
    starter = regulator(regulator_org())
    monkeypatch.setattr(batch, "chunks_enqueue", lambda job, ids: None)  # the threads below run them
    q3 = subsidy_run_start(actor=starter, program_id=wuhan_program().pk, period="2024Q3")
    (q3_chunk,) = SubsidyRunChunk.objects.filter(run=q3).values_list("pk", flat=True)

    # the interleaving: Q3's chunk announces and holds its transaction open; a Q4 run is started
    # and computed meanwhile (its chunk, then its completion with the cap)
    original = services._announce_settled
    q3_announced, q4_done, release_q3 = threading.Event(), threading.Event(), threading.Event()
    seen: list[str] = []

    def announce(run: SubsidyRun, chunk: SubsidyRunChunk, ids: Any) -> int:
        count = original(run, chunk, ids)
        if run.pk == q3.pk:
            q3_announced.set()
            assert release_q3.wait(WAIT), "Q3's chunk was never let commit"
        return count

    def q4_run() -> int:
        assert q3_announced.wait(WAIT), "Q3's chunk never announced"
        q4 = subsidy_run_start(actor=starter, program_id=wuhan_program().pk, period="2024Q4")
        (chunk,) = SubsidyRunChunk.objects.filter(run=q4).values_list("pk", flat=True)
        subsidy_chunk_compute(chunk)  # the last chunk: the completion follows in this call
        q4_done.set()
        return q4.pk

    def referee() -> None:
        """Lets Q3's chunk commit once Q4's run has finished (no turn-taking) or Q4's completion is
        seen waiting on the announcers' lock (turn-taking)."""
        assert q3_announced.wait(WAIT), "Q3's chunk never announced"
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if q4_done.is_set():
                seen.append("Q4 was capped while Q3's announcement was uncommitted")
                break
            if _announcers_lock_awaited():
                seen.append("Q4's completion waited on the announcers' lock for Q3's commit")
                break
            time.sleep(0.02)
        else:
            seen.append("neither within the time allowed")
        release_q3.set()

    monkeypatch.setattr(services, "_announce_settled", announce)

    # when Q3's chunk and the Q4 run compute at once (each then finishes its run: the cap, the totals)
    results = at_once([lambda: subsidy_chunk_compute(q3_chunk), q4_run, referee])
    q4 = SubsidyRun.objects.get(pk=results[1]) if isinstance(results[1], int) else None

    total = sum(
        SubsidyEntitlement.objects.filter(sme=loan.sme_id, year=2024)
        .exclude(status="cancelled")
        .values_list("amount", flat=True),
        Decimal("0.00"),
    )
    announced = SubsidyEntitlement.objects.filter(sme=loan.sme_id, announced=True).count()
    print(f"\ninterleaving: {seen}; SME's 2024 total {total} (cap 2500.00), {announced} announced")

    # then both runs finish (no error in any thread)
    assert results[0] is None and results[2] is None and q4 is not None, results
    q3.refresh_from_db()
    assert (q3.status, q4.status) == ("computed", "computed")
    # and the SME's year never exceeds the cap: Q3's chunk announced first and Q3 keeps its
    # 2,175.69; Q4's chunk announced nothing (Q3 computing), and Q4's cap, after Q3's commit, granted
    # what was left, 2,500.00 - 2,175.69 = 324.31, to #4 (capped) and 0.00 to #5 and #6
    assert total <= D("2500.00"), f"the SME was promised {total}, over the 2,500.00 cap"
    assert amounts(q3) == [
        (loan.pk, 1, "interest", D("718.75"), D("718.75"), False),
        (loan.pk, 2, "interest", D("735.76"), D("735.76"), False),
        (loan.pk, 3, "interest", D("721.18"), D("721.18"), False),
    ]
    assert amounts(q4) == [
        (loan.pk, 4, "interest", D("697.92"), D("324.31"), True),
        (loan.pk, 5, "interest", D("702.08"), D("0.00"), True),
        (loan.pk, 6, "interest", D("645.83"), D("0.00"), True),
    ]
    assert (q3.interest_total, q4.interest_total) == (D("2175.69"), D("324.31"))
    assert total == D("2500.00")
    assert seen == ["Q4's completion waited on the announcers' lock for Q3's commit"]

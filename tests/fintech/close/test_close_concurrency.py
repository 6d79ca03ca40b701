"""A repayment arriving while the close works on its loan (PostgreSQL: row locks). The close locks
each chunk's applications, loans and installments in the order every repayment takes, so the two
are serialised: the repayment either went first and the close saw it, or waited and found the loan
defaulted (409). Never a half of each, never a deadlock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction

from fintech.models import AuditLog, CloseChunk, CloseRun, Installment, Loan, LossEvent, WatchRun
from fintech.models.repayments import Repayment
from fintech.services import close as close_service
from fintech.services import repayments
from fintech.services.close import close_chunk_process, close_day, close_run_start
from fintech.services.watch import watch_run_reserve, watch_run_start
from tests.builders import cast
from tests.concurrency import at_once

from .conftest import FEB_20, five_loan_book, loan_on

D = Decimal
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

AS_OF = date(2025, 6, 19)


def test_repayments_racing_the_close_leave_every_loan_consistent(client_for, monkeypatch):
    # given, at 1,000,000.00, 4.5 %, equal principal:
    # three loans disbursed 2025-02-20 whose installment 1 (due 03-20: 83,333.33 + 3,500.00 =
    # 86,833.33) is unpaid, so the close for 2025-06-19 defaults them (03-20 + 91 days), and
    # three loans disbursed 2025-05-18 whose installment 1 falls due on 2025-06-18 (83,333.33 +
    # 1,000,000 x 0.045 x 31 / 360 = 3,875.00, so 87,208.33), so the close marks it overdue
    people = cast()
    crossing = [loan_on(FEB_20, people) for _ in range(3)]
    due_yesterday = [loan_on(date(2025, 5, 18), people) for _ in range(3)]
    clients = [client_for(people.bank) for _ in range(6)]
    # Two interleavings are pinned down, the rest race freely:
    # - the repayment of crossing[0] holds its locks (mid-allocation) when the close reaches it;
    # - the repayment of crossing[2] arrives while the close holds crossing[2]'s chunk (mid-default).
    repayment_holds, close_holds = threading.Event(), threading.Event()
    real_allocate, real_declare = repayments.allocate, close_service.loan_default_declare

    def slow_allocate(rows: Any, amount: Any) -> Any:
        if rows and rows[0].loan_id == crossing[0].pk:
            repayment_holds.set()
            time.sleep(0.5)
        return real_allocate(rows, amount)

    def slow_declare(**kwargs: Any) -> Any:
        if kwargs["loan_id"] == crossing[2].pk:
            close_holds.set()
            time.sleep(0.5)
        return real_declare(**kwargs)

    monkeypatch.setattr(repayments, "allocate", slow_allocate)
    monkeypatch.setattr(close_service, "loan_default_declare", slow_declare)

    def pay(
        i: int, loan: Loan, amount: str, paid_on: str, after: threading.Event | None = None
    ) -> Callable[[], int]:
        def post() -> int:
            if after is not None:
                assert after.wait(timeout=30)
            response = clients[i].post(
                f"/api/v1/loans/{loan.pk}/repayments/", {"amount": amount, "paid_on": paid_on}, format="json"
            )
            return int(response.status_code)

        return post

    def close_after_repayment_holds() -> CloseRun:
        assert repayment_holds.wait(timeout=30)
        return close_day(AS_OF, chunk_size=2, poll=0.05)

    # when the close for 2025-06-19 (chunks of two loans) and a repayment of installment 1 of each
    # loan run at once: late (value date 06-19) for the crossing loans, on time (06-18) for the others
    jobs: list[Callable[[], Any]] = [
        close_after_repayment_holds,
        pay(0, crossing[0], "86833.33", "2025-06-19"),
        pay(1, crossing[1], "86833.33", "2025-06-19"),
        pay(2, crossing[2], "86833.33", "2025-06-19", after=close_holds),
    ]
    jobs += [pay(3 + i, loan, "87208.33", "2025-06-18") for i, loan in enumerate(due_yesterday)]
    results = at_once(jobs)

    # then the close finished (no deadlock, no failed chunk)
    run = results[0]
    assert isinstance(run, CloseRun), run
    assert (run.status, run.loans_closed, run.error) == ("done", 6, "")
    # and the close waited for the repayment it met (201), the repayment for the close it met (409)
    assert (results[1], results[3]) == (201, 409)
    # and each crossing loan is in one of the two consistent states
    for loan, status in zip(crossing, results[1:4], strict=True):
        loan.refresh_from_db()
        rows = list(Installment.objects.filter(loan=loan).order_by("seq").values_list("status", "paid_on"))
        if status == 201:
            # the repayment went first: installment 1 paid late, the loan not defaulted (its oldest
            # unpaid installment is now 2, due 04-20: 91 days later is 07-20), 2 and 3 overdue
            assert (loan.status, LossEvent.objects.filter(loan=loan).exists()) == ("active", False)
            assert rows[:4] == [
                ("paid_late", date(2025, 6, 19)),
                ("overdue", None),
                ("overdue", None),
                ("due", None),
            ]
        else:
            # the close went first: the loan defaulted on 06-19, the repayment was refused and left nothing
            assert status == 409, status
            assert (loan.status, loan.defaulted_on) == ("defaulted", AS_OF)
            assert not Repayment.objects.filter(loan=loan).exists()
            assert LossEvent.objects.get(loan=loan).loss_amount == D(
                "1012989.58"
            )  # nothing paid: see test_close
            assert [s for s, _ in rows[:4]] == ["overdue", "overdue", "overdue", "due"]
        assert loan.last_closed_on == AS_OF
    # and the on-time repayments were applied whichever came first: never left "overdue"
    assert results[4:] == [201, 201, 201]
    for loan in due_yesterday:
        first = Installment.objects.get(loan=loan, seq=1)
        assert (first.status, first.paid_on) == ("paid", date(2025, 6, 18))
        assert Loan.objects.get(pk=loan.pk).status == "active"


def test_resuming_while_the_last_chunk_finishes_waits_for_it_and_the_run_stays_done(monkeypatch):
    # given the five-loan book and the close for 2025-07-01 started as one chunk, whose worker is
    # slow in the middle of its first default (holding the chunk's locks)
    five_loan_book()
    run = close_run_start(date(2025, 7, 1), chunk_size=5)
    chunk = CloseChunk.objects.get(run=run)
    in_chunk = threading.Event()
    real_declare = close_service.loan_default_declare

    def slow_declare(**kwargs: Any) -> Any:
        in_chunk.set()
        time.sleep(0.5)
        return real_declare(**kwargs)

    monkeypatch.setattr(close_service, "loan_default_declare", slow_declare)

    def operator_resumes() -> CloseRun:
        assert in_chunk.wait(timeout=30)
        return close_run_start(date(2025, 7, 1), chunk_size=5)

    # when an operator starts the close for the same date meanwhile (it resumes the unfinished run)
    results = at_once([lambda: close_chunk_process(chunk.pk), operator_resumes])

    # then neither deadlocked: the resume waited for the chunk, found the run done, and left it done
    assert results[0] is None, results[0]
    resumed = results[1]
    assert isinstance(resumed, CloseRun), resumed
    assert (resumed.pk, resumed.status, resumed.chunks_done, resumed.defaults_count) == (run.pk, "done", 1, 2)
    assert list(CloseChunk.objects.filter(run=run).values_list("status", flat=True)) == ["done"]


def test_an_operators_watch_start_racing_the_close_finish_that_reserves_it_makes_one_run():
    # given the five-loan book, and a close of 2025-07-01 in its finish: the date's watch run
    # created pending in its transaction, which stays open half a second more
    five_loan_book()
    reserved = threading.Event()

    def close_finish() -> WatchRun:
        with transaction.atomic():
            run = watch_run_reserve(date(2025, 7, 1))
            reserved.set()
            time.sleep(0.5)
        return run

    def operator_starts() -> WatchRun:
        assert reserved.wait(timeout=30)
        return watch_run_start(date(2025, 7, 1))

    # when an operator starts the watch of the date meanwhile
    results = at_once([close_finish, operator_starts])

    # then the start waited for the close's commit and started the reserved run: one run for the
    # date, its five active loans in one chunk, its start audited once
    assert all(isinstance(r, WatchRun) for r in results), results
    assert results[0].pk == results[1].pk
    run = WatchRun.objects.get(as_of=date(2025, 7, 1))
    assert (run.status, run.chunks_total, run.loans_total) == ("running", 1, 5)
    assert AuditLog.objects.filter(action="collateral_watch.start").count() == 1

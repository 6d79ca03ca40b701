"""The daily close (DOMAIN.md section 8): overdue marking, the automatic default on the day an
installment crosses the days past due, catching up missed days, chunks and their run record, and
re-runs that change nothing. Tasks run in process here (no broker); see test_close_worker.py for a
real worker and test_close_command.py for the command and its resume."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from fintech.errors import FutureDate
from fintech.models import AuditLog, CloseChunk, CloseRun, Installment, Loan, LossEvent
from fintech.services import close as close_service
from fintech.services.close import close_chunk_process, close_run_start
from fintech.services.defaults import loan_default_declare
from fintech.services.repayments import repayment_record
from tests.builders import active_loan, cast

from .conftest import FEB_20, five_loan_book, loan_on, snapshot, statuses

D = Decimal
pytestmark = pytest.mark.django_db


def _reload(loan: Loan) -> Loan:
    loan.refresh_from_db()
    return loan


# --- the automatic default -----------------------------------------------------------------------


def test_unpaid_90_days_is_overdue_and_the_91st_day_defaults(close):
    # given 1,000,000.00 at 4.5 %, equal principal, disbursed 2025-02-20; nothing ever paid
    loan = loan_on(FEB_20)

    # when the close runs for 2025-06-18: installment 1 (due 2025-03-20) is 90 days past due
    # (11 days left in March + 30 + 31 + 18 = 90), not more
    run = close(date(2025, 6, 18))

    # then installments 1-3 (due 03-20, 04-20, 05-20) are overdue, 4 (due 06-20) is still due, and
    # the loan is active, closed through 06-18
    assert statuses(loan)[:5] == ["overdue", "overdue", "overdue", "due", "due"]
    assert (_reload(loan).status, loan.last_closed_on, loan.defaulted_on) == (
        "active",
        date(2025, 6, 18),
        None,
    )
    assert (run.status, run.overdue_marked, run.defaults_count) == ("done", 3, 0)

    # when the next close runs only on 2025-07-01 (twelve days missed)
    run = close(date(2025, 7, 1))

    # then the loan defaulted on the day it crossed, 2025-06-19 = 03-20 + 91 days, not on 07-01; the
    # walk stopped there, so installment 4 (due 06-20) was never marked overdue
    assert (_reload(loan).status, loan.defaulted_on, loan.last_closed_on) == (
        "defaulted",
        date(2025, 6, 19),
        date(2025, 7, 1),
    )
    assert statuses(loan)[:5] == ["overdue", "overdue", "overdue", "due", "due"]
    assert (run.status, run.loans_closed, run.overdue_marked, run.defaults_count) == ("done", 1, 0, 1)
    # and the loss at 2025-06-19: unpaid principal 1,000,000.00 (nothing paid)
    #   + unpaid interest of installments 1-3: 1,000,000 x 0.045 x 28 / 360 = 3,500.00;
    #     916,666.67 x 0.045 x 31 / 360 = 3,552.083.. -> 3,552.08; 833,333.34 x 0.045 x 30 / 360 =
    #     3,125.0000.. -> 3,125.00; together 10,177.08
    #   + accrued from 05-20 to 06-19 (30 days) on the scheduled principal after installment 3,
    #     1,000,000.00 - 3 x 83,333.33 = 750,000.01: x 0.045 x 30 / 360 = 2,812.50004.. -> 2,812.50
    #   = 1,012,989.58, split 101,298,958 fen x 0.5 = 50,649,479; x 0.3 = 30,389,687.4; x 0.2 =
    #   20,259,791.6: the one fen left goes to the bank (.6)
    event = LossEvent.objects.get(loan=loan)
    assert (event.unpaid_principal, event.unpaid_interest, event.accrued_interest, event.loss_amount) == (
        D("1000000.00"),
        D("10177.08"),
        D("2812.50"),
        D("1012989.58"),
    )
    assert (event.insurer_share, event.government_share, event.bank_share) == (
        D("506494.79"),
        D("303896.87"),
        D("202597.92"),
    )
    # declared by the close itself: no user, the reason names the installment
    assert event.declared_by is None
    row = AuditLog.objects.get(action="loan.default", object_id=str(loan.pk))
    assert (row.actor_id, row.from_state, row.to_state, row.reason) == (
        None,
        "active",
        "defaulted",
        "Daily close 2025-07-01: installment due 2025-03-20 unpaid more than 90 days past due.",
    )
    assert (loan.application.status, loan.policy.status) == ("defaulted", "claimed")


def test_the_default_date_is_the_crossing_day_whatever_day_the_close_runs(close):
    # given the same loan, never closed before
    loan = loan_on(FEB_20)

    # when the first close runs on 2025-08-15, catching up from the disbursement date
    close(date(2025, 8, 15))

    # then the loan still defaulted on 2025-06-19, with the same loss as above, and the installments
    # due after that day (06-20, 07-20) were not marked overdue
    assert (_reload(loan).defaulted_on, loan.last_closed_on) == (date(2025, 6, 19), date(2025, 8, 15))
    assert LossEvent.objects.get(loan=loan).loss_amount == D("1012989.58")
    assert statuses(loan)[:7] == ["overdue", "overdue", "overdue", "due", "due", "due", "due"]


def test_the_days_past_due_are_the_loans_copy_of_the_programme_parameter(close):
    # given a loan approved when the programme allowed 30 days past due (stored on the loan)
    loan = loan_on(FEB_20)
    Loan.objects.filter(pk=loan.pk).update(default_days_past_due=30)

    # when the close runs for 2025-04-19 (installment 1 is 30 days past due), then for 2025-04-20
    close(date(2025, 4, 19))
    assert _reload(loan).status == "active"
    close(date(2025, 4, 20))

    # then it defaulted on 2025-04-20 = 03-20 + 31 days; installment 2, due that very day, is not
    # overdue. Loss: 1,000,000.00 + interest of installments 1 and 2 (due by 04-20): 3,500.00 +
    # 3,552.08 = 7,052.08 + accrued from 04-20 to 04-20 (0 days) 0.00 = 1,007,052.08, split
    # 100,705,208 fen x 0.5 = 50,352,604; x 0.3 = 30,211,562.4; x 0.2 = 20,141,041.6 -> one fen to the bank
    assert (_reload(loan).status, loan.defaulted_on) == ("defaulted", date(2025, 4, 20))
    assert statuses(loan)[:3] == ["overdue", "due", "due"]
    event = LossEvent.objects.get(loan=loan)
    assert (event.loss_amount, event.insurer_share, event.government_share, event.bank_share) == (
        D("1007052.08"),
        D("503526.04"),
        D("302115.62"),
        D("201410.42"),
    )


# --- overdue marking and catching up -------------------------------------------------------------


def test_catching_up_marks_what_is_unpaid_and_respects_grace_days(close):
    # given, all disbursed 2025-02-20 (installment 1 due 03-20 with 86,833.33 = 83,333.33 + 3,500.00):
    people = cast()
    paid = loan_on(FEB_20, people)  # installment 1 paid in full on its due date
    repayment_record(actor=people.bank, loan_id=paid.pk, amount=D("86833.33"), paid_on=date(2025, 3, 20))
    part_paid = loan_on(FEB_20, people)  # 1,000.00 of installment 1 paid
    repayment_record(actor=people.bank, loan_id=part_paid.pk, amount=D("1000.00"), paid_on=date(2025, 3, 20))
    with_grace = loan_on(FEB_20, people)  # approved under a programme with 5 grace days
    Loan.objects.filter(pk=with_grace.pk).update(grace_days=5)
    later = loan_on(date(2025, 3, 26), people)  # disbursed after the first close date below

    # when the close runs for 2025-03-25 (nothing closed before: caught up from the disbursement)
    run = close(date(2025, 3, 25))

    # then the paid installment stays paid, the part-paid one is overdue, the one in its grace
    # period (due 03-20 + 5 days = 03-25, not before 03-25) is still due; the later loan is untouched
    assert (statuses(paid)[0], statuses(part_paid)[0], statuses(with_grace)[0]) == ("paid", "overdue", "due")
    assert [_reload(x).last_closed_on for x in (paid, part_paid, with_grace, later)] == [
        date(2025, 3, 25)
    ] * 3 + [None]
    assert (run.loans_total, run.loans_closed, run.overdue_marked) == (3, 3, 1)

    # when the next close runs for 2025-03-26
    close(date(2025, 3, 26))

    # then the grace period is over for installment 1 of the graced loan, and the later loan (due
    # 04-26) has nothing due
    assert statuses(with_grace)[0] == "overdue"
    assert statuses(later)[0] == "due"
    assert _reload(later).last_closed_on == date(2025, 3, 26)


def test_settled_and_defaulted_loans_are_left_alone(close):
    # given a loan its bank declared defaulted on 2025-03-10, before anything was due
    loan, people = active_loan()
    loan_default_declare(actor=people.bank, loan_id=loan.pk, default_on=date(2025, 3, 10), reason="fraud")
    before = snapshot()

    # when the close runs for 2025-07-01
    run = close(date(2025, 7, 1))

    # then it had nothing to close
    assert (run.status, run.chunks_total, run.loans_total) == ("done", 0, 0)
    assert snapshot() == before


def test_a_future_business_date_is_refused():
    # given nothing, when a close is started for a date after today, then it is refused, no run written
    with pytest.raises(FutureDate):
        close_run_start(date(2999, 1, 1))
    assert CloseRun.objects.count() == 0


# --- chunks, the run record, re-runs -------------------------------------------------------------


def test_the_run_records_chunks_by_id_range_and_counts(close):
    # given the book of five loans
    book = five_loan_book()
    ids = [loan.pk for loan in book]

    # when the close for 2025-07-01 runs in chunks of two loans
    run = close(date(2025, 7, 1), chunk_size=2)

    # then three chunks cover contiguous id ranges, each done with its own counts
    chunks = list(CloseChunk.objects.filter(run=run).order_by("lo_id"))
    assert [(c.lo_id, c.hi_id, c.status) for c in chunks] == [
        (ids[0], ids[2] - 1, "done"),
        (ids[2], ids[4] - 1, "done"),
        (ids[4], ids[4], "done"),
    ]
    # chunk 1: loan 1 defaults (3 overdue: 03-20, 04-20, 05-20), loan 2 has 1 overdue (06-10);
    # chunk 2: loan 3 nothing, loan 4 defaults (3 overdue); chunk 3: loan 5, 1 overdue
    assert [(c.loans_closed, c.overdue_marked, c.defaults_count) for c in chunks] == [
        (2, 4, 1),
        (2, 3, 1),
        (1, 1, 0),
    ]
    assert (
        run.status,
        run.chunks_total,
        run.chunks_done,
        run.loans_total,
        run.loans_closed,
        run.overdue_marked,
        run.defaults_count,
        run.error,
    ) == ("done", 3, 3, 5, 5, 8, 2, "")
    assert run.finished_at is not None
    assert [_reload(loan).status for loan in book] == ["defaulted", "active", "active", "defaulted", "active"]


def test_a_second_close_for_the_same_date_changes_nothing(close):
    # given the book closed for 2025-07-01
    five_loan_book()
    close(date(2025, 7, 1), chunk_size=2)
    before = snapshot()

    # when the close for the same date runs again, and a close for an earlier date
    again = close(date(2025, 7, 1), chunk_size=2)
    earlier = close(date(2025, 6, 1), chunk_size=2)

    # then every loan, installment, loss, fund movement, ledger and audit row is as it was; the runs
    # found nothing to close
    assert snapshot() == before
    assert [(r.status, r.chunks_total, r.loans_closed) for r in (again, earlier)] == [("done", 0, 0)] * 2


def test_a_chunk_delivered_twice_changes_nothing(close):
    # given the book closed for 2025-07-01 in chunks of two
    five_loan_book()
    run = close(date(2025, 7, 1), chunk_size=2)
    before = snapshot()
    counts = CloseRun.objects.values_list("chunks_done", "loans_closed", "overdue_marked", "defaults_count")

    # when the broker delivers every chunk task again (a lost acknowledgement)
    for chunk in CloseChunk.objects.filter(run=run):
        close_chunk_process(chunk.pk)

    # then nothing changed, the run's counts included
    assert snapshot() == before
    assert list(counts) == [(3, 5, 8, 2)]


def test_a_chunk_failing_mid_way_keeps_nothing_and_the_next_close_resumes(close, monkeypatch):
    # given the book, and a failure inside the second default of the run (chunk 2, after its loans
    # were locked and loan 4's installments marked overdue)
    book = five_loan_book()

    def broken(**kwargs: object) -> None:
        if kwargs["loan_id"] == book[3].pk:
            raise RuntimeError("worker lost")
        loan_default_declare(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(close_service, "loan_default_declare", broken)

    # when the close for 2025-07-01 runs in chunks of two
    run = close(date(2025, 7, 1), chunk_size=2)

    # then chunks 1 and 3 are done, chunk 2 failed and left nothing behind: loans 3 and 4 are not
    # closed and loan 4's installments are all still due
    assert [c.status for c in CloseChunk.objects.filter(run=run).order_by("lo_id")] == [
        "done",
        "failed",
        "done",
    ]
    assert (run.status, run.chunks_done, run.loans_closed, run.defaults_count) == ("failed", 2, 3, 1)
    assert "worker lost" in run.error
    assert [_reload(x).last_closed_on for x in book] == [
        date(2025, 7, 1),
        date(2025, 7, 1),
        None,
        None,
        date(2025, 7, 1),
    ]
    assert set(statuses(book[3])) == {"due"}

    # when the failure is gone and the close for the date runs again
    monkeypatch.undo()
    resumed = close(date(2025, 7, 1), chunk_size=2)

    # then the same run resumed only the failed chunk and is done, with the counts of a whole run
    assert resumed.pk == run.pk
    assert (
        resumed.status,
        resumed.chunks_done,
        resumed.loans_closed,
        resumed.overdue_marked,
        resumed.defaults_count,
        resumed.error,
    ) == ("done", 3, 5, 8, 2, "")
    assert [_reload(x).status for x in book] == ["defaulted", "active", "active", "defaulted", "active"]
    assert _reload(book[3]).defaulted_on == date(2025, 6, 19)
    assert Installment.objects.filter(loan__in=book, status="overdue").count() == 8

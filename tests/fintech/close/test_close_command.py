"""`manage.py close_day` and close_day(): they wait for committed work, so these tests commit
(transactional database). A close killed part-way and run again ends exactly as an uninterrupted
one on an identical book."""

from __future__ import annotations

from datetime import date
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from fintech.models import AuditLog, CloseChunk, CloseRun, Installment, JournalEntry, Loan, LossEvent
from fintech.services import close as close_service
from fintech.services.close import close_chunk_process, close_day, close_run_start
from fintech.services.common import business_today
from fintech.services.defaults import loan_default_declare
from tests.builders import cast

from .conftest import FEB_20, five_loan_book, loan_on

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

AS_OF = date(2025, 7, 1)


def _command(*args: str) -> str:
    out = StringIO()
    call_command("close_day", *args, stdout=out)
    return out.getvalue()


def test_the_command_closes_the_day_and_prints_the_counts():
    # given a loan that defaults on 2025-06-19 (3 installments overdue before that day) and one with
    # installment 1 (due 06-10) unpaid
    people = cast()
    defaulting, late = loan_on(FEB_20, people), loan_on(date(2025, 5, 10), people)

    # when the close runs for 2025-07-01, one loan per chunk
    output = _command("--as-of", "2025-07-01", "--chunk-size", "1")

    # then it returns once the run is done (exit status 0) and prints the run's counts
    run = CloseRun.objects.get()
    assert output == (
        f"close 2025-07-01 (run {run.pk}): done; chunks 2/2, loans closed 2 of 2, "
        "installments marked overdue 4, defaults 1\n"
    )
    assert Loan.objects.get(pk=defaulting.pk).status == "defaulted"
    assert Loan.objects.get(pk=late.pk).last_closed_on == AS_OF


def test_without_a_date_the_command_closes_today():
    # given no loans; when the command runs without --as-of
    output = _command()

    # then it closed today's business date (Asia/Shanghai), with nothing to do
    run = CloseRun.objects.get()
    assert run.as_of == business_today()
    assert output == (
        f"close {business_today()} (run {run.pk}): done; chunks 0/0, loans closed 0 of 0, "
        "installments marked overdue 0, defaults 0\n"
    )


@pytest.mark.parametrize(
    ("as_of", "message"),
    [("2025-02-30", "not a date"), ("2999-01-01", "in the future")],
)
def test_a_bad_date_exits_non_zero_and_starts_nothing(as_of, message):
    # given a loan; when the command gets a date that does not exist or lies in the future
    loan_on(FEB_20)
    with pytest.raises(CommandError) as refused:
        _command("--as-of", as_of)

    # then it exits with status 1, says why, and no run was started
    assert refused.value.returncode == 1
    assert message in str(refused.value)
    assert CloseRun.objects.count() == 0


def test_a_failing_chunk_exits_non_zero_and_the_next_run_resumes(monkeypatch):
    # given the book of five loans, and a default that fails (loan 4, in chunk 2 of 3)
    book = five_loan_book()

    def broken(**kwargs: Any) -> Any:
        if kwargs["loan_id"] == book[3].pk:
            raise RuntimeError("disk full")
        return loan_default_declare(**kwargs)

    monkeypatch.setattr(close_service, "loan_default_declare", broken)

    # when the command runs, in chunks of two
    out = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("close_day", "--as-of", "2025-07-01", "--chunk-size", "2", stdout=out)

    # then it exits with status 1 once the other chunks are done, naming the failed chunk
    run = CloseRun.objects.get()
    chunk = CloseChunk.objects.get(run=run, status="failed")
    assert failed.value.returncode == 1
    assert str(failed.value) == (
        f"close 2025-07-01 (run {run.pk}) failed: chunk {chunk.pk} (loans {chunk.lo_id}-{chunk.hi_id}): "
        "RuntimeError('disk full')"
    )
    assert out.getvalue() == (
        f"close 2025-07-01 (run {run.pk}): failed; chunks 2/3, loans closed 3 of 5, "
        "installments marked overdue 5, defaults 1\n"
    )

    # when the cause is gone and the command runs again for the date
    monkeypatch.undo()
    output = _command("--as-of", "2025-07-01", "--chunk-size", "2")

    # then it resumed the same run and completed it
    assert output == (
        f"close 2025-07-01 (run {run.pk}): done; chunks 3/3, loans closed 5 of 5, "
        "installments marked overdue 8, defaults 2\n"
    )
    assert CloseRun.objects.count() == 1


class Killed(BaseException):
    """The worker process dies mid-chunk (SIGKILL): no handler of the task runs."""


def _book_state(book: list[Loan]) -> list[tuple[Any, ...]]:
    """What the close decided for each loan of a book, free of ids and of the users who set it up."""
    state = []
    for loan in Loan.objects.filter(pk__in=[x.pk for x in book]).order_by("pk"):
        installments = list(
            Installment.objects.filter(loan=loan)
            .order_by("seq")
            .values_list("seq", "status", "principal_paid", "interest_paid", "paid_on")
        )
        loss = list(
            LossEvent.objects.filter(loan=loan).values_list(
                "default_on",
                "unpaid_principal",
                "unpaid_interest",
                "accrued_interest",
                "loss_amount",
                "insurer_ratio",
                "government_ratio",
                "bank_ratio",
                "insurer_share",
                "government_share",
                "bank_share",
                "declared_by",
                "reason",
            )
        )
        audit = [
            (a.action, a.from_state, a.to_state, a.reason, a.amount, a.actor_id is None)
            for a in AuditLog.objects.filter(object_type="fintech.loan", object_id=str(loan.pk)).order_by(
                "id"
            )
        ]
        ledger = [
            (
                e.kind,
                e.booked_on,
                [(p.debit_account_id, p.credit_account_id, p.amount) for p in e.postings.all()],
            )
            for e in JournalEntry.objects.filter(loan=loan).order_by("id").prefetch_related("postings")
        ]
        state.append(
            (
                loan.status,
                loan.disbursed_on,
                loan.defaulted_on,
                loan.last_closed_on,
                installments,
                loss,
                audit,
                ledger,
            )
        )
    return state


def _counts(run: CloseRun) -> tuple[Any, ...]:
    return (
        run.status,
        run.chunks_total,
        run.chunks_done,
        run.loans_total,
        run.loans_closed,
        run.overdue_marked,
        run.defaults_count,
    )


def test_a_close_killed_part_way_and_run_again_ends_like_an_uninterrupted_one(monkeypatch):
    # given the book of five loans and the close for 2025-07-01 started in chunks of two
    killed_book = five_loan_book()
    run = close_run_start(AS_OF, chunk_size=2)
    first, second, _third = CloseChunk.objects.filter(run=run).order_by("lo_id")
    # and killed part-way: chunk 1 done, chunk 2's worker died in the middle of loan 4's default
    # (after loan 4's installments were marked overdue), chunk 3 never started
    close_chunk_process(first.pk)

    def dies(**kwargs: Any) -> Any:
        raise Killed()

    monkeypatch.setattr(close_service, "loan_default_declare", dies)
    with pytest.raises(Killed):
        close_chunk_process(second.pk)
    monkeypatch.undo()
    assert list(CloseChunk.objects.filter(run=run).order_by("lo_id").values_list("status", flat=True)) == [
        "done",
        "running",
        "pending",
    ]
    assert set(Installment.objects.filter(loan=killed_book[3]).values_list("status", flat=True)) == {"due"}

    # when close_day runs again for the date
    resumed = close_day(AS_OF, chunk_size=2, poll=0.05)

    # then it resumed that run (the chunks not done) to the end
    assert resumed.pk == run.pk
    assert _counts(resumed) == ("done", 3, 3, 5, 5, 8, 2)

    # and an identical book, closed for the date in one go, ends in exactly the same state
    clean_book = five_loan_book()
    uninterrupted = close_day(AS_OF, chunk_size=2, poll=0.05)
    assert uninterrupted.pk != run.pk
    assert _counts(uninterrupted) == _counts(resumed)
    assert _book_state(clean_book) == _book_state(killed_book)
    assert [x[0] for x in _book_state(killed_book)] == [
        "defaulted",
        "active",
        "active",
        "defaulted",
        "active",
    ]


def test_close_day_refuses_to_run_inside_a_transaction():
    # given an open transaction (the close waits for work that must be committed to be seen)
    from django.db import transaction

    # when close_day is called inside it, then it refuses rather than wait forever
    with transaction.atomic(), pytest.raises(RuntimeError, match="outside a transaction"):
        close_day(AS_OF)
    assert CloseRun.objects.count() == 0

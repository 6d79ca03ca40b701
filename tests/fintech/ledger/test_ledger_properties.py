"""Property: after any sequence of repayments (random amounts up to what is owed), reversals of the
latest, and file lines (good, duplicate, over the balance), the ledger balances and reconciles to
the fen with the schedule; a replayed file line changes nothing."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from fintech.errors import DomainError
from fintech.models import Installment, JournalEntry, Loan, Posting, RepaymentReversal
from fintech.models.repayments import Repayment, RepaymentAllocation
from fintech.selectors.ledger import loan_reconciliation, trial_balance
from fintech.services.repayment_files import repayment_file_process, repayment_file_upload
from fintech.services.repayments import repayment_record, repayment_reverse
from tests.fintech.repayments.conftest import DISBURSED_ON, snapshot

D = Decimal
FEN = D("0.01")
pytestmark = pytest.mark.django_db


class _Rollback(Exception):
    """Ends an example: its savepoint is rolled back, so each example starts from the same book."""


def owed(loan: Loan) -> Decimal:
    row = Installment.objects.filter(loan=loan).aggregate(
        p=Sum("principal_due"), pp=Sum("principal_paid"), i=Sum("interest_due"), ip=Sum("interest_paid")
    )
    return row["p"] - row["pp"] + row["i"] - row["ip"]


# An operation: (kind, amount in fen or a share of what is owed, days after the disbursement).
fen = st.integers(min_value=1, max_value=300_000_00)
day = st.integers(min_value=0, max_value=500)
lines = st.lists(st.tuples(fen, st.booleans()), min_size=1, max_size=4)
# Paying everything settles the loan, after which little else can happen: kept the rarest.
kinds = st.sampled_from(["repay", "repay", "repay", "reverse", "reverse", "file", "file", "repay_all"])
operation = kinds.flatmap(lambda kind: st.tuples(st.just(kind), lines if kind == "file" else fen, day))


def check_books(loan: Loan) -> None:
    tb = trial_balance(Posting.objects.all(), as_of=date.max)
    assert tb.total_debit == tb.total_credit
    assert sum((a.balance for a in tb.accounts), D(0)) == 0
    # the loan's ledger equals its schedule, to the fen
    rec = loan_reconciliation(loan)
    assert rec.mismatches() == [], rec
    # the installments hold exactly the allocations of the repayments that stand
    standing = RepaymentAllocation.objects.filter(repayment__loan=loan, repayment__reversal__isnull=True)
    allocated = standing.aggregate(p=Sum("principal"), i=Sum("interest"))
    paid = Installment.objects.filter(loan=loan).aggregate(p=Sum("principal_paid"), i=Sum("interest_paid"))
    assert (allocated["p"] or 0, allocated["i"] or 0) == (paid["p"], paid["i"])
    # one repayment entry per repayment, one mirror per reversal
    assert (
        JournalEntry.objects.filter(kind="repayment", loan=loan).count()
        == Repayment.objects.filter(loan=loan).count()
    )
    assert (
        JournalEntry.objects.filter(kind="reversal", loan=loan).count()
        == RepaymentReversal.objects.filter(repayment__loan=loan).count()
    )


def run(loan: Loan, bank: Any, ops: list[tuple[Any, ...]]) -> None:
    serial = 0
    latest = DISBURSED_ON
    for kind, arg, days in ops:
        on = max(latest, DISBURSED_ON + timedelta(days=days))
        if kind in ("repay", "repay_all"):
            left = owed(loan)
            amount = left if kind == "repay_all" else min(D(arg) * FEN, left)
            try:
                repayment_record(actor=bank, loan_id=loan.pk, amount=amount, paid_on=on)
                latest = on
                loan.refresh_from_db()
                event(f"repayment applied, loan {loan.status}")
            except DomainError:  # nothing left to pay, or the loan settled
                loan.refresh_from_db()
                assert loan.status == "settled" or amount == 0
                event("repayment refused")
        elif kind == "reverse":
            last = Repayment.objects.filter(loan=loan, reversal__isnull=True).order_by("-id").first()
            if last is None:
                continue
            before = snapshot()
            try:
                repayment_reverse(
                    actor=bank,
                    repayment_id=last.pk,
                    reversed_on=max(on, last.paid_on),
                    reason="property test",
                )
                event("reversal")
            except DomainError:
                event("reversal refused")  # only a settled loan refuses; then nothing changed
                assert Loan.objects.get(pk=loan.pk).status == "settled"
                assert snapshot() == before
        else:
            rows = ["loan,amount,value_date,transaction_id"]
            for amount_fen, duplicate in arg:
                serial += 1
                # a duplicate line repeats the previous transaction id of the example
                tid = f"P-{serial - 1 if duplicate and serial > 1 else serial}"
                rows.append(f"{loan.pk},{D(amount_fen) * FEN},{on.isoformat()},{tid}")
            file = repayment_file_upload(actor=bank, filename="p.csv", content="\n".join(rows).encode())
            repayment_file_process(file.pk)
            file.refresh_from_db()
            assert (file.status, file.lines_done, file.lines_applied + file.lines_rejected) == (
                "done",
                len(arg),
                len(arg),
            )
            event(f"file: {file.lines_applied} applied, {file.lines_rejected} rejected")
            # a replayed task changes nothing
            before = snapshot()
            repayment_file_process(file.pk)
            assert snapshot() == before
            latest = on
        check_books(loan)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(operation, min_size=1, max_size=8))
def test_the_ledger_balances_and_reconciles_after_any_sequence(book, ops):
    try:
        with transaction.atomic():
            loan = Loan.objects.get(pk=book.loan.pk)
            run(loan, book.bank, ops)
            raise _Rollback
    except _Rollback:
        pass

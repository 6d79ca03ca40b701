"""Two runs of the same file at once (a task redelivered while the first still runs) apply each line
once: every line takes the file's row lock and re-checks that it was not recorded (needs
PostgreSQL: SQLite has no row locks)."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from fintech.models import AuditLog, RepaymentFile, RepaymentFileLine
from fintech.models.repayments import Repayment
from fintech.selectors.ledger import loan_reconciliation
from fintech.services.repayment_files import repayment_file_process
from tests.fintech.repayments.conftest import installments

D = Decimal
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_two_runs_of_one_file_apply_each_line_once(book):
    # given a stored file of 20 lines of 10.00 each, not yet processed (written as the upload
    # stores it, without queueing it: here the two runs are started by hand)
    rows = ["loan,amount,value_date,transaction_id"] + [
        f"{book.loan.pk},10.00,2025-03-01,C-{n:02d}" for n in range(1, 21)
    ]
    file = RepaymentFile.objects.create(
        bank_id=book.loan.bank_id,
        uploaded_by=book.bank,
        filename="c.csv",
        content="\n".join(rows),
        lines_total=20,
    )
    # when two workers process it at the same time
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            repayment_file_process(file.pk)
        except BaseException as exc:  # reported below, with the thread's traceback
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert failures == []
    # then each line was applied exactly once: 20 x 10.00 = 200.00 of interest of installment 1
    file.refresh_from_db()
    assert (file.status, file.lines_done, file.lines_applied, file.lines_rejected) == ("done", 20, 20, 0)
    assert RepaymentFileLine.objects.filter(file=file).count() == 20
    assert Repayment.objects.filter(loan=book.loan).count() == 20
    assert installments(book.loan)[0] == (1, D("0.00"), D("200.00"), None, "due")
    assert loan_reconciliation(book.loan).mismatches() == []
    assert AuditLog.objects.filter(action="repayment_file.done", object_id=str(file.pk)).count() == 1

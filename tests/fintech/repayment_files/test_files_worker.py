"""A repayment file is processed by a real Celery worker through the broker (needs CELERY_BROKER_URL
and a PostgreSQL DATABASE_URL; skipped otherwise)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fintech.models import RepaymentFile
from fintech.models.repayments import Repayment
from fintech.selectors.ledger import loan_reconciliation
from fintech.services.repayment_files import repayment_file_upload
from tests import celery_worker as harness
from tests.fintech.repayments.conftest import installments

D = Decimal
pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# The real-worker fixtures (tests/celery_worker.py), each test on its own queue.
queue = harness.queue
worker = harness.worker
through_the_broker = harness.through_the_broker


def test_a_repayment_file_is_processed_by_a_real_worker(book, worker, through_the_broker):
    # given a file with two good lines and a duplicate
    content = (
        "loan,amount,value_date,transaction_id\n"
        f"{book.loan.pk},3500.00,2025-03-20,W-1\n"
        f"{book.loan.pk},1000.00,2025-03-21,W-2\n"
        f"{book.loan.pk},1000.00,2025-03-21,W-2\n"
    ).encode()
    # when the bank uploads it: the task is sent to the broker once the upload commits
    file = repayment_file_upload(actor=book.bank, filename="w.csv", content=content)

    # then the worker processes it to the end
    def done() -> bool:
        file.refresh_from_db()
        return file.status == "done"

    worker.wait_for(done, "the repayment file to be processed")
    assert (file.lines_total, file.lines_done, file.lines_applied, file.lines_rejected) == (3, 3, 2, 1)
    assert RepaymentFile.objects.get(pk=file.pk).errors == [
        {"line": 4, "reason": "duplicate transaction id"}  # the uploader's language (English here)
    ]
    assert list(Repayment.objects.order_by("id").values_list("transaction_id", flat=True)) == ["W-1", "W-2"]
    assert installments(book.loan)[0] == (1, D("1000.00"), D("3500.00"), None, "due")
    assert loan_reconciliation(book.loan).mismatches() == []

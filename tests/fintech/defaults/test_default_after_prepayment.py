"""A default may not precede the loan's last money movement, a prepayment included (DOMAIN.md 10).

The loan (tests.builders.active_loan): 1,000,000.00 at 4.5 %, equal principal over 12 months,
disbursed 2025-02-20. Installment 1 (due 03-20: 83,333.33 + 1,000,000 x 0.045 x 28 / 360 = 3,500.00)
is paid on 03-20; 100,000.00 is prepaid on 2025-04-05 (inside installment 2's period). A default
back-dated to 2025-04-01 is after the last repayment (03-20) but before the prepayment (04-05):
refused, 400, nothing written, on the bank's path and on the close's batch path alike.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from typing import Any

import pytest

from fintech.errors import DatesOutOfOrder
from fintech.models import LossEvent
from fintech.services.defaults import DefaultBatch, loan_default_declare
from fintech.services.prepayments import loan_prepay_partial
from tests.builders import active_loan
from tests.fintech.repayments.conftest import snapshot
from tests.fintech.subsidies.helpers import pay

pytestmark = pytest.mark.django_db


def _prepaid() -> Any:
    loan, people = active_loan()
    pay(loan, people, [1])
    loan_prepay_partial(
        actor=people.bank,
        loan_id=loan.pk,
        amount=D("100000.00"),
        value_date=date(2025, 4, 5),
        recast="keep_term",
    )
    return loan, people


def test_a_default_back_dated_before_a_prepayment_is_refused(client_for: Any) -> None:
    loan, people = _prepaid()
    before = snapshot()
    response = client_for(people.bank).post(
        f"/api/v1/loans/{loan.pk}/default/",
        {"declared_on": "2025-04-01", "reason": "Borrower ceased trading."},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "declared_on" in response.json()["fields"]
    assert snapshot() == before and not LossEvent.objects.exists()


def test_the_close_batch_path_refuses_it_too() -> None:
    loan, _people = _prepaid()
    batch = DefaultBatch()
    loan_default_declare(
        actor=None, loan_id=loan.pk, default_on=date(2025, 4, 1), reason="close", batch=batch
    )
    with pytest.raises(DatesOutOfOrder):
        batch.write()
    assert not LossEvent.objects.exists()

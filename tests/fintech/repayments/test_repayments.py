"""Repayments: allocation oldest first, interest before principal; overpayment; settlement."""

from datetime import date
from decimal import Decimal

import pytest

from fintech.errors import AmountOverLimit, DatesOutOfOrder, InvalidTransition, RoleNotAllowed
from fintech.models import AuditLog, Installment, PledgedPatent
from fintech.models.repayments import Repayment, RepaymentAllocation
from fintech.services.repayments import repayment_record
from tests.builders import active_loan

D = Decimal
pytestmark = pytest.mark.django_db


def _rows(loan):
    return list(Installment.objects.filter(loan=loan).order_by("seq"))


def test_interest_first_then_principal_oldest_first():
    # given 1,000,000.00 at 4.5 % equal principal from 2025-02-20: installment 1 runs 2025-02-20 ->
    # 2025-03-20 (28 days): interest = 1,000,000 x 0.045 x 28 / 360 = 3,500.00; principal
    # round(1,000,000 / 12) = 83,333.33. Installment 2 (2025-03-20 -> 04-20, 31 days):
    # 916,666.67 x 0.045 x 31 / 360 = 3,552.083... -> 3,552.08.
    loan, people = active_loan()
    # when the bank reports 90,000.00 on the first due date
    r = repayment_record(actor=people.bank, loan_id=loan.pk, amount=D("90000.00"), paid_on=date(2025, 3, 20))
    # then 3,500.00 interest + 83,333.33 principal clear installment 1 on time, and the remaining
    # 3,166.67 pays interest of installment 2 first (3,166.67 < 3,552.08, no principal)
    allocations = [
        (a.installment.seq, a.principal, a.interest) for a in r.allocations.order_by("installment__seq")
    ]
    assert allocations == [(1, D("83333.33"), D("3500.00")), (2, D("0.00"), D("3166.67"))]
    first, second = _rows(loan)[:2]
    assert (first.status, first.paid_on) == ("paid", date(2025, 3, 20))
    assert (second.status, second.interest_paid, second.principal_paid, second.paid_on) == (
        "due",
        D("3166.67"),
        D("0.00"),
        None,
    )


def test_late_completion_is_paid_late():
    # given the same loan; installment 1 (due 2025-03-20) completed on 2025-03-21 with 0 grace days
    loan, people = active_loan()
    repayment_record(actor=people.bank, loan_id=loan.pk, amount=D("86833.33"), paid_on=date(2025, 3, 21))
    # then it is paid, but late
    assert _rows(loan)[0].status == "paid_late"


def test_overpayment_refused_and_nothing_written():
    loan, people = active_loan()
    owed = sum((r.principal_due + r.interest_due for r in _rows(loan)), D(0))
    before = (Repayment.objects.count(), RepaymentAllocation.objects.count(), AuditLog.objects.count())
    with pytest.raises(AmountOverLimit):
        repayment_record(
            actor=people.bank, loan_id=loan.pk, amount=owed + D("0.01"), paid_on=date(2025, 3, 20)
        )
    assert (
        Repayment.objects.count(),
        RepaymentAllocation.objects.count(),
        AuditLog.objects.count(),
    ) == before


def test_paying_everything_settles_and_releases_the_pledge():
    loan, people = active_loan()
    owed = sum((r.principal_due + r.interest_due for r in _rows(loan)), D(0))
    repayment_record(actor=people.bank, loan_id=loan.pk, amount=owed, paid_on=date(2025, 3, 20))
    loan.refresh_from_db()
    assert (loan.status, loan.settled_on) == ("settled", date(2025, 3, 20))
    assert loan.application.status == "settled"
    loan.policy.refresh_from_db()
    assert loan.policy.status == "expired"  # the cover ends with the loan
    assert PledgedPatent.objects.filter(pledge__loan=loan, is_active=True).count() == 0
    with pytest.raises(InvalidTransition):
        repayment_record(actor=people.bank, loan_id=loan.pk, amount=D("1.00"), paid_on=date(2025, 3, 21))


def test_dates_and_roles():
    loan, people = active_loan()
    with pytest.raises(DatesOutOfOrder):
        repayment_record(actor=people.bank, loan_id=loan.pk, amount=D("1.00"), paid_on=date(2025, 2, 19))
    with pytest.raises(RoleNotAllowed):
        repayment_record(actor=people.insurer, loan_id=loan.pk, amount=D("1.00"), paid_on=date(2025, 3, 1))
    assert Repayment.objects.count() == 0


def test_api_repayment_is_idempotent(client_for):
    loan, people = active_loan()
    api = client_for(people.bank)
    body = {"amount": "3500.00", "paid_on": "2025-03-01"}
    first = api.post(f"/api/v1/loans/{loan.pk}/repayments/", body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = api.post(f"/api/v1/loans/{loan.pk}/repayments/", body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert first.json()["allocations"] == [{"seq": 1, "principal": "0.00", "interest": "3500.00"}]
    assert Repayment.objects.filter(loan=loan).count() == 1
    other = api.post(
        f"/api/v1/loans/{loan.pk}/repayments/",
        {"amount": "1.00", "paid_on": "2025-03-01"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k1",
    )
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_key_reused"

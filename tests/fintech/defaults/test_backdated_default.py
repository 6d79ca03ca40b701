"""Issue 13, item 0: a default declared by the bank on a back-dated day leaves the installments past
due on that day `overdue` (DOMAIN.md section 8: overdue = past due and not fully paid), as a default
by the daily close does; the close catches up loans defaulted before a declaration marked them. The
default date, the loss (section 10) and its 5:3:2 split (section 5) are unchanged.

The book of every test: 1,000,000.00 at 4.35 %, 12 months, interest monthly and principal at
maturity, disbursed 2024-02-27; due dates 03-27, 04-27, 05-27, 06-27, 07-27, ... 2025-02-27.
Installment 1 (02-27 -> 03-27, 29 days, 2024 a leap year): 1,000,000 x 0.0435 x 29 / 360 =
3,504.1666... -> 3,504.17, paid on 03-27; installments 2-4 unpaid.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from fintech.models import Installment, InstallmentStatus, Loan, LossEvent
from fintech.services.defaults import loan_default_declare
from fintech.services.repayments import repayment_record
from tests.builders import Cast, active_loan

D = Decimal

DISBURSED = date(2024, 2, 27)
DECLARED = date(2024, 7, 20)
AS_OF = date(2026, 3, 31)

# After the declaration on 2024-07-20 (grace 0): installment 1 paid; 2-4 (due 04-27, 05-27, 06-27)
# past due and unpaid, so overdue; 5-12 (due 07-27 onwards) were not yet due on the default date:
# the default ends the schedule there (section 10 counts no later interest), so they stay as they
# are, as on a loan defaulted by the close.
EXPECTED = ["paid"] + ["overdue"] * 3 + ["due"] * 8


def _book() -> tuple[Loan, Cast]:
    loan, people = active_loan(
        annual_rate=D("0.0435"),
        method="interest_monthly_principal_at_maturity",
        disbursed_on=DISBURSED,
        valuation_on=date(2024, 2, 1),
    )
    repayment_record(actor=people.bank, loan_id=loan.pk, amount=D("3504.17"), paid_on=date(2024, 3, 27))
    return loan, people


def _statuses(loan: Loan) -> list[str]:
    return list(Installment.objects.filter(loan=loan).order_by("seq").values_list("status", flat=True))


def _assert_default_loss_and_split(loan: Loan) -> None:
    # The default date is the declared day.
    loan.refresh_from_db()
    assert (loan.status, loan.defaulted_on) == ("defaulted", DECLARED)
    # The loss (section 10) on 2024-07-20:
    #   unpaid principal 1,000,000.00 (none due yet)
    #   + unpaid interest of the installments due by 07-20:
    #     2 (03-27 -> 04-27, 31 days): 1,000,000 x 0.0435 x 31 / 360 = 3,745.833... -> 3,745.83
    #     3 (04-27 -> 05-27, 30 days): 1,000,000 x 0.0435 x 30 / 360 = 3,625.00
    #     4 (05-27 -> 06-27, 31 days): 3,745.83            together 11,116.66
    #   + accrued from the last due date 06-27 to 07-20, 23 days, on 1,000,000.00:
    #     1,000,000 x 0.0435 x 23 / 360 = 2,779.166... -> 2,779.17
    #   = 1,013,895.83
    event = LossEvent.objects.get(loan=loan)
    assert (event.default_on, event.unpaid_principal, event.unpaid_interest, event.accrued_interest) == (
        DECLARED,
        D("1000000.00"),
        D("11116.66"),
        D("2779.17"),
    )
    assert event.loss_amount == D("1013895.83")
    # 5:3:2 of 101,389,583 fen: exact 50,694,791.5 / 30,416,874.9 / 20,277,916.6; floors sum to
    # 101,389,581, the 2 fen left go to the largest remainders, government (.9) then bank (.6):
    # 506,947.91 / 304,168.75 / 202,779.17 (sum 1,013,895.83).
    assert (event.insurer_share, event.government_share, event.bank_share) == (
        D("506947.91"),
        D("304168.75"),
        D("202779.17"),
    )


@pytest.mark.django_db
def test_a_back_dated_declaration_marks_the_installments_past_due_overdue(
    client_for: Any, close: Any
) -> None:
    # given the book above
    loan, people = _book()

    # when its bank declares the default on 2024-07-20
    response = client_for(people.bank).post(
        f"/api/v1/loans/{loan.pk}/default/",
        {"declared_on": "2024-07-20", "reason": "Borrower ceased trading."},
        format="json",
    )

    # then installments 2-4 read overdue at once, the later ones stay due
    assert response.status_code == 200, response.json()
    assert _statuses(loan) == EXPECTED
    # and after the close of 2026-03-31 too, with the default date, loss and split unchanged
    close(AS_OF)
    assert _statuses(loan) == EXPECTED
    _assert_default_loss_and_split(loan)


@pytest.mark.django_db
def test_a_declaration_within_the_grace_days_leaves_that_installment_due(close: Any) -> None:
    # given the book above on a loan with 23 grace days: installment 4, due 06-27, is past its due
    # date plus the grace days only after 07-20 (06-27 + 23 days = 07-20, not before it)
    loan, people = _book()
    Loan.objects.filter(pk=loan.pk).update(grace_days=23)

    # when its bank declares the default on 2024-07-20 and the close runs for 2026-03-31
    loan_default_declare(actor=people.bank, loan_id=loan.pk, default_on=DECLARED, reason="Ceased trading.")
    close(AS_OF)

    # then installments 2 and 3 are overdue, 4 is still within its grace days on the default date
    assert _statuses(loan) == ["paid", "overdue", "overdue"] + ["due"] * 9
    _assert_default_loss_and_split(loan)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("grace", "expected"), [(0, EXPECTED), (23, ["paid", "overdue", "overdue"] + ["due"] * 9)]
)
def test_the_close_catches_up_a_loan_defaulted_before_declarations_marked_overdue(
    close: Any, grace: int, expected: list[str]
) -> None:
    # given a loan declared defaulted on 2024-07-20 whose installments still read as a declaration
    # left them before this fix (2-12 due), and an active loan of the same book left alone
    loan, people = _book()
    Loan.objects.filter(pk=loan.pk).update(grace_days=grace)
    loan_default_declare(actor=people.bank, loan_id=loan.pk, default_on=DECLARED, reason="Ceased trading.")
    Installment.objects.filter(loan=loan, status=InstallmentStatus.OVERDUE).update(
        status=InstallmentStatus.DUE
    )
    assert _statuses(loan) == ["paid"] + ["due"] * 11

    # when the close runs for 2026-03-31
    close(AS_OF)

    # then the installments past due (grace included) on the default date read overdue, those due
    # after it are untouched, and the default date, loss and split are unchanged
    assert _statuses(loan) == expected
    _assert_default_loss_and_split(loan)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_issue_scenario_through_the_api_and_close_day(client_for: Any) -> None:
    # given the book above, defaulted by its bank on 2024-07-20 through the API
    loan, people = _book()
    response = client_for(people.bank).post(
        f"/api/v1/loans/{loan.pk}/default/",
        {"declared_on": "2024-07-20", "reason": "Borrower ceased trading."},
        format="json",
    )
    assert response.status_code == 200, response.json()

    # when `manage.py close_day --as-of 2026-03-31` runs (committed work, the tasks in process)
    call_command("close_day", "--as-of", AS_OF.isoformat(), stdout=StringIO())

    # then installments 2-4 read overdue and the default date, loss and split are unchanged
    assert _statuses(loan) == EXPECTED
    _assert_default_loss_and_split(loan)

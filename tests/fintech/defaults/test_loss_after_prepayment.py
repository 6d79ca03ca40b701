"""The loss at default uses the payoff's accrual when a partial prepayment split the period
(DOMAIN.md 8a and 10), figures worked by hand (actual days / 360, one rounding per stretch).

Interest monthly, 1,000,000.00 at 3.65 %, period 2025-03-01 to 04-01; 400,000.00 prepaid on 03-11
(keep_term: 600,000.00 left); default declared on 03-21:
    03-01..03-11, 10 days on 1,000,000.00: 1,000,000 x 0.0365 x 10 / 360 = 1,013.888... -> 1,013.89
    03-11..03-21, 10 days on   600,000.00:   600,000 x 0.0365 x 10 / 360 =   608.333... ->   608.33
    accrued 1,622.22; nothing due yet, so the loss is 600,000.00 + 0.00 + 1,622.22 = 601,622.22.
(The whole 20 days on the new principal would be 600,000 x 0.0365 x 20 / 360 = 1,216.67.)
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from fintech.models import Installment, Loan
from fintech.services.defaults import loan_loss


def test_the_loss_accrues_the_old_principal_up_to_a_prepayment_in_the_period():
    loan = Loan(disbursed_on=date(2025, 3, 1), annual_rate=D("0.0365"))
    rows = [
        Installment(
            seq=1,
            start_on=date(2025, 3, 1),
            due_on=date(2025, 4, 1),
            days=31,
            opening_principal=D("1000000.00"),
            principal_due=D("0.00"),
            interest_due=D("1013.89") + D("1277.50"),  # + 600,000 x 0.0365 x 21 / 360
            principal_changed_on=date(2025, 3, 11),
            principal_after_change=D("600000.00"),
        ),
        Installment(
            seq=2,
            start_on=date(2025, 4, 1),
            due_on=date(2025, 5, 1),
            days=30,
            opening_principal=D("600000.00"),
            principal_due=D("600000.00"),
            interest_due=D("1825.00"),
        ),
    ]
    loss = loan_loss(rows, loan, date(2025, 3, 21))
    assert (loss.unpaid_principal, loss.unpaid_interest) == (D("600000.00"), D("0.00"))
    assert (loss.accrued_interest, loss.loss_amount) == (D("1622.22"), D("601622.22"))

"""Interest subsidies follow the principal day by day (DOMAIN.md 8a): a partial prepayment inside
an accrual period, an early settlement in the middle of one, figures worked by hand.

LPR 1Y (DOMAIN.md 9): 3.10 % from 2024-10-21, 3.00 % from 2025-05-20; every loan here is at
4.5 %, so min(contract, benchmark) is the LPR. Subsidy = round(sum over the days of principal(d)
x LPR(d) / 360 x 25 %) = round(sum of principal x rate-days / 1,440), one rounding.

Loans: 1,000,000.00, equal principal over 12 months (83,333.33 a month), premium 20,000.00.
"""

from __future__ import annotations

from datetime import date

import pytest

from fintech.models import Installment
from fintech.selectors.ledger import loan_reconciliation
from fintech.services.prepayments import loan_prepay_partial, loan_settle_early
from tests.builders import active_loan

from .helpers import D, by_seq, pay

pytestmark = pytest.mark.django_db


def test_a_prepayment_and_an_lpr_change_in_one_accrual_period(compute):
    # given a loan disbursed 2025-02-10 (due on the 10th), installments 1-3 paid on their due
    # dates, and 150,000.00 prepaid on 2025-05-15 keeping the term: 750,000.01 before, 600,000.01
    # after, inside installment 4's period 2025-05-10..06-10, which the LPR cut of 2025-05-20
    # crosses too
    loan, people = active_loan(disbursed_on=date(2025, 2, 10), valuation_on=date(2025, 2, 1))
    pay(loan, people, [1, 2, 3])
    loan_prepay_partial(
        actor=people.bank,
        loan_id=loan.pk,
        amount=D("150000.00"),
        value_date=date(2025, 5, 15),
        recast="keep_term",
    )
    # installment 4 is charged round(750,000.01 x 0.045 x 5 / 360) + round(600,000.01 x 0.045 x 26
    # / 360) = round(468.75000625) + round(1,950.0000325) = 468.75 + 1,950.00 = 2,418.75, and its
    # principal is round(600,000.01 / 9) = 66,666.67
    row4 = Installment.objects.get(loan=loan, seq=4)
    assert (row4.interest_due, row4.principal_due) == (D("2418.75"), D("66666.67"))
    pay(loan, people, [4])

    # when the 2025Q2 run is computed (due dates 04-10, 05-10 and 06-10)
    run = compute("2025Q2")

    # then by hand:
    # #2 2025-03-10..04-10, 31 days at 3.10 %: 916,666.67 x 0.961 = 880,916.67987; / 1,440 =
    #    611.7477 -> 611.75
    # #3 2025-04-10..05-10, 30 days at 3.10 %: 833,333.34 x 0.93 = 775,000.0062; / 1,440 =
    #    538.1944 -> 538.19
    # #4 750,000.01 for 5 days at 3.10 % (05-10..05-15): x 0.155 = 116,250.00155
    #    600,000.01 for 5 days at 3.10 % and 21 days at 3.00 % (05-15..06-10): x (0.155 + 0.63)
    #    = 471,000.00785; together 587,250.0094 / 1,440 = 407.8125... -> 407.81
    #    (without the prepayment: 750,000.01 x 0.94 / 1,440 = 489.58)
    assert by_seq(run, loan) == {2: D("611.75"), 3: D("538.19"), 4: D("407.81")}
    assert run.interest_total == D("1557.75")

    # and installment 5 (2025-06-10..07-10, 30 days at 3.00 %) earns on the rebuilt principal
    # 600,000.01 - 66,666.67 = 533,333.34: x 0.9 = 480,000.006 / 1,440 = 333.3333 -> 333.33
    pay(loan, people, [5])
    assert by_seq(compute("2025Q3"), loan) == {5: D("333.33")}


def test_an_early_settlement_in_the_middle_of_a_period(compute):
    # given the servicing book's loan (disbursed 2025-02-20), installments 1-3 paid on their due
    # dates and the loan settled on 2025-06-05 at its payoff 751,500.01 (750,000.01 + 1,500.00)
    loan, people = active_loan()
    pay(loan, people, [1, 2, 3])
    loan_settle_early(actor=people.bank, loan_id=loan.pk, amount=D("751500.01"), value_date=date(2025, 6, 5))

    # when the 2025Q2 run is computed
    run = compute("2025Q2")

    # then by hand:
    # #2 2025-03-20..04-20, 31 days at 3.10 %: 916,666.67 x 0.961 / 1,440 = 611.75
    # #3 2025-04-20..05-20, 30 days at 3.10 %: 833,333.34 x 0.93 / 1,440 = 538.19
    # #4 accrued only 2025-05-20..06-05, 16 days at 3.00 %: 750,000.01 x 0.48 = 360,000.0048;
    #    / 1,440 = 250.0000033 -> 250.00; it belongs to the quarter of 06-05 (Q2), not of its
    #    due date 06-20
    # #5-#12 lost their interest: nothing
    # premium: every installment on time, settled 06-05 (in Q2): round(20,000.00 x 40 %) = 8,000.00
    assert by_seq(run, loan) == {2: D("611.75"), 3: D("538.19"), 4: D("250.00"), None: D("8000.00")}
    assert (run.interest_total, run.premium_total) == (D("1399.94"), D("8000.00"))
    # and nothing more in the next quarter
    assert by_seq(compute("2025Q3"), loan) == {}
    assert loan_reconciliation(loan).mismatches() == []

"""Late installments, the forfeit option and the premium subsidy (DOMAIN.md section 9).

The loans are 1,000,000.00 at 4.5 %, interest monthly and principal at maturity, disbursed
2024-06-01 (installments due on the 1st of each month). Their Q3 2024 interest subsidies, worked
by hand in test_interest.py: #1 718.75, #2 735.76, #3 721.18. Premium (DOMAIN.md section 7):
round(insured 1,000,000.00 x 2 % x term months / 12).
"""

from __future__ import annotations

from datetime import date

import pytest

from fintech.models import Loan, SubsidyEntitlement
from fintech.services.repayments import repayment_record
from tests.builders import active_loan

from .helpers import INTEREST_ONLY, D, by_seq, installments, pay, pay_all_on_time, set_program

pytestmark = pytest.mark.django_db


def loan_2024(term_months: int = 12, **extra):
    return active_loan(
        term_months=term_months,
        method=INTEREST_ONLY,
        disbursed_on=date(2024, 6, 1),
        valuation_on=date(2024, 5, 20),
        **extra,
    )


def test_a_late_installment_earns_nothing(compute):
    # given #1 and #3 paid on their due dates and #2 (due 2024-08-01) paid a day late
    loan, people = loan_2024()
    pay(loan, people, [1])
    pay(loan, people, [2], days_late=1)
    pay(loan, people, [3])
    assert [i.status for i in installments(loan)[:3]] == ["paid", "paid_late", "paid"]

    # when 2024Q3 is computed (the programme does not forfeit)
    run = compute("2024Q3")

    # then #2 earns nothing; #1 and #3 earn their subsidies: 718.75 + 721.18 = 1,439.93
    assert by_seq(run, loan) == {1: D("718.75"), 3: D("721.18")}
    assert run.interest_total == D("1439.93")

    # and nothing, ever: a later run of the same period adds nothing for it
    again = compute("2024Q3")
    assert again.entitlements_count == 0
    assert not SubsidyEntitlement.objects.filter(installment=installments(loan)[1]).exists()


def test_forfeit_option_drops_the_loans_later_interest_and_its_premium(compute):
    # given a programme that forfeits after a late installment, and a 3-month loan whose #2 was
    # paid a day late and #1, #3 on time, so it is settled on its maturity date 2024-09-01
    set_program(forfeit_after_late=True)
    loan, people = loan_2024(term_months=3)
    pay(loan, people, [1])
    pay(loan, people, [2], days_late=1)
    pay(loan, people, [3])
    loan.refresh_from_db()
    assert (loan.status, loan.settled_on) == ("settled", date(2024, 9, 1))

    # when 2024Q3 is computed
    run = compute("2024Q3")

    # then only #1, due before the late one, keeps its 718.75; #2 (late) and #3 (after it) earn
    # nothing, and neither does the premium
    assert by_seq(run, loan) == {1: D("718.75")}
    assert (run.interest_total, run.premium_total) == (D("718.75"), D("0.00"))
    assert run.parameters["forfeit_after_late"] is True


def test_premium_subsidy_when_the_loan_matures_with_every_installment_on_time(compute):
    # given a 3-month loan paid on every due date: settled on its maturity date 2024-09-01;
    # premium = round(1,000,000.00 x 0.02 x 3 / 12) = 5,000.00, paid in full
    loan, people = loan_2024(term_months=3)
    pay_all_on_time(loan, people)
    loan.refresh_from_db()
    assert (loan.status, loan.maturity_on, loan.policy.premium_paid_amount) == (
        "settled",
        date(2024, 9, 1),
        D("5000.00"),
    )

    # when 2024Q3 (which contains the maturity date) is computed
    run = compute("2024Q3")

    # then the premium subsidy = round(5,000.00 x 40 %) = 2,000.00, next to the three interest
    # subsidies 718.75 + 735.76 + 721.18 = 2,175.69
    assert by_seq(run, loan) == {1: D("718.75"), 2: D("735.76"), 3: D("721.18"), None: D("2000.00")}
    assert (run.interest_total, run.premium_total, run.entitlements_count) == (D("2175.69"), D("2000.00"), 4)
    premium = SubsidyEntitlement.objects.get(run=run, kind="premium")
    assert (premium.installment_id, premium.computed_amount, premium.capped) == (None, D("2000.00"), False)


def test_premium_subsidy_of_an_early_settlement_falls_in_the_settlement_period(compute):
    # given a 12-month loan (maturity 2025-06-01; premium round(1,000,000 x 0.02 x 12 / 12)
    # = 20,000.00) with #1 and #2 paid on time, then everything left paid on 2024-08-15
    loan, people = loan_2024()
    pay(loan, people, [1, 2])
    rest = sum((i.principal_due + i.interest_due for i in installments(loan)[2:]), D(0))
    repayment_record(actor=people.bank, loan_id=loan.pk, amount=rest, paid_on=date(2024, 8, 15))
    loan.refresh_from_db()
    assert (loan.status, loan.settled_on) == ("settled", date(2024, 8, 15))

    # when 2024Q3 is computed
    run = compute("2024Q3")

    # then the premium subsidy round(20,000.00 x 40 %) = 8,000.00 is due in Q3 2024 (the settlement),
    # not in Q2 2025 (the maturity); #3 (due 09-01, paid early, so on time) earns its 721.18
    assert by_seq(run, loan) == {1: D("718.75"), 2: D("735.76"), 3: D("721.18"), None: D("8000.00")}
    assert compute("2025Q2").premium_total == D("0.00")


def test_premium_subsidy_withheld_after_one_late_payment(compute):
    # given a 3-month loan whose #1 (due 2024-07-01) was paid a day late, #2 and #3 on time; it is
    # settled on 2024-09-01 and the programme does not forfeit
    loan, people = loan_2024(term_months=3)
    pay(loan, people, [1], days_late=1)
    pay(loan, people, [2, 3])
    assert Loan.objects.get(pk=loan.pk).status == "settled"

    # when 2024Q3 is computed
    run = compute("2024Q3")

    # then no premium subsidy (not every installment was on time); #2 and #3 keep their interest
    # subsidies: 735.76 + 721.18 = 1,456.94
    assert by_seq(run, loan) == {2: D("735.76"), 3: D("721.18")}
    assert (run.interest_total, run.premium_total) == (D("1456.94"), D("0.00"))


def test_no_premium_subsidy_before_the_loan_is_settled(compute):
    # given a 3-month loan with #1 and #2 paid on time but #3 (due at maturity, 2024-09-01) unpaid
    loan, people = loan_2024(term_months=3)
    pay(loan, people, [1, 2])

    # when 2024Q3 is computed
    run = compute("2024Q3")

    # then interest for #1 and #2 only, and no premium subsidy
    assert by_seq(run, loan) == {1: D("718.75"), 2: D("735.76")}

    # and when #3 is reported later (paid on its due date) a new run adds #3 and the premium:
    # 721.18 and round(5,000.00 x 40 %) = 2,000.00
    pay(loan, people, [3])
    later = compute("2024Q3")
    assert by_seq(later, loan) == {3: D("721.18"), None: D("2000.00")}

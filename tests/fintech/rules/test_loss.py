"""Loss at default and its split (DOMAIN.md section 10). Figures worked by hand in the comments.

The schedules used are the 1,000,000.00 at 0.045 loans disbursed 2025-02-20 whose rows are worked
out in test_schedules.py (due on the 20th of each month; daily interest on 1.00 = 0.000125).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from fintech.rules.loss import InstallmentPaid, LossBreakdown, loss_at_default, split_loss
from fintech.rules.schedules import PlannedInstallment, RepaymentMethod, build_schedule

D = Decimal
DISBURSED_ON = date(2025, 2, 20)
RATE = D("0.045")
FIVE_THREE_TWO = (D("5"), D("3"), D("2"))


def schedule(method: RepaymentMethod) -> tuple[PlannedInstallment, ...]:
    return build_schedule(D("1000000.00"), RATE, 12, method, DISBURSED_ON)


def paid_in_full(rows: tuple[PlannedInstallment, ...], *seqs: int) -> dict[int, InstallmentPaid]:
    return {s: InstallmentPaid(rows[s - 1].principal_due, rows[s - 1].interest_due) for s in seqs}


def test_interest_monthly_default_95_days_after_the_first_unpaid_due_date() -> None:
    # given installment 1 (due 2025-03-20) paid; installment 2 due 2025-04-20 never paid;
    # default X = 2025-04-20 + 95 days: +10 -> 04-30, +31 -> 05-31, +30 -> 06-30, +24 -> 07-24
    rows = schedule(RepaymentMethod.INTEREST_MONTHLY_PRINCIPAL_AT_MATURITY)
    paid = paid_in_full(rows, 1)

    # when the loss is computed
    loss = loss_at_default(rows, paid, DISBURSED_ON, RATE, date(2025, 7, 24))

    # then unpaid principal = 1,000,000.00 (nothing of it is due before maturity, all of it counts);
    # unpaid interest of installments 2..5 (due 04-20, 05-20, 06-20, 07-20 <= X):
    #   3,875.00 + 3,750.00 + 3,875.00 + 3,750.00 = 15,250.00;
    # accrued from 07-20 to 07-24 = 4 days on 1,000,000.00: 125.00 x 4 = 500.00;
    # loss = 1,000,000.00 + 15,250.00 + 500.00 = 1,015,750.00
    assert loss == LossBreakdown(
        unpaid_principal=D("1000000.00"),
        unpaid_interest=D("15250.00"),
        accrued_interest=D("500.00"),
        loss_amount=D("1015750.00"),
        accrual_from=date(2025, 7, 20),
        days=4,
    )
    # 5:3:2 of 1,015,750.00 = 507,875.00 / 304,725.00 / 203,150.00 (exact, no leftover fen)
    assert split_loss(loss.loss_amount, FIVE_THREE_TWO) == (D("507875.00"), D("304725.00"), D("203150.00"))


def test_equal_principal_default_95_days_after_the_first_unpaid_due_date() -> None:
    # given the walk-through loan with installments 1..3 paid; installment 4 due 2025-06-20 unpaid;
    # X = 2025-06-20 + 95 days: +10 -> 06-30, +31 -> 07-31, +31 -> 08-31, +23 -> 09-23
    rows = schedule(RepaymentMethod.EQUAL_PRINCIPAL)
    paid = paid_in_full(rows, 1, 2, 3)

    loss = loss_at_default(rows, paid, DISBURSED_ON, RATE, date(2025, 9, 23))

    # then unpaid principal = 1,000,000.00 - 3 x 83,333.33 = 750,000.01;
    # unpaid interest of 4..7 (due 06-20, 07-20, 08-20, 09-20 <= X):
    #   2,906.25 + 2,500.00 + 2,260.42 + 1,937.50 = 9,604.17;
    # accrued from 09-20, 3 days, on the scheduled principal after installment 7:
    #   1,000,000.00 - 7 x 83,333.33 = 416,666.69; x 0.000125 x 3 = 156.25000875 -> 156.25;
    # loss = 750,000.01 + 9,604.17 + 156.25 = 759,760.43
    assert loss == LossBreakdown(
        unpaid_principal=D("750000.01"),
        unpaid_interest=D("9604.17"),
        accrued_interest=D("156.25"),
        loss_amount=D("759760.43"),
        accrual_from=date(2025, 9, 20),
        days=3,
    )
    # 75,976,043 fen x 5/10 = 37,988,021.5, x 3/10 = 22,792,812.9, x 2/10 = 15,195,208.6;
    # floors sum to 75,976,041, the 2 leftover fen go to the largest remainders .9 (government)
    # and .6 (bank), not to the insurer's .5: 379,880.21 / 227,928.13 / 151,952.09
    assert split_loss(loss.loss_amount, FIVE_THREE_TWO) == (D("379880.21"), D("227928.13"), D("151952.09"))


def test_equal_installment_default_95_days_after_the_first_unpaid_due_date() -> None:
    # given installment 1 paid, installment 2 due 2025-04-20 unpaid, X = 2025-07-24 (as above)
    rows = schedule(RepaymentMethod.EQUAL_INSTALLMENT)
    paid = paid_in_full(rows, 1)

    loss = loss_at_default(rows, paid, DISBURSED_ON, RATE, date(2025, 7, 24))

    # then unpaid principal = 1,000,000.00 - 81,628.52 = 918,371.48;
    # unpaid interest of 2..5 = 3,443.89 + 3,136.64 + 2,828.23 + 2,518.67 = 11,927.43;
    # accrued (actual/360, whatever the method) from 07-20, 4 days, on the scheduled principal
    # after installment 5 = 588,784.83: x 0.045 x 4 / 360 = x 0.0005 = 294.392415 -> 294.39;
    # loss = 918,371.48 + 11,927.43 + 294.39 = 930,593.30
    assert loss == LossBreakdown(
        unpaid_principal=D("918371.48"),
        unpaid_interest=D("11927.43"),
        accrued_interest=D("294.39"),
        loss_amount=D("930593.30"),
        accrual_from=date(2025, 7, 20),
        days=4,
    )
    # 93,059,330 fen splits 5:3:2 exactly: 465,296.65 / 279,177.99 / 186,118.66
    assert split_loss(loss.loss_amount, FIVE_THREE_TWO) == (D("465296.65"), D("279177.99"), D("186118.66"))


def test_default_exactly_on_a_due_date_accrues_nothing() -> None:
    # given the walk-through loan, 1..3 paid, default declared on due date 5, 2025-07-20
    rows = schedule(RepaymentMethod.EQUAL_PRINCIPAL)
    paid = paid_in_full(rows, 1, 2, 3)

    loss = loss_at_default(rows, paid, DISBURSED_ON, RATE, date(2025, 7, 20))

    # then installment 5 counts as due; accrued from 07-20 for 0 days = 0.00;
    # unpaid interest 2,906.25 + 2,500.00 = 5,406.25; loss = 750,000.01 + 5,406.25 = 755,406.26
    assert loss == LossBreakdown(
        unpaid_principal=D("750000.01"),
        unpaid_interest=D("5406.25"),
        accrued_interest=D("0.00"),
        loss_amount=D("755406.26"),
        accrual_from=date(2025, 7, 20),
        days=0,
    )


@pytest.mark.parametrize("method", list(RepaymentMethod))
def test_default_before_the_first_due_date_accrues_from_disbursement(method: RepaymentMethod) -> None:
    # given nothing paid and default declared 2025-03-10, before the first due date 03-20
    rows = schedule(method)

    loss = loss_at_default(rows, {}, DISBURSED_ON, RATE, date(2025, 3, 10))

    # then no interest is due yet; accrued from 02-20: 8 days to 02-28 + 10 = 18 days on the full
    # principal: 125.00 x 18 = 2,250.00; loss = 1,000,000.00 + 2,250.00 = 1,002,250.00
    assert loss == LossBreakdown(
        unpaid_principal=D("1000000.00"),
        unpaid_interest=D("0.00"),
        accrued_interest=D("2250.00"),
        loss_amount=D("1002250.00"),
        accrual_from=DISBURSED_ON,
        days=18,
    )


def test_default_on_the_disbursement_date_is_the_principal() -> None:
    rows = schedule(RepaymentMethod.EQUAL_PRINCIPAL)

    loss = loss_at_default(rows, {}, DISBURSED_ON, RATE, DISBURSED_ON)

    assert (loss.loss_amount, loss.accrued_interest, loss.days) == (D("1000000.00"), D("0.00"), 0)


def test_partial_principal_payment_counts_and_accrual_uses_the_scheduled_principal() -> None:
    # given the walk-through loan: 1 paid; 2 paid its interest 3,552.08 and 40,000.00 of its
    # 83,333.33 principal; default declared 2025-05-25
    rows = schedule(RepaymentMethod.EQUAL_PRINCIPAL)
    paid = paid_in_full(rows, 1) | {2: InstallmentPaid(D("40000.00"), D("3552.08"))}

    loss = loss_at_default(rows, paid, DISBURSED_ON, RATE, date(2025, 5, 25))

    # then unpaid principal = 1,000,000.00 - 83,333.33 - 40,000.00 = 876,666.67;
    # unpaid interest: installment 2 none, installment 3 (due 05-20) 3,125.00;
    # accrued from 05-20, 5 days, on the scheduled 1,000,000.00 - 3 x 83,333.33 = 750,000.01
    # (not on what is actually owed): x 0.000125 x 5 = 468.75000625 -> 468.75;
    # loss = 876,666.67 + 3,125.00 + 468.75 = 880,260.42
    assert loss == LossBreakdown(
        unpaid_principal=D("876666.67"),
        unpaid_interest=D("3125.00"),
        accrued_interest=D("468.75"),
        loss_amount=D("880260.42"),
        accrual_from=date(2025, 5, 20),
        days=5,
    )


def test_partial_interest_payment_leaves_the_rest_of_the_interest_unpaid() -> None:
    # given 1 paid; 2 paid 1,000.00 of its 3,552.08 interest; default declared 2025-05-25
    rows = schedule(RepaymentMethod.EQUAL_PRINCIPAL)
    paid = paid_in_full(rows, 1) | {2: InstallmentPaid(D("0.00"), D("1000.00"))}

    loss = loss_at_default(rows, paid, DISBURSED_ON, RATE, date(2025, 5, 25))

    # then unpaid principal = 1,000,000.00 - 83,333.33 = 916,666.67;
    # unpaid interest = (3,552.08 - 1,000.00) + 3,125.00 = 2,552.08 + 3,125.00 = 5,677.08;
    # accrued 468.75 as above; loss = 916,666.67 + 5,677.08 + 468.75 = 922,812.50
    assert (loss.unpaid_principal, loss.unpaid_interest, loss.accrued_interest, loss.loss_amount) == (
        D("916666.67"),
        D("5677.08"),
        D("468.75"),
        D("922812.50"),
    )


def test_default_after_maturity_accrues_nothing_on_a_fully_scheduled_principal() -> None:
    # given interest monthly, installment 1 paid, default declared 2026-03-01, after the last due
    # date 2026-02-20
    rows = schedule(RepaymentMethod.INTEREST_MONTHLY_PRINCIPAL_AT_MATURITY)
    paid = paid_in_full(rows, 1)

    loss = loss_at_default(rows, paid, DISBURSED_ON, RATE, date(2026, 3, 1))

    # then all twelve are due: unpaid interest = 45,625.00 - 3,500.00 = 42,125.00; the scheduled
    # principal after the last installment is 0, so 9 days (02-20 -> 03-01) accrue 0.00;
    # loss = 1,000,000.00 + 42,125.00 = 1,042,125.00
    assert loss == LossBreakdown(
        unpaid_principal=D("1000000.00"),
        unpaid_interest=D("42125.00"),
        accrued_interest=D("0.00"),
        loss_amount=D("1042125.00"),
        accrual_from=date(2026, 2, 20),
        days=9,
    )


def test_loss_refuses_inconsistent_input() -> None:
    rows = schedule(RepaymentMethod.EQUAL_PRINCIPAL)
    with pytest.raises(ValueError, match="precede"):
        loss_at_default(rows, {}, DISBURSED_ON, RATE, date(2025, 2, 19))
    with pytest.raises(ValueError, match="unknown installment"):
        loss_at_default(rows, {13: InstallmentPaid(D("0.00"), D("0.00"))}, DISBURSED_ON, RATE, DISBURSED_ON)
    with pytest.raises(ValueError, match="interest_paid"):
        loss_at_default(rows, {1: InstallmentPaid(D("0.00"), D("3500.01"))}, DISBURSED_ON, RATE, DISBURSED_ON)
    with pytest.raises(ValueError, match="principal_paid"):
        loss_at_default(rows, {1: InstallmentPaid(D("-0.01"), D("0.00"))}, DISBURSED_ON, RATE, DISBURSED_ON)
    with pytest.raises(ValueError, match="start on"):
        loss_at_default(rows, {}, date(2025, 2, 21), RATE, date(2025, 3, 1))
    with pytest.raises(ValueError):
        loss_at_default((), {}, DISBURSED_ON, RATE, DISBURSED_ON)
    with pytest.raises(TypeError):
        loss_at_default(rows, {}, DISBURSED_ON, 0.045, DISBURSED_ON)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        loss_at_default(rows, {1: InstallmentPaid(0.0, D("0.00"))}, DISBURSED_ON, RATE, DISBURSED_ON)  # type: ignore[arg-type]


def test_split_loss_ties_go_insurer_then_government_then_bank() -> None:
    # 1 fen by 1:1:1: each exact share 1/3 fen, floors 0, the leftover fen goes to the first tie
    assert split_loss(D("0.01"), (D("1"), D("1"), D("1"))) == (D("0.01"), D("0.00"), D("0.00"))
    # 2 fen by 1:1:1: 2/3 each, floors 0, two leftover fen to insurer and government
    assert split_loss(D("0.02"), (D("1"), D("1"), D("1"))) == (D("0.01"), D("0.01"), D("0.00"))
    # 1 fen by 0:1:1: government and bank tie at 1/2, government first
    assert split_loss(D("0.01"), (D("0"), D("1"), D("1"))) == (D("0.00"), D("0.01"), D("0.00"))


def test_split_loss_needs_three_ratios() -> None:
    with pytest.raises(ValueError):
        split_loss(D("100.00"), (D("5"), D("5")))  # type: ignore[arg-type]

"""Repayment schedules (DOMAIN.md section 8). Every expected figure is worked by hand in the comments.

Shorthand: at 0.045 actual/360 the daily interest on 1.00 is 0.045 / 360 = 0.000125, so the daily
interest on 1,000,000.00 is exactly 125.00.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fintech.rules.schedules import (
    PlannedInstallment,
    RepaymentMethod,
    add_months,
    build_schedule,
    due_date,
    interest_for_days,
)

D = Decimal
IMPA = RepaymentMethod.INTEREST_MONTHLY_PRINCIPAL_AT_MATURITY
EP = RepaymentMethod.EQUAL_PRINCIPAL
EI = RepaymentMethod.EQUAL_INSTALLMENT

# Disbursed 2025-02-20: due dates on the 20th; days per period (2025 is not a leap year):
# Feb 20->Mar 20 = 28, Mar->Apr 31, Apr->May 30, May->Jun 31, Jun->Jul 30, Jul->Aug 31,
# Aug->Sep 31, Sep->Oct 30, Oct->Nov 31, Nov->Dec 30, Dec->Jan 31, Jan->Feb 31 (sum 365).
WALK_DUE = (
    date(2025, 3, 20), date(2025, 4, 20), date(2025, 5, 20), date(2025, 6, 20),
    date(2025, 7, 20), date(2025, 8, 20), date(2025, 9, 20), date(2025, 10, 20),
    date(2025, 11, 20), date(2025, 12, 20), date(2026, 1, 20), date(2026, 2, 20),
)  # fmt: skip
WALK_DAYS = (28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 31)

# Disbursed on the 31st: each due date counted from 2025-01-31, never chained.
# Jan 31->Feb 28 = 28, Feb 28->Mar 31 = 31, Mar 31->Apr 30 = 30, Apr 30->May 31 = 31,
# May 31->Jun 30 = 30, Jun 30->Jul 31 = 31, Jul 31->Aug 31 = 31, Aug 31->Sep 30 = 30,
# Sep 30->Oct 31 = 31, Oct 31->Nov 30 = 30, Nov 30->Dec 31 = 31, Dec 31->Jan 31 = 31 (sum 365).
DUE_FROM_JAN_31 = (
    date(2025, 2, 28), date(2025, 3, 31), date(2025, 4, 30), date(2025, 5, 31),
    date(2025, 6, 30), date(2025, 7, 31), date(2025, 8, 31), date(2025, 9, 30),
    date(2025, 10, 31), date(2025, 11, 30), date(2025, 12, 31), date(2026, 1, 31),
)  # fmt: skip
DAYS_FROM_JAN_31 = (28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 31)


def rows(schedule: tuple[PlannedInstallment, ...]) -> list[tuple[Decimal, Decimal, Decimal]]:
    return [(r.opening_principal, r.principal_due, r.interest_due) for r in schedule]


# --- dates -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "k", "expected"),
    [
        (date(2025, 12, 15), 1, date(2026, 1, 15)),  # year rollover
        (date(2025, 1, 15), 0, date(2025, 1, 15)),
        (date(2025, 1, 31), 1, date(2025, 2, 28)),  # February is shorter
        (date(2024, 1, 31), 1, date(2024, 2, 29)),  # leap-year February
        (date(2024, 1, 31), 2, date(2024, 3, 31)),  # from the start, not from Feb 29
        (date(2025, 1, 30), 1, date(2025, 2, 28)),
        (date(2025, 3, 31), 1, date(2025, 4, 30)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2025, 3, 31), -1, date(2025, 2, 28)),
        (date(2025, 1, 31), 25, date(2027, 2, 28)),
    ],
)
def test_add_months_keeps_the_day_or_takes_the_months_last_day(start: date, k: int, expected: date) -> None:
    assert add_months(start, k) == expected


def test_due_dates_from_the_31st_are_counted_from_disbursement_never_chained() -> None:
    # given a disbursement on 2025-01-31
    disbursed_on = date(2025, 1, 31)

    # when the twelve due dates are computed
    due = tuple(due_date(disbursed_on, k) for k in range(1, 13))

    # then March is the 31st again, not the 28th carried over from February
    assert due == DUE_FROM_JAN_31


def test_add_months_refuses_a_datetime_and_a_non_int() -> None:
    with pytest.raises(TypeError):
        add_months(date(2025, 1, 1), 1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        add_months(datetime(2025, 1, 1, 12, 0), 1)


# --- interest for days -------------------------------------------------------------------------


def test_interest_for_days_is_actual_over_360_rounded_once() -> None:
    # 1,000,000.00 x 0.045 x 95 / 360 = 125.00 x 95 = 11,875.00
    assert interest_for_days(D("1000000.00"), D("0.045"), 95) == D("11875.00")
    # 1,000.00 x 0.045 x 1 / 360 = 0.125 -> half up 0.13 (banker's rounding would give 0.12)
    assert interest_for_days(D("1000.00"), D("0.045"), 1) == D("0.13")
    # 100.00 x 0.0036 x 5 / 360 = 1.8 / 360 = 0.005 -> 0.01
    assert interest_for_days(D("100.00"), D("0.0036"), 5) == D("0.01")
    # 0 days -> 0.00
    assert interest_for_days(D("1000000.00"), D("0.045"), 0) == D("0.00")


def test_interest_for_days_refuses_floats_and_negative_days() -> None:
    with pytest.raises(TypeError):
        interest_for_days(1000.0, D("0.045"), 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        interest_for_days(D("1000.00"), 0.045, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        interest_for_days(D("1000.00"), D("0.045"), -1)


# --- interest monthly, principal at maturity ---------------------------------------------------


def test_interest_monthly_principal_at_maturity_one_million_at_4_5_percent() -> None:
    # given 1,000,000.00 at 0.045 over 12 months, disbursed 2025-02-20
    # when the schedule is built
    schedule = build_schedule(D("1000000.00"), D("0.045"), 12, IMPA, date(2025, 2, 20))

    # then interest = 125.00 x days on the full principal, principal 0 until the last takes all:
    # 28 -> 3,500.00; 31 -> 3,875.00; 30 -> 3,750.00
    assert tuple(r.seq for r in schedule) == tuple(range(1, 13))
    assert tuple(r.due_on for r in schedule) == WALK_DUE
    assert tuple(r.days for r in schedule) == WALK_DAYS
    assert schedule[0].start_on == date(2025, 2, 20)
    assert all(r.start_on == p.due_on for p, r in pairwise(schedule))
    assert [r.interest_due for r in schedule] == [
        D("3500.00"), D("3875.00"), D("3750.00"), D("3875.00"), D("3750.00"), D("3875.00"),
        D("3875.00"), D("3750.00"), D("3875.00"), D("3750.00"), D("3875.00"), D("3875.00"),
    ]  # fmt: skip
    assert [r.principal_due for r in schedule] == [D("0.00")] * 11 + [D("1000000.00")]
    assert all(r.opening_principal == D("1000000.00") for r in schedule)
    # 125.00 x 365 = 45,625.00
    assert sum(r.interest_due for r in schedule) == D("45625.00")


def test_interest_monthly_disbursed_on_the_31st() -> None:
    # given 1,000,000.00 at 0.045 over 12 months, disbursed 2025-01-31
    schedule = build_schedule(D("1000000.00"), D("0.045"), 12, IMPA, date(2025, 1, 31))

    # then the periods follow the month ends, interest 125.00 x days
    assert tuple(r.due_on for r in schedule) == DUE_FROM_JAN_31
    assert tuple(r.days for r in schedule) == DAYS_FROM_JAN_31
    # 28 x 125 = 3,500.00; 31 x 125 = 3,875.00; 30 x 125 = 3,750.00
    assert [r.interest_due for r in schedule[:3]] == [D("3500.00"), D("3875.00"), D("3750.00")]
    assert schedule[-1].principal_due == D("1000000.00")


def test_leap_year_february_from_the_31st() -> None:
    # given 360,000.00 at 0.05 disbursed 2024-01-31 over 2 months
    schedule = build_schedule(D("360000.00"), D("0.05"), 2, IMPA, date(2024, 1, 31))

    # then due 2024-02-29 (29 days) and 2024-03-31 (31 days);
    # daily interest = 360,000.00 x 0.05 / 360 = 50.00 -> 29 x 50 = 1,450.00, 31 x 50 = 1,550.00
    assert [(r.due_on, r.days, r.interest_due) for r in schedule] == [
        (date(2024, 2, 29), 29, D("1450.00")),
        (date(2024, 3, 31), 31, D("1550.00")),
    ]


# --- equal principal ---------------------------------------------------------------------------


def test_equal_principal_walkthrough_all_twelve_rows() -> None:
    # given the walk-through loan: 1,000,000.00 at 0.045, 12 months, disbursed 2025-02-20
    # when the schedule is built
    schedule = build_schedule(D("1000000.00"), D("0.045"), 12, EP, date(2025, 2, 20))

    # then principal = round(1,000,000 / 12) = round(83,333.333...) = 83,333.33 for 1..11 and the
    # last takes 1,000,000.00 - 11 x 83,333.33 = 1,000,000.00 - 916,666.63 = 83,333.37.
    # interest_k = round(opening x 0.000125 x days):
    #  1 1,000,000.00 x 0.000125 = 125.00       x 28 = 3,500.00
    #  2   916,666.67 -> 114.58333375          x 31 = 3,552.08334625 -> 3,552.08
    #  3   833,333.34 -> 104.1666675           x 30 = 3,125.000025   -> 3,125.00
    #  4   750,000.01 ->  93.75000125          x 31 = 2,906.25003875 -> 2,906.25
    #  5   666,666.68 ->  83.333335            x 30 = 2,500.0000500  -> 2,500.00
    #  6   583,333.35 ->  72.91666875          x 31 = 2,260.41673125 -> 2,260.42
    #  7   500,000.02 ->  62.5000025           x 31 = 1,937.5000775  -> 1,937.50
    #  8   416,666.69 ->  52.08333625          x 30 = 1,562.5000875  -> 1,562.50
    #  9   333,333.36 ->  41.66667             x 31 = 1,291.66677    -> 1,291.67
    # 10   250,000.03 ->  31.25000375          x 30 =   937.5001125  ->   937.50
    # 11   166,666.70 ->  20.8333375           x 31 =   645.8334625  ->   645.83
    # 12    83,333.37 ->  10.41667125          x 31 =   322.91680875 ->   322.92
    level = D("83333.33")
    assert tuple(r.due_on for r in schedule) == WALK_DUE
    assert tuple(r.days for r in schedule) == WALK_DAYS
    assert rows(schedule) == [
        (D("1000000.00"), level, D("3500.00")),
        (D("916666.67"), level, D("3552.08")),
        (D("833333.34"), level, D("3125.00")),
        (D("750000.01"), level, D("2906.25")),
        (D("666666.68"), level, D("2500.00")),
        (D("583333.35"), level, D("2260.42")),
        (D("500000.02"), level, D("1937.50")),
        (D("416666.69"), level, D("1562.50")),
        (D("333333.36"), level, D("1291.67")),
        (D("250000.03"), level, D("937.50")),
        (D("166666.70"), level, D("645.83")),
        (D("83333.37"), D("83333.37"), D("322.92")),
    ]
    assert sum(r.principal_due for r in schedule) == D("1000000.00")


def test_equal_principal_remainder_goes_to_the_last_installment_disbursed_on_the_31st() -> None:
    # given 100,000.00 at 0.045 over 3 months, disbursed 2025-01-31
    schedule = build_schedule(D("100000.00"), D("0.045"), 3, EP, date(2025, 1, 31))

    # then round(100,000 / 3) = 33,333.33 twice, the last 100,000.00 - 66,666.66 = 33,333.34;
    # interest: 100,000.00 x 0.000125 x 28 = 350.00
    #            66,666.67 x 0.000125 = 8.33333375 x 31 = 258.33334625 -> 258.33
    #            33,333.34 x 0.000125 = 4.1666675 x 30 = 125.000025 -> 125.00
    assert [(r.due_on, r.days) for r in schedule] == [
        (date(2025, 2, 28), 28),
        (date(2025, 3, 31), 31),
        (date(2025, 4, 30), 30),
    ]
    assert rows(schedule) == [
        (D("100000.00"), D("33333.33"), D("350.00")),
        (D("66666.67"), D("33333.33"), D("258.33")),
        (D("33333.34"), D("33333.34"), D("125.00")),
    ]
    assert sum(r.principal_due for r in schedule) == D("100000.00")


# --- equal installment -------------------------------------------------------------------------


def test_equal_installment_one_million_at_4_5_percent() -> None:
    # given 1,000,000.00 at 0.045 over 12 months, disbursed 2025-02-20
    schedule = build_schedule(D("1000000.00"), D("0.045"), 12, EI, date(2025, 2, 20))

    # then i = 0.045 / 12 = 0.00375; (1.00375)^2 = 1.0075140625, ^4 = 1.015084586..., ^8 =
    # 1.030396716..., ^12 = ^8 x ^4 = 1.045939823...; A = 1,000,000 x 0.00375 x 1.045939823 /
    # 0.045939823 = 3,750 x 22.7676057... = 85,378.5215... -> 85,378.52 (checked separately with
    # exact fractions). interest_k = round(opening x 0.00375), principal_k = 85,378.52 - interest_k:
    #  1 1,000,000.00 x 0.00375 = 3,750.00                 -> principal 81,628.52
    #  2   918,371.48 -> 3,443.89305      -> 3,443.89      -> 81,934.63
    #  3   836,436.85 -> 3,136.6381875    -> 3,136.64      -> 82,241.88
    #  4   754,194.97 -> 2,828.2311375    -> 2,828.23      -> 82,550.29
    #  5   671,644.68 -> 2,518.66755      -> 2,518.67      -> 82,859.85
    #  6   588,784.83 -> 2,207.9431125    -> 2,207.94      -> 83,170.58
    #  7   505,614.25 -> 1,896.0534375    -> 1,896.05      -> 83,482.47
    #  8   422,131.78 -> 1,582.994175     -> 1,582.99      -> 83,795.53
    #  9   338,336.25 -> 1,268.7609375    -> 1,268.76      -> 84,109.76
    # 10   254,226.49 ->   953.3493375    ->   953.35      -> 84,425.17
    # 11   169,801.32 ->   636.75495      ->   636.75      -> 84,741.77
    # 12    85,059.55 ->   318.9733125    ->   318.97; the last clears 85,059.55
    assert tuple(r.due_on for r in schedule) == WALK_DUE
    assert rows(schedule) == [
        (D("1000000.00"), D("81628.52"), D("3750.00")),
        (D("918371.48"), D("81934.63"), D("3443.89")),
        (D("836436.85"), D("82241.88"), D("3136.64")),
        (D("754194.97"), D("82550.29"), D("2828.23")),
        (D("671644.68"), D("82859.85"), D("2518.67")),
        (D("588784.83"), D("83170.58"), D("2207.94")),
        (D("505614.25"), D("83482.47"), D("1896.05")),
        (D("422131.78"), D("83795.53"), D("1582.99")),
        (D("338336.25"), D("84109.76"), D("1268.76")),
        (D("254226.49"), D("84425.17"), D("953.35")),
        (D("169801.32"), D("84741.77"), D("636.75")),
        (D("85059.55"), D("85059.55"), D("318.97")),
    ]
    assert all(r.principal_due + r.interest_due == D("85378.52") for r in schedule[:11])
    assert sum(r.principal_due for r in schedule) == D("1000000.00")


def test_equal_installment_payment_worked_exactly_disbursed_on_the_31st() -> None:
    # given 120,000.00 at 0.06 over 12 months, disbursed 2025-01-31
    schedule = build_schedule(D("120000.00"), D("0.06"), 12, EI, date(2025, 1, 31))

    # then i = 0.005, (1.005)^12 = 1.0616778118644996 (separate exact-fraction calculation),
    # A = 120,000 x 0.005 x 1.06167781186 / 0.06167781186 = 600 x 17.2132859... = 10,327.97156...
    # -> 10,327.97. Row 1: interest 120,000.00 x 0.005 = 600.00, principal 9,727.97.
    # Row 2: opening 110,272.03, interest 551.36015 -> 551.36, principal 9,776.61.
    # Continuing the same way the last opens at 10,276.61: interest 51.38305 -> 51.38 and
    # principal 10,276.61 (the last payment is 10,327.99, two fen over A).
    # The interest follows the monthly rate, not the days: dates are the month ends from Jan 31.
    assert tuple(r.due_on for r in schedule) == DUE_FROM_JAN_31
    assert tuple(r.days for r in schedule) == DAYS_FROM_JAN_31
    assert rows(schedule)[:2] == [
        (D("120000.00"), D("9727.97"), D("600.00")),
        (D("110272.03"), D("9776.61"), D("551.36")),
    ]
    assert all(r.principal_due + r.interest_due == D("10327.97") for r in schedule[:11])
    assert rows(schedule)[-1] == (D("10276.61"), D("10276.61"), D("51.38"))
    assert sum(r.principal_due for r in schedule) == D("120000.00")


def test_equal_installment_at_zero_rate_is_equal_principal_without_interest() -> None:
    # given 100,000.00 at 0 over 3 months: A = round(100,000 / 3) = 33,333.33, last 33,333.34
    schedule = build_schedule(D("100000.00"), D("0"), 3, EI, date(2025, 1, 31))

    assert rows(schedule) == [
        (D("100000.00"), D("33333.33"), D("0.00")),
        (D("66666.67"), D("33333.33"), D("0.00")),
        (D("33333.34"), D("33333.34"), D("0.00")),
    ]


def test_a_one_month_loan_pays_everything_at_once() -> None:
    # 50,000.00 at 0.045 for one month from 2025-02-20 (28 days):
    # 50,000 x 0.000125 x 28 = 175.00 for the first two methods;
    # equal installment: i = 0.00375, A = P i (1+i) / i = P (1+i) = 50,187.50; interest 187.50
    for method, interest in ((IMPA, D("175.00")), (EP, D("175.00")), (EI, D("187.50"))):
        (only,) = build_schedule(D("50000.00"), D("0.045"), 1, method, date(2025, 2, 20))
        assert (only.principal_due, only.interest_due) == (D("50000.00"), interest)


def test_a_tiny_loan_never_schedules_more_principal_than_is_outstanding() -> None:
    # given 0.05 over 10 months: round(0.05 / 10) = round(0.005) = 0.01 a month would exhaust the
    # principal after 5 months and leave the last installment at 0.05 - 9 x 0.01 = -0.04
    schedule = build_schedule(D("0.05"), D("0"), 10, EP, date(2025, 1, 1))

    # then the first five take 0.01 each and the rest nothing
    assert [r.principal_due for r in schedule] == [D("0.01")] * 5 + [D("0.00")] * 5


def test_method_may_be_given_as_its_value() -> None:
    assert build_schedule(D("1000.00"), D("0"), 2, "equal_principal", date(2025, 1, 1)) == build_schedule(  # type: ignore[arg-type]
        D("1000.00"), D("0"), 2, EP, date(2025, 1, 1)
    )


@pytest.mark.parametrize(
    ("principal", "rate", "term", "method", "error"),
    [
        (1000.0, D("0.045"), 12, EP, TypeError),
        (D("1000.00"), 0.045, 12, EP, TypeError),
        (1000, D("0.045"), 12, EP, TypeError),
        (D("1000.00"), D("0.045"), 12.0, EP, TypeError),
        (D("1000.00"), D("0.045"), True, EP, TypeError),
        (D("0.00"), D("0.045"), 12, EP, ValueError),
        (D("-1.00"), D("0.045"), 12, EP, ValueError),
        (D("1000.001"), D("0.045"), 12, EP, ValueError),
        (D("NaN"), D("0.045"), 12, EP, ValueError),
        (D("Infinity"), D("0.045"), 12, EP, ValueError),
        (D("1000.00"), D("-0.01"), 12, EP, ValueError),
        (D("1000.00"), D("NaN"), 12, EP, ValueError),
        (D("1000.00"), D("0.045"), 0, EP, ValueError),
        (D("1000.00"), D("0.045"), 361, EP, ValueError),
        (D("1000.00"), D("0.045"), 12, "balloon", ValueError),
    ],
)
def test_build_schedule_refuses_bad_input(
    principal: object, rate: object, term: object, method: object, error: type[Exception]
) -> None:
    with pytest.raises(error):
        build_schedule(principal, rate, term, method, date(2025, 1, 1))  # type: ignore[arg-type]


def test_build_schedule_accepts_360_months_and_fewer_places() -> None:
    schedule = build_schedule(D("1000"), D("0.045"), 360, EI, date(2025, 1, 31))
    assert len(schedule) == 360
    assert schedule[0].opening_principal == D("1000.00")
    assert schedule[-1].due_on == date(2055, 1, 31)


# --- properties --------------------------------------------------------------------------------


@given(
    principal=st.decimals(min_value=D("0.01"), max_value=D("100000000.00"), places=2),
    annual_rate=st.decimals(min_value=D("0"), max_value=D("0.36"), places=6),
    term_months=st.integers(min_value=1, max_value=360),
    method=st.sampled_from(list(RepaymentMethod)),
    disbursed_on=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)),
)
def test_any_schedule_repays_the_principal_exactly(
    principal: Decimal,
    annual_rate: Decimal,
    term_months: int,
    method: RepaymentMethod,
    disbursed_on: date,
) -> None:
    schedule = build_schedule(principal, annual_rate, term_months, method, disbursed_on)

    assert len(schedule) == term_months
    assert sum(r.principal_due for r in schedule) == principal
    assert all(r.principal_due >= 0 and r.interest_due >= 0 and r.opening_principal >= 0 for r in schedule)
    assert all(r.principal_due.as_tuple().exponent == -2 for r in schedule)
    assert all(r.interest_due.as_tuple().exponent == -2 for r in schedule)
    dues = [disbursed_on] + [r.due_on for r in schedule]
    assert all(a < b for a, b in pairwise(dues))
    assert all(r.days == (r.due_on - r.start_on).days > 0 for r in schedule)
    assert all(r.due_on == add_months(disbursed_on, r.seq) for r in schedule)
    opening = principal
    for r in schedule:
        assert r.opening_principal == opening
        opening -= r.principal_due
    assert opening == 0


def test_a_rebuild_over_the_original_dates_is_the_original_schedule():
    # rebuild_schedule is the engine of build_schedule: the same dates give the same rows
    from fintech.rules.schedules import due_date, rebuild_schedule

    for method in RepaymentMethod:
        plan = build_schedule(Decimal("1000000.00"), Decimal("0.045"), 12, method, date(2025, 2, 20))
        dates = [date(2025, 2, 20)] + [due_date(date(2025, 2, 20), k) for k in range(1, 13)]
        assert rebuild_schedule(Decimal("1000000.00"), Decimal("0.045"), method, dates, 1) == plan


def test_installments_to_clear_rounds_up():
    # ceil(600,000.01 / 83,333.33) = ceil(7.2000...) = 8; an exact multiple needs no more
    from fintech.rules.schedules import installments_to_clear

    ep = RepaymentMethod.EQUAL_PRINCIPAL
    assert installments_to_clear(Decimal("600000.01"), Decimal("0.045"), ep, Decimal("83333.33")) == 8
    assert installments_to_clear(Decimal("166666.66"), Decimal("0.045"), ep, Decimal("83333.33")) == 2
    with pytest.raises(ValueError):
        installments_to_clear(
            Decimal("1000.00"),
            Decimal("0.045"),
            RepaymentMethod.INTEREST_MONTHLY_PRINCIPAL_AT_MATURITY,
            Decimal(1),
        )

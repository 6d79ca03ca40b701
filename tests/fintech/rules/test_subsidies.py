"""The subsidy rules in plain Python (DOMAIN.md section 9), with figures worked by hand.

The benchmark table is typed in here from DOMAIN.md's text (not read from the migration), so these
tests also check the rules against the document.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from fintech.rules.subsidies import (
    BenchmarkRow,
    InstallmentFacts,
    InvalidPeriod,
    LoanFacts,
    Owed,
    RateSegment,
    SubsidyParams,
    apply_cap,
    benchmark_on,
    cap_book,
    interest_subsidy,
    loan_subsidies,
    parse_period,
    period_containing,
    premium_subsidy,
    rate_days,
    rate_days_day_by_day,
    rate_segments,
)

D = Decimal
PBOC = [
    BenchmarkRow(date(2015, 10, 24), 1, 12, D("0.0435")),
    BenchmarkRow(date(2015, 10, 24), 13, 60, D("0.0475")),
    BenchmarkRow(date(2015, 10, 24), 61, None, D("0.0490")),
]
LPR_TEXT = """2019-08-20 4.25/4.85; 2019-09-20 4.20/4.85; 2019-11-20 4.15/4.80; 2020-02-20 4.05/4.75;
2020-04-20 3.85/4.65; 2021-12-20 3.80/4.65; 2022-01-20 3.70/4.60; 2022-05-20 3.70/4.45; 2022-08-22 3.65/4.30;
2023-06-20 3.55/4.20; 2023-08-21 3.45/4.20; 2024-02-20 3.45/3.95; 2024-07-22 3.35/3.85; 2024-10-21 3.10/3.60;
2025-05-20 3.00/3.50"""


def _lpr() -> list[BenchmarkRow]:
    rows = []
    for item in LPR_TEXT.replace("\n", " ").split(";"):
        day, rates = item.split()
        one, five = rates.split("/")
        on = date.fromisoformat(day)
        rows.append(BenchmarkRow(on, 1, 60, D(one) / 100))
        rows.append(BenchmarkRow(on, 61, None, D(five) / 100))
    return rows


TABLE = PBOC + _lpr()


# --- periods -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "start", "end"),
    [
        ("2025Q3", "quarter", date(2025, 7, 1), date(2025, 9, 30)),
        ("2024Q1", "quarter", date(2024, 1, 1), date(2024, 3, 31)),
        ("2025Q4", "quarter", date(2025, 10, 1), date(2025, 12, 31)),
        ("2025-07", "month", date(2025, 7, 1), date(2025, 7, 31)),
        ("2024-02", "month", date(2024, 2, 1), date(2024, 2, 29)),  # leap year
        ("2025-12", "month", date(2025, 12, 1), date(2025, 12, 31)),
    ],
)
def test_periods(text, kind, start, end):
    period = parse_period(text)
    assert (period.label, period.kind, period.start, period.end, period.year) == (
        text,
        kind,
        start,
        end,
        start.year,
    )


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2025",
        "2025Q0",
        "2025Q5",
        "2025q3",
        "2025-00",
        "2025-13",
        "2025-7",
        "25Q3",
        "0000Q1",
        "2025Q3 ",
        "Q3-2025",
        "2025-07-01",
    ],
)
def test_bad_periods(text):
    if text == "2025Q3 ":  # surrounding blanks are forgiven
        assert parse_period(text).label == "2025Q3"
        return
    with pytest.raises(InvalidPeriod):
        parse_period(text)


def test_a_period_must_be_of_the_programmes_kind():
    assert parse_period("2025Q3", "quarter").kind == "quarter"
    with translation.override("en"), pytest.raises(InvalidPeriod, match="quarter"):
        parse_period("2025-07", "quarter")
    with translation.override("en"), pytest.raises(InvalidPeriod, match="month"):
        parse_period("2025Q3", "month")
    # and in Chinese, wholly: the kind by its Chinese name
    with translation.override("zh-hans"), pytest.raises(InvalidPeriod, match="季度"):
        parse_period("2025-07", "quarter")


def test_the_period_of_a_day_and_the_labels_a_quarter_covers():
    assert period_containing(date(2024, 7, 1), "quarter").label == "2024Q3"
    assert period_containing(date(2024, 9, 30), "quarter").label == "2024Q3"
    assert period_containing(date(2024, 10, 1), "quarter").label == "2024Q4"
    assert period_containing(date(2024, 2, 29), "month").label == "2024-02"
    assert parse_period("2025Q3").labels() == ("2025Q3", "2025-07", "2025-08", "2025-09")
    assert parse_period("2025-08").labels() == ("2025-08",)


# --- the benchmark -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "term", "rate"),
    [
        (date(2015, 10, 23), 12, None),  # before the table's first row
        (date(2019, 8, 19), 12, "0.0435"),  # PBOC up to 1 year
        (date(2019, 8, 19), 13, "0.0475"),  # PBOC 1-5 years
        (date(2019, 8, 19), 60, "0.0475"),
        (date(2019, 8, 19), 61, "0.0490"),  # PBOC beyond 5 years
        (date(2019, 8, 20), 12, "0.0425"),  # the first LPR: 1Y for terms up to 60 months ...
        (date(2019, 8, 20), 60, "0.0425"),
        (date(2019, 8, 20), 61, "0.0485"),  # ... 5Y beyond
        (date(2024, 7, 21), 12, "0.0345"),
        (date(2024, 7, 22), 12, "0.0335"),
        (date(2024, 7, 22), 120, "0.0385"),
        (date(2026, 5, 31), 36, "0.0300"),
    ],
)
def test_benchmark_in_force(day, term, rate):
    assert benchmark_on(TABLE, day, term) == (None if rate is None else D(rate))


def test_the_narrower_bucket_wins_when_two_rows_of_a_day_cover_a_term():
    rows = [*TABLE, BenchmarkRow(date(2025, 5, 20), 13, 60, D("0.0299"))]
    assert benchmark_on(rows, date(2025, 6, 1), 24) == D("0.0299")
    assert benchmark_on(rows, date(2025, 6, 1), 12) == D("0.0300")


def test_an_accrual_period_is_split_where_a_new_lpr_takes_effect():
    # 2024-07-01..2024-08-01: 3.45 % until 07-21, 3.35 % from 07-22
    assert rate_segments(TABLE, date(2024, 7, 1), date(2024, 8, 1), 12) == [
        RateSegment(date(2024, 7, 1), date(2024, 7, 22), D("0.0345")),
        RateSegment(date(2024, 7, 22), date(2024, 8, 1), D("0.0335")),
    ]
    assert [s.days for s in rate_segments(TABLE, date(2024, 7, 1), date(2024, 8, 1), 12)] == [21, 10]
    # a fixing on the first day of the period does not split it
    assert rate_segments(TABLE, date(2024, 7, 22), date(2024, 8, 22), 12) == [
        RateSegment(date(2024, 7, 22), date(2024, 8, 22), D("0.0335"))
    ]


def test_rate_days_of_the_brief():
    # 21 days x 0.0345 + 10 days x 0.0335 = 0.7245 + 0.335 = 1.0595 (contract 4.5 % above both)
    assert rate_days(TABLE, date(2024, 7, 1), date(2024, 8, 1), D("0.045"), 12) == D("1.0595")


def test_the_contract_rate_caps_each_day():
    # contract 3.40 %: 21 days x 3.40 % (below 3.45 %) + 10 days x 3.35 % = 0.714 + 0.335 = 1.049
    assert rate_days(TABLE, date(2024, 7, 1), date(2024, 8, 1), D("0.034"), 12) == D("1.049")
    # contract 3 %: 31 days x 3 % = 0.93
    assert rate_days(TABLE, date(2024, 7, 1), date(2024, 8, 1), D("0.03"), 12) == D("0.93")


def test_benchmark_fixed_at_disbursement():
    # disbursed 2024-06-01 (3.45 % in force): 31 days x 3.45 % = 1.0695, whatever changes later
    assert rate_days(
        TABLE, date(2024, 7, 1), date(2024, 8, 1), D("0.045"), 12, fixed_on=date(2024, 6, 1)
    ) == D("1.0695")


def test_days_before_the_first_benchmark_count_nothing():
    # 2015-10-20..2015-10-28: 4 days unknown, then 4 days x 4.35 % = 0.174
    assert rate_days(TABLE, date(2015, 10, 20), date(2015, 10, 28), D("0.05"), 12) == D("0.1740")


# --- the amounts ---------------------------------------------------------------------------------


def test_interest_subsidy_of_the_brief_is_rounded_once():
    # 1,000,000 x 1.0595 / 360 x 0.25 = 735.7638... -> 735.76
    assert interest_subsidy(D("1000000.00"), D("1.0595"), D("0.25")) == D("735.76")
    # rounding each segment instead would give 503.125 -> 503.13 plus 232.638... -> 232.64 = 735.77
    assert interest_subsidy(D("1000000.00"), D("0.7245"), D("0.25")) + interest_subsidy(
        D("1000000.00"), D("0.335"), D("0.25")
    ) == D("735.77")


def test_a_half_fen_is_rounded_up():
    # 1,000,000 x 1.3365 / 360 = 3,712.5; x 0.25 = 928.125 -> 928.13
    assert interest_subsidy(D("1000000.00"), D("1.3365"), D("0.25")) == D("928.13")
    # 360,000.00 x 1.0595 x 0.25 / 360 = 264.875 -> 264.88
    assert interest_subsidy(D("360000.00"), D("1.0595"), D("0.25")) == D("264.88")
    # premium 10.05 x 50 % = 5.025 -> 5.03
    assert premium_subsidy(D("10.05"), D("0.5")) == D("5.03")


def test_premium_subsidy():
    # round(5,000.00 x 40 %) = 2,000.00; round(4,567.89 x 40 %) = 1,827.156 -> 1,827.16
    assert premium_subsidy(D("5000.00"), D("0.40")) == D("2000.00")
    assert premium_subsidy(D("4567.89"), D("0.40")) == D("1827.16")


def test_the_cap_cuts_the_entitlement_that_crosses_it():
    # cap 1,500.00: 718.75 (left 781.25), 735.76 (left 45.49), 721.18 -> 45.49
    assert apply_cap([D("718.75"), D("735.76"), D("721.18")], D("0.00"), D("1500.00")) == [
        (D("718.75"), False),
        (D("735.76"), False),
        (D("45.49"), True),
    ]
    # with 1,600.00 already granted this year, nothing is left
    assert apply_cap([D("718.75")], D("1600.00"), D("1500.00")) == [(D("0.00"), True)]
    # exactly reaching the cap is not a cut
    assert apply_cap([D("500.00")], D("1000.00"), D("1500.00")) == [(D("500.00"), False)]


# --- a loan, a book ------------------------------------------------------------------------------


def _june_loan(statuses: list[str], settled_on: date | None = None, term: int = 3) -> LoanFacts:
    """1,000,000.00 at 4.5 %, interest monthly, disbursed 2024-06-01; installment k due the 1st of
    month 6 + k."""
    starts = [date(2024, 6 + k, 1) for k in range(term)]
    dues = [date(2024, 7 + k, 1) for k in range(term)]
    rows = tuple(
        InstallmentFacts(k + 1, starts[k], dues[k], D("1000000.00"), status)
        for k, status in enumerate(statuses)
    )
    return LoanFacts(
        7,
        70,
        term,
        D("0.045"),
        date(2024, 6, 1),
        dues[-1],
        settled_on,
        "settled" if settled_on else "active",
        D("5000.00"),
        rows,
    )


def test_a_loan_paid_on_time_earns_interest_and_premium():
    loan = _june_loan(["paid", "paid", "paid"], settled_on=date(2024, 9, 1))
    owed = loan_subsidies(loan, parse_period("2024Q3"), SubsidyParams(), TABLE)
    # 718.75, 735.76, 721.18 (worked in tests/fintech/subsidies/test_interest.py) and 2,000.00
    assert [(o.seq, o.kind, o.computed_amount) for o in owed] == [
        (1, "interest", D("718.75")),
        (2, "interest", D("735.76")),
        (3, "interest", D("721.18")),
        (None, "premium", D("2000.00")),
    ]


@pytest.mark.parametrize("late", ["paid_late", "overdue"])
def test_forfeit_after_a_late_or_overdue_installment(late):
    loan = _june_loan(["paid", late, "paid"], settled_on=date(2024, 9, 1) if late == "paid_late" else None)
    plain = loan_subsidies(loan, parse_period("2024Q3"), SubsidyParams(), TABLE)
    forfeit = loan_subsidies(loan, parse_period("2024Q3"), SubsidyParams(forfeit_after_late=True), TABLE)
    # without forfeiting: #1 and #3; no premium either way (not every installment on time)
    assert [(o.seq, o.computed_amount) for o in plain] == [(1, D("718.75")), (3, D("721.18"))]
    # forfeiting: #1 only
    assert [(o.seq, o.computed_amount) for o in forfeit] == [(1, D("718.75"))]


def test_cap_book_orders_by_date_then_loan_and_caps_per_sme():
    a = Owed(
        loan_id=2, sme_id=1, seq=1, kind="interest", event_on=date(2024, 7, 1), computed_amount=D("600.00")
    )
    b = Owed(
        loan_id=1, sme_id=1, seq=1, kind="interest", event_on=date(2024, 7, 1), computed_amount=D("600.00")
    )
    c = Owed(
        loan_id=1, sme_id=1, seq=None, kind="premium", event_on=date(2024, 7, 1), computed_amount=D("500.00")
    )
    d = Owed(
        loan_id=9, sme_id=2, seq=1, kind="interest", event_on=date(2024, 8, 1), computed_amount=D("700.00")
    )
    out = cap_book([d, a, c, b], {1: D("100.00")}, D("1500.00"))
    # SME 1 has 1,400.00 left: loan 1's interest 600.00 (800.00 left), loan 1's premium 500.00
    # (300.00 left), loan 2's interest cut to 300.00; SME 2 is untouched
    assert [(o.loan_id, o.kind, amount, capped) for o, amount, capped in out] == [
        (1, "interest", D("600.00"), False),
        (1, "premium", D("500.00"), False),
        (2, "interest", D("300.00"), True),
        (9, "interest", D("700.00"), False),
    ]


# --- properties ----------------------------------------------------------------------------------

days_since_2015 = st.integers(min_value=0, max_value=(date(2026, 5, 31) - date(2015, 10, 1)).days)


@settings(max_examples=300, deadline=None)
@given(
    start=days_since_2015,
    length=st.integers(min_value=1, max_value=62),
    term=st.integers(min_value=1, max_value=120),
    contract=st.decimals(min_value=D("0.0001"), max_value=D("0.0999"), places=4),
)
def test_segments_equal_the_rule_day_by_day(start, length, term, contract):
    first = date(2015, 10, 1) + timedelta(days=start)
    last = first + timedelta(days=length)
    assert rate_days(TABLE, first, last, contract, term) == rate_days_day_by_day(
        TABLE, first, last, contract, term
    )
    segments = rate_segments(TABLE, first, last, term)
    assert sum(s.days for s in segments) == length
    assert segments[0].start == first and segments[-1].end == last

"""Interest subsidies computed by a run (set-based SQL) against figures worked by hand from
DOMAIN.md section 9: subsidy = round(opening principal x sum over the accrual days of
min(contract rate, benchmark of the day) / 360 x 25 %), one rounding at the end.

Benchmarks used (DOMAIN.md): PBOC since 2015-10-24: 4.35 % up to 1 year, 4.75 % 1-5 years; LPR 1Y:
2019-08-20 4.25 %, 2019-09-20 4.20 %, 2023-08-21 3.45 %, 2024-07-22 3.35 %, 2024-10-21 3.10 %,
2025-05-20 3.00 %.
"""

from __future__ import annotations

from datetime import date

import pytest

from fintech.errors import InvalidInput
from fintech.models import SubsidyEntitlement, SubsidyRun
from fintech.services.subsidies import subsidy_run_start
from tests.builders import active_loan
from tests.factories import wuhan_program

from .helpers import INTEREST_ONLY, D, by_seq, pay, set_program

pytestmark = pytest.mark.django_db


def june_2024_loan(rate: str = "0.045", **extra):
    """1,000,000.00 for 12 months, interest monthly and principal at maturity (the outstanding
    principal is 1,000,000.00 in every accrual period), disbursed 2024-06-01: installments due on
    the 1st of each month, 2024-07-01 first."""
    return active_loan(
        principal=D("1000000.00"),
        annual_rate=D(rate),
        method=INTEREST_ONLY,
        disbursed_on=date(2024, 6, 1),
        valuation_on=date(2024, 5, 20),
        **extra,
    )


def test_accrual_period_straddling_an_lpr_change_is_split(compute):
    # given the June 2024 loan at 4.5 %, its first three installments paid on their due dates
    loan, people = june_2024_loan()
    pay(loan, people, [1, 2, 3])

    # when the 2024Q3 run is computed (due dates 07-01, 08-01 and 09-01 fall in Q3)
    run = compute("2024Q3")

    # then, by hand (LPR 1Y 3.45 % until 2024-07-21, 3.35 % from 2024-07-22; both below 4.5 %):
    # #1 2024-06-01..07-01, 30 days x 0.0345 = 1.035 rate-days:
    #    1,000,000 x 1.035 / 360 x 0.25 = 718.75
    # #2 2024-07-01..08-01 straddles 07-22: 21 days x 0.0345 + 10 days x 0.0335 = 0.7245 + 0.335
    #    = 1.0595; 1,000,000 x 1.0595 / 360 x 0.25 = 735.7638... -> 735.76
    # #3 2024-08-01..09-01, 31 days x 0.0335 = 1.0385: 1,000,000 x 1.0385 / 360 x 0.25
    #    = 721.1805... -> 721.18
    assert by_seq(run, loan) == {1: D("718.75"), 2: D("735.76"), 3: D("721.18")}
    # and the run's totals: 718.75 + 735.76 + 721.18 = 2,175.69 over 3 entitlements, nothing capped
    assert (run.status, run.interest_total, run.premium_total, run.entitlements_count) == (
        "computed",
        D("2175.69"),
        D("0.00"),
        3,
    )
    assert not SubsidyEntitlement.objects.filter(run=run, capped=True).exists()
    assert set(SubsidyEntitlement.objects.filter(run=run).values_list("period", "year", "status")) == {
        ("2024Q3", 2024, "computed")
    }


def test_loan_before_2019_08_20_uses_the_pboc_benchmark_of_its_term(compute):
    # given two loans disbursed 2019-01-10, before the LPR reform, with contract rates above the
    # benchmark: 1,000,000.00 for 12 months at 5.5 % (PBOC up to 1 year: 4.35 %) and 500,000.00 for
    # 24 months at 6 % (PBOC 1-5 years: 4.75 %); installments 1 and 2 paid on time
    short, people = active_loan(
        principal=D("1000000.00"),
        annual_rate=D("0.055"),
        term_months=12,
        method=INTEREST_ONLY,
        disbursed_on=date(2019, 1, 10),
        valuation_on=date(2019, 1, 2),
    )
    long, people2 = active_loan(
        principal=D("500000.00"),
        annual_rate=D("0.06"),
        term_months=24,
        method=INTEREST_ONLY,
        disbursed_on=date(2019, 1, 10),
        valuation_on=date(2019, 1, 2),
    )
    pay(short, people, [1, 2])
    pay(long, people2, [1, 2])

    # when 2019Q1 is computed (due dates 2019-02-10 and 2019-03-10)
    run = compute("2019Q1")

    # then the 12-month loan: #1 2019-01-10..02-10, 31 days x 0.0435 = 1.3485:
    #   1,000,000 x 1.3485 / 360 x 0.25 = 936.4583... -> 936.46
    # #2 2019-02-10..03-10, 28 days x 0.0435 = 1.218: 1,000,000 x 1.218 / 360 x 0.25 = 845.8333... -> 845.83
    assert by_seq(run, short) == {1: D("936.46"), 2: D("845.83")}
    # and the 24-month loan: #1 31 x 0.0475 = 1.4725: 500,000 x 1.4725 / 360 x 0.25 = 511.2847... -> 511.28
    # #2 28 x 0.0475 = 1.33: 500,000 x 1.33 / 360 x 0.25 = 461.8055... -> 461.81
    assert by_seq(run, long) == {1: D("511.28"), 2: D("461.81")}
    # 936.46 + 845.83 + 511.28 + 461.81 = 2,755.38
    assert run.interest_total == D("2755.38")


def test_period_across_the_lpr_reform_splits_pboc_and_lpr_days_and_rounds_a_tie_half_up(compute):
    # given 1,000,000.00 for 12 months at 5 %, disbursed 2019-08-01; installment 1 paid on time
    loan, people = active_loan(
        annual_rate=D("0.05"),
        method=INTEREST_ONLY,
        disbursed_on=date(2019, 8, 1),
        valuation_on=date(2019, 7, 20),
    )
    pay(loan, people, [1])

    # when 2019Q3 is computed (installment 1 is due 2019-09-01)
    run = compute("2019Q3")

    # then 2019-08-01..09-01: 19 days (08-01..08-19) on the PBOC 4.35 % + 12 days (08-20..08-31)
    # on the first LPR 4.25 % = 0.8265 + 0.51 = 1.3365 rate-days;
    # 1,000,000 x 1.3365 / 360 = 3,712.5; x 0.25 = 928.125 exactly: a half fen, rounded up -> 928.13
    assert by_seq(run, loan) == {1: D("928.13")}


def test_contract_rate_below_the_benchmark_caps_the_daily_rate(compute):
    # given two June 2024 loans: at 3 % (below both LPRs of July) and at 3.40 % (between 3.45 % and
    # 3.35 %), installment 2 (2024-07-01..08-01) of each paid on time
    low, p1 = june_2024_loan("0.03")
    mid, p2 = june_2024_loan("0.034")
    pay(low, p1, [1, 2])
    pay(mid, p2, [1, 2])

    # when 2024Q3 is computed
    run = compute("2024Q3")

    # then at 3 %: min(3 %, LPR) = 3 % on each of the 31 days: 0.93 rate-days;
    #   1,000,000 x 0.93 / 360 x 0.25 = 645.8333... -> 645.83
    # (#1, 30 days: 0.9 -> 1,000,000 x 0.9 / 360 x 0.25 = 625.00)
    assert by_seq(run, low) == {1: D("625.00"), 2: D("645.83")}
    # and at 3.40 %: 21 days x min(3.40, 3.45) = 3.40 % -> 0.714, then 10 days x min(3.40, 3.35)
    #   = 3.35 % -> 0.335: 1.049; 1,000,000 x 1.049 / 360 x 0.25 = 728.4722... -> 728.47
    # (#1, 30 days x 3.40 % = 1.02 -> 1,000,000 x 1.02 / 360 x 0.25 = 708.3333... -> 708.33)
    assert by_seq(run, mid) == {1: D("708.33"), 2: D("728.47")}


def test_equal_principal_uses_each_periods_outstanding_principal(compute):
    # given the walk-through's loan: 1,000,000.00 at 4.5 %, 12 months equal principal from 2025-02-20
    # (principal round(1,000,000 / 12) = 83,333.33 a month, so the outstanding principal is
    # 916,666.67 over #2, 833,333.34 over #3, 750,000.01 over #4), installments 1-4 paid on time
    loan, people = active_loan()
    pay(loan, people, [1, 2, 3, 4])

    # when 2025Q2 is computed (due 2025-04-20, 05-20, 06-20)
    run = compute("2025Q2")

    # then #2 2025-03-20..04-20, 31 days x 3.10 % = 0.961:
    #   916,666.67 x 0.961 = 880,916.66987; / 360 x 0.25 = 611.7476... -> 611.75
    # #3 04-20..05-20, 30 days x 3.10 % (the 3.00 % of 05-20 starts the next period) = 0.93:
    #   833,333.34 x 0.93 = 775,000.0062; / 360 x 0.25 = 538.1944... -> 538.19
    # #4 05-20..06-20, 31 days x 3.00 % = 0.93: 750,000.01 x 0.93 = 697,500.0093; / 360 x 0.25
    #   = 484.37500645... -> 484.38
    assert by_seq(run, loan) == {2: D("611.75"), 3: D("538.19"), 4: D("484.38")}
    assert run.interest_total == D("1634.32")  # 611.75 + 538.19 + 484.38


def test_benchmark_fixed_at_disbursement_serves_every_day(compute):
    # given a programme fixing the benchmark at disbursement, and the June 2024 loan (on 2024-06-01
    # the LPR 1Y in force is 3.45 %), installments 1-3 paid on time
    set_program(benchmark_mode="fixed_at_disbursement")
    loan, people = june_2024_loan()
    pay(loan, people, [1, 2, 3])

    # when 2024Q3 is computed
    run = compute("2024Q3")

    # then the 3.35 % of 2024-07-22 changes nothing: 3.45 % every day.
    # #1 30 x 0.0345 = 1.035 -> 718.75; #2 and #3, 31 x 0.0345 = 1.0695:
    #   1,000,000 x 1.0695 / 360 x 0.25 = 742.7083... -> 742.71
    assert by_seq(run, loan) == {1: D("718.75"), 2: D("742.71"), 3: D("742.71")}
    assert run.parameters["benchmark_mode"] == "fixed_at_disbursement"


def test_monthly_programme_runs_by_month(compute, regulators):
    # given a programme paying by month and the June 2024 loan, installments 1 and 2 paid on time
    set_program(subsidy_period="month")
    loan, people = june_2024_loan()
    pay(loan, people, [1, 2])

    # when July 2024 is computed
    run = compute("2024-07")

    # then only installment 1 (due 2024-07-01) belongs to July: 718.75
    assert by_seq(run, loan) == {1: D("718.75")}
    assert SubsidyEntitlement.objects.get(run=run).period == "2024-07"

    # and a quarter is refused for this programme, with nothing written
    before = SubsidyRun.objects.count()
    with pytest.raises(InvalidInput) as refused:
        subsidy_run_start(actor=regulators.starter, program_id=wuhan_program().pk, period="2024Q3")
    assert "period" in refused.value.fields
    assert SubsidyRun.objects.count() == before


def test_unpaid_and_future_installments_earn_nothing_yet(compute):
    # given the June 2024 loan with only installment 1 paid
    loan, people = june_2024_loan()
    pay(loan, people, [1])

    # when 2024Q3 is computed
    run = compute("2024Q3")

    # then #2 and #3 (unpaid) have no entitlement yet
    assert by_seq(run, loan) == {1: D("718.75")}

"""The annual cap per SME, both kinds together (DOMAIN.md section 9): an entitlement that would
cross the cap is cut to what is left and marked capped; earlier runs of the year count.

June 2024 loan (1,000,000.00 at 4.5 %, interest monthly, disbursed 2024-06-01), by hand as in
test_interest.py: Q3 #1 718.75, #2 735.76, #3 721.18. Q4: #4 2024-09-01..10-01, 30 days x 3.35 %
= 1.005 -> 1,000,000 x 1.005 / 360 x 0.25 = 697.9166... -> 697.92; #5 10-01..11-01: 20 days x
3.35 % + 11 days x 3.10 % (from 10-21) = 0.67 + 0.341 = 1.011 -> 702.0833... -> 702.08; #6
11-01..12-01, 30 days x 3.10 % = 0.93 -> 645.8333... -> 645.83. 2025Q1 #8 2025-01-01..02-01,
31 days x 3.10 % = 0.961 -> 667.3611... -> 667.36.
"""

from __future__ import annotations

from datetime import date

import pytest

from fintech.models import SubsidyEntitlement, SubsidyRunChunk
from fintech.services.subsidies import subsidy_chunk_compute, subsidy_run_start
from tests.builders import active_loan
from tests.factories import wuhan_program

from .helpers import INTEREST_ONLY, D, amounts, pay, set_program

pytestmark = pytest.mark.django_db


def june_2024_loan(**extra):
    return active_loan(
        method=INTEREST_ONLY, disbursed_on=date(2024, 6, 1), valuation_on=date(2024, 5, 20), **extra
    )


def test_the_cap_cuts_the_entitlement_that_crosses_it(compute):
    # given a cap of 1,500.00 a year and installments 1-3 paid on time
    set_program(annual_subsidy_cap=D("1500.00"))
    loan, people = june_2024_loan()
    pay(loan, people, [1, 2, 3])

    # when 2024Q3 is computed
    run = compute("2024Q3")

    # then in due-date order: #1 718.75 (left 781.25), #2 735.76 (left 45.49), #3 cut from 721.18
    # to 45.49 and marked capped; the SME gets exactly the cap
    assert amounts(run) == [
        (loan.pk, 1, "interest", D("718.75"), D("718.75"), False),
        (loan.pk, 2, "interest", D("735.76"), D("735.76"), False),
        (loan.pk, 3, "interest", D("721.18"), D("45.49"), True),
    ]
    assert run.interest_total == D("1500.00")


def test_earlier_runs_of_the_year_count_against_the_cap_and_a_new_year_starts_afresh(compute):
    # given the 1,500.00 cap reached in 2024Q3, and installments 4-8 paid on time
    set_program(annual_subsidy_cap=D("1500.00"))
    loan, people = june_2024_loan()
    pay(loan, people, [1, 2, 3])
    compute("2024Q3")
    pay(loan, people, [4, 5, 6, 7, 8])

    # when 2024Q4 is computed
    q4 = compute("2024Q4")

    # then nothing is left of 2024's cap: each Q4 entitlement is computed but cut to 0.00
    assert amounts(q4) == [
        (loan.pk, 4, "interest", D("697.92"), D("0.00"), True),
        (loan.pk, 5, "interest", D("702.08"), D("0.00"), True),
        (loan.pk, 6, "interest", D("645.83"), D("0.00"), True),
    ]
    assert (q4.interest_total, q4.entitlements_count) == (D("0.00"), 3)

    # and in 2025 the cap starts again: #7 (2024-12-01..2025-01-01, 31 x 3.10 % -> 667.36) and #8
    # (667.36) are in full
    q1 = compute("2025Q1")
    assert [(seq, amount, capped) for _, seq, _, _, amount, capped in amounts(q1)] == [
        (7, D("667.36"), False),
        (8, D("667.36"), False),
    ]


def test_the_cap_spans_both_kinds_and_every_loan_of_the_sme(compute):
    # given one SME with two loans: the 12-month June loan (#1-#3 paid on time) and a 3-month
    # June loan paid on time and settled on 2024-09-01 (premium round(1,000,000 x 0.02 x 3 / 12)
    # = 5,000.00 -> subsidy 2,000.00); cap 4,000.00
    set_program(annual_subsidy_cap=D("4000.00"))
    first, people = june_2024_loan()
    second, _ = june_2024_loan(term_months=3, people=people)
    pay(first, people, [1, 2, 3])
    pay(second, people, [1, 2, 3])

    # when 2024Q3 is computed
    run = compute("2024Q3")

    # then the SME's entitlements in order (due date, loan, kind):
    # 07-01 first #1 718.75 (used 718.75), second #1 718.75 (1,437.50),
    # 08-01 first #2 735.76 (2,173.26), second #2 735.76 (2,909.02),
    # 09-01 first #3 721.18 (3,630.20), second #3 721.18 -> cut to 369.80 (4,000.00),
    #       second's premium 2,000.00 -> cut to 0.00
    assert amounts(run) == [
        (first.pk, 1, "interest", D("718.75"), D("718.75"), False),
        (first.pk, 2, "interest", D("735.76"), D("735.76"), False),
        (first.pk, 3, "interest", D("721.18"), D("721.18"), False),
        (second.pk, None, "premium", D("2000.00"), D("0.00"), True),
        (second.pk, 1, "interest", D("718.75"), D("718.75"), False),
        (second.pk, 2, "interest", D("735.76"), D("735.76"), False),
        (second.pk, 3, "interest", D("721.18"), D("369.80"), True),
    ]
    assert run.interest_total + run.premium_total == D("4000.00")


def test_another_smes_entitlements_do_not_use_its_cap(compute):
    # given a cap of 1,000.00 and two SMEs, each with the June loan and #1-#2 paid on time
    set_program(annual_subsidy_cap=D("1000.00"))
    a, pa = june_2024_loan()
    b, pb = june_2024_loan()
    pay(a, pa, [1, 2])
    pay(b, pb, [1, 2])

    # when 2024Q3 is computed
    run = compute("2024Q3")

    # then each SME gets 718.75 + (1,000.00 - 718.75 = 281.25): 1,000.00 apiece
    for loan in (a, b):
        rows = SubsidyEntitlement.objects.filter(run=run, loan=loan).order_by("installment__seq")
        assert [(e.amount, e.capped) for e in rows] == [(D("718.75"), False), (D("281.25"), True)]
    assert run.interest_total == D("2000.00")


def test_a_run_still_computing_has_announced_amounts_that_a_later_run_of_the_year_counts(regulators, compute):
    # given a cap of 3,000.00; SME A's June loan with installments 1-6 paid on time and another
    # SME's June loan; a 2024Q3 run cut into one chunk per loan, of which only A's has run: A's
    # Q3 entitlements 718.75 + 735.76 + 721.18 = 2,175.69 fit the cap whatever comes later, so
    # that chunk announced them (their events are out) while the run is still computing
    set_program(annual_subsidy_cap=D("3000.00"))
    loan, people = june_2024_loan()
    other, other_people = june_2024_loan()
    pay(loan, people, [1, 2, 3, 4, 5, 6])
    pay(other, other_people, [1])
    q3 = subsidy_run_start(
        actor=regulators.starter, program_id=wuhan_program().pk, period="2024Q3", chunk_size=1
    )
    first, second = SubsidyRunChunk.objects.filter(run=q3).order_by("lo_id").values_list("pk", flat=True)
    subsidy_chunk_compute(first)
    assert SubsidyEntitlement.objects.filter(run=q3, loan=loan, announced=True).count() == 3

    # when 2024Q4 is computed meanwhile (#4 697.92, #5 702.08, #6 645.83 before the cap)
    q4 = compute("2024Q4")

    # then the announced 2,175.69 count against Q4: #4 in full (2,873.61), #5 cut to 126.39, #6 0
    assert amounts(q4) == [
        (loan.pk, 4, "interest", D("697.92"), D("697.92"), False),
        (loan.pk, 5, "interest", D("702.08"), D("126.39"), True),
        (loan.pk, 6, "interest", D("645.83"), D("0.00"), True),
    ]
    # and when the Q3 run finishes, its announced amounts stand as announced: the year's total is the cap
    subsidy_chunk_compute(second)
    q3.refresh_from_db()
    assert q3.status == "computed"
    assert [row[3:] for row in amounts(q3) if row[0] == loan.pk] == [
        (D("718.75"), D("718.75"), False),
        (D("735.76"), D("735.76"), False),
        (D("721.18"), D("721.18"), False),
    ]
    assert sum(
        SubsidyEntitlement.objects.filter(sme=loan.sme_id, year=2024).values_list("amount", flat=True)
    ) == D("3000.00")

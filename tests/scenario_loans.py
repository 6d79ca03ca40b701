"""Loans as the scenario engine reads them (fintech.rules.scenarios.LoanState), built from a schedule
of fintech.rules.schedules with every installment due by the as-of date paid in full and the rest
still due: the books of tests/fintech/scenarios/test_engine.py and bench/scenarios.py. Plain
arithmetic, no database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from fintech.rules import scenarios as sc
from fintech.rules.schedules import PlannedInstallment
from fintech.rules.subsidies import BenchmarkRow

ZERO = Decimal("0.00")

# The Wuhan subsidy terms and an LPR of 3.00 % (1 year) / 3.50 % (over 5 years) from 2025-05-20,
# for the forecast part of these books.
TERMS = sc.SubsidyTerms(
    interest_subsidy_rate=Decimal("0.25"),
    premium_subsidy_rate=Decimal("0.40"),
    benchmark_mode="daily",
    forfeit_after_late=False,
    annual_cap=Decimal("500000.00"),
    period_kind="quarter",
)
LPR = [
    BenchmarkRow(date(2025, 5, 20), 0, 60, Decimal("0.0300")),
    BenchmarkRow(date(2025, 5, 20), 61, None, Decimal("0.0350")),
]


def paid_through(schedule: Sequence[PlannedInstallment], as_of: date) -> tuple[sc.InstallmentState, ...]:
    """The schedule's installments, those due on or before `as_of` paid in full."""
    return tuple(
        sc.InstallmentState(
            seq=r.seq,
            start_on=r.start_on,
            due_on=r.due_on,
            opening_principal=r.opening_principal,
            principal_due=r.principal_due,
            interest_due=r.interest_due,
            principal_paid=r.principal_due if r.due_on <= as_of else ZERO,
            interest_paid=r.interest_due if r.due_on <= as_of else ZERO,
            status="paid" if r.due_on <= as_of else "due",
        )
        for r in schedule
    )


def loan_state(
    schedule: Sequence[PlannedInstallment],
    *,
    annual_rate: Decimal,
    disbursed_on: date,
    as_of: date,
    loan_id: int = 1,
    sme_id: int | None = None,
    grade: str = "B",
    premium_paid: Decimal = ZERO,
) -> sc.LoanState:
    """One loan on `schedule`, paid on time up to `as_of` (its own SME unless `sme_id` says)."""
    return sc.LoanState(
        loan_id=loan_id,
        sme_id=loan_id if sme_id is None else sme_id,
        grade=grade,
        industry="industry",
        annual_rate=annual_rate,
        term_months=len(schedule),
        disbursed_on=disbursed_on,
        maturity_on=schedule[-1].due_on,
        default_days_past_due=90,
        premium_paid=premium_paid,
        installments=paid_through(schedule, as_of),
    )

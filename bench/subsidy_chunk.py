"""Benchmark: a subsidy chunk computed set-based in SQL against a Python loop per installment.

Not a test. It builds a book of loans on a scratch SQLite database (or DATABASE_URL), then times,
in the same process and on the same rows, two ways of computing the interest and premium
subsidies of one period:

- baseline: what a straightforward implementation does, a Python loop per installment that
  loads the rows through the ORM, computes with the reference rules (fintech/rules/subsidies.py)
  and saves one entitlement per row;
- candidate: the chunk's set-based INSERT ... SELECT (fintech/services/subsidies.py).

Both write the same entitlements (checked), each inside a transaction that is rolled back. It
prints the figures and the speed-up as a ratio, which is what to compare across machines.

    python bench/subsidy_chunk.py [--loans 40] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.pop("CELERY_BROKER_URL", None)

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402

from fintech.models import BenchmarkRate, Installment, Loan, SubsidyEntitlement, SubsidyRun, User  # noqa: E402
from fintech.rules import subsidies as rules  # noqa: E402
from fintech.services import subsidies as service  # noqa: E402
from fintech.services.repayments import repayment_record  # noqa: E402


class Rollback(Exception):
    pass


def build_book(loans: int) -> None:
    from tests.builders import active_loan, cast

    people = cast()
    for k in range(loans):
        disbursed_on = date(2025, 1, 10 + k % 15)
        loan, _ = active_loan(people=people, disbursed_on=disbursed_on, valuation_on=date(2025, 1, 2))
        for row in Installment.objects.filter(loan=loan, due_on__lt=date(2025, 10, 1)).order_by("seq"):
            repayment_record(
                actor=people.bank,
                loan_id=loan.pk,
                amount=row.principal_due + row.interest_due,
                paid_on=row.due_on,
            )


def baseline(run: SubsidyRun, period: rules.Period, params: rules.SubsidyParams) -> list[tuple]:
    """A Python loop per installment, one ORM round trip per row."""
    rows = [
        rules.BenchmarkRow(b.effective_on, b.term_min_months, b.term_max_months, b.rate)
        for b in BenchmarkRate.objects.all()
    ]
    made = []
    for inst in Installment.objects.filter(loan__status="active", due_on__range=(period.start, period.end)):
        loan = Loan.objects.get(pk=inst.loan_id)
        if inst.status != "paid":
            continue
        days = rules.rate_days(rows, inst.start_on, inst.due_on, loan.annual_rate, loan.term_months)
        amount = rules.interest_subsidy(inst.opening_principal, days, params.interest_subsidy_rate)
        SubsidyEntitlement.objects.create(
            run=run,
            program_id=run.program_id,
            sme_id=loan.sme_id,
            loan=loan,
            installment=inst,
            kind="interest",
            period=run.period,
            year=period.year,
            computed_amount=amount,
            amount=amount,
        )
        made.append((inst.pk, amount))
    return sorted(made)


def candidate(run: SubsidyRun) -> list[tuple]:
    ids = Loan.objects.order_by("pk").values_list("pk", flat=True)
    service._insert_entitlements(run, ids.first(), ids.last())
    return sorted(SubsidyEntitlement.objects.filter(run=run).values_list("installment_id", "amount"))


def timed(fn, *args) -> tuple[float, list[tuple]]:
    result: list[tuple] = []
    start = time.perf_counter()
    try:
        with transaction.atomic():
            result = fn(*args)
            raise Rollback
    except Rollback:
        pass
    return time.perf_counter() - start, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loans", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    build_book(args.loans)
    regulator = User.objects.filter(organization__kind="platform").first() or User.objects.first()
    program = Loan.objects.first().program  # type: ignore[union-attr]
    period = rules.parse_period("2025Q2", program.subsidy_period)
    run = SubsidyRun.objects.create(
        program=program,
        period=period.label,
        period_start=period.start,
        period_end=period.end,
        started_by=regulator,
        parameters=service._snapshot(program, 500),
    )
    params = service.run_params(run)
    installments = Installment.objects.filter(due_on__range=(period.start, period.end)).count()
    base_times, cand_times = [], []
    for _ in range(args.repeat):
        t_base, base_rows = timed(baseline, run, period, params)
        t_cand, cand_rows = timed(candidate, run)
        if base_rows != cand_rows:
            print("MISMATCH: the two ways disagree", file=sys.stderr)
            return 1
        base_times.append(t_base)
        cand_times.append(t_cand)
    b, c = min(base_times), min(cand_times)
    print(
        f"loans: {args.loans}, installments in {period.label}: {installments}, entitlements: {len(cand_rows)}"
    )
    print(f"baseline (Python loop per row): {b * 1000:.1f} ms; set-based SQL: {c * 1000:.1f} ms")
    print(f"speed-up (baseline / set-based): {b / c:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: the scenario simulation over a synthetic book against a plain NumPy reference.

Not a test. It builds a book of loans in memory (schedules from fintech/rules/schedules.py, grades
A/B/C, 12-36 months, three repayment methods), then times in the same process:

- prepare: the per-loan work before the paths (loss at each possible default installment with the
  rule book's loss formula, subsidies per period, thresholds);
- candidate: fintech.rules.scenarios.simulate, the paths (copula draws, default installment,
  loss and lost subsidies per path);
- reference: the plain NumPy loop of the same draw: the same generator, seed and chunks, each
  chunk's defaults as `x < threshold` and the path loss as a matrix product with a fixed loss per
  loan. It does the least any implementation must do.

It prints the absolute times and `ratio scenario_10k <candidate / reference> target <limit>`;
the whole scenario (prepare + paths) must also stay under a minute on the 2-core machine.

    python bench/scenarios.py [--loans 10000] [--paths 10000]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import numpy as np  # noqa: E402

from fintech.rules import scenarios as sc  # noqa: E402
from fintech.rules.schedules import RepaymentMethod, build_schedule  # noqa: E402
from tests.scenario_loans import LPR, TERMS, loan_state  # noqa: E402

RATIO_TARGET = 3.0  # the paths may cost at most 3x the bare draw (they also find the default month)
TOTAL_LIMIT_SECONDS = 60.0
AS_OF = date(2026, 6, 30)
METHODS = list(RepaymentMethod)


def synthetic_book(n: int, seed: int = 7) -> list[sc.LoanState]:
    rnd = random.Random(seed)
    loans = []
    for i in range(n):
        term = rnd.choice((12, 24, 36))
        disbursed = date(2025 + rnd.randint(0, 1), rnd.randint(1, 12), rnd.randint(1, 28))
        if disbursed > AS_OF:
            disbursed = date(2025, disbursed.month, disbursed.day)
        principal = Decimal(rnd.randrange(200_000, 5_000_000)).quantize(Decimal("1.00"))
        rate = Decimal("0.0400") + Decimal(rnd.randint(0, 150)) / Decimal(10_000)
        schedule = build_schedule(principal, rate, term, rnd.choice(METHODS), disbursed)
        if schedule[-1].due_on <= AS_OF:
            schedule = build_schedule(principal, rate, 36, RepaymentMethod.EQUAL_PRINCIPAL, disbursed)
        loans.append(
            loan_state(
                schedule,
                annual_rate=rate,
                disbursed_on=disbursed,
                as_of=AS_OF,
                loan_id=i + 1,
                sme_id=i // 2 + 1,
                grade=rnd.choice(sc.GRADES),
                premium_paid=(principal * Decimal("0.01")).quantize(Decimal("1.00")),
            )
        )
    return loans


def reference(book: sc.PreparedBook, params: sc.ScenarioParams) -> np.ndarray:
    """The plain NumPy draw: same generator, chunks and thresholds; a fixed loss per loan."""
    rng = np.random.Generator(np.random.PCG64(params.seed))
    rho = float(params.correlation)
    a, b = math.sqrt(rho), math.sqrt(1 - rho)
    fixed_loss = book.loss_fen[:, 0].astype(np.float64)
    out = np.zeros(params.paths)
    done = 0
    while done < params.paths:
        size = min(params.chunk_paths, params.paths - done)
        z = rng.standard_normal(size)
        x = rng.standard_normal((size, len(fixed_loss)))
        x = a * z[:, None] + b * x
        out[done : done + size] = (x < book.last_threshold) @ fixed_loss
        done += size
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loans", type=int, default=10_000)
    parser.add_argument("--paths", type=int, default=10_000)
    args = parser.parse_args()
    params = sc.ScenarioParams(
        horizon_months=12,
        paths=args.paths,
        seed=20260630,
        pd_by_grade=sc.DEFAULT_PD_BY_GRADE,
        recovery_rate=sc.DEFAULT_RECOVERY_RATE,
        correlation=sc.DEFAULT_CORRELATION,
    )
    t0 = time.perf_counter()
    loans = synthetic_book(args.loans)
    t1 = time.perf_counter()
    book = sc.prepare_book(loans, params, AS_OF, TERMS, LPR)
    t2 = time.perf_counter()
    paths = sc.simulate(book, params)
    results = sc.party_results(
        paths.loss_fen, (Decimal("0.5"), Decimal("0.3"), Decimal("0.2")), Decimal("1e8"), 12
    )
    sc.forecast_rows(book, paths)
    t3 = time.perf_counter()
    ref = reference(book, params)
    t4 = time.perf_counter()
    prepare, candidate, plain = t2 - t1, t3 - t2, t4 - t3
    print(f"book: {args.loans} loans built in {t1 - t0:.1f} s; {args.paths} paths")
    print(f"prepare {prepare:.2f} s, paths + figures {candidate:.2f} s, plain numpy draw {plain:.2f} s")
    print(f"scenario total {prepare + candidate:.2f} s (limit {TOTAL_LIMIT_SECONDS:.0f} s)")
    print(f"mean defaults per path {paths.defaults.mean():.1f}; reference mean loss {ref.mean() / 100:,.2f}")
    print(f"total EL {results['expected_loss']['total']}  VaR99 {results['var_99']['total']}")  # type: ignore[index]
    print(f"ratio scenario_10k {candidate / plain:.2f} target {RATIO_TARGET:.2f}")
    if prepare + candidate > TOTAL_LIMIT_SECONDS:
        print("FAIL: over the time limit")
        sys.exit(1)


if __name__ == "__main__":
    main()

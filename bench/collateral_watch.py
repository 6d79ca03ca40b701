"""The nightly collateral watch over a book of active loans, against one SQL statement computing
the same coverage.

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> CELERY_BROKER_URL=redis://127.0.0.1:6379/<n>
    .venv/bin/python bench/book.py --installments 1400000
    .venv/bin/python bench/collateral_watch.py --name 100k [--workers 2 | --in-process]

The book of bench/book.py has no pledged patents (but its template loans, built through the
services, have theirs, valued at origination); this script adds one per loan first (a patent
of the loan's SME, its pledge and an appraisal of 1.0 to 2.9 x the principal, valued ten days
before disbursement, valid 12 months; 1 % of the patents lapsed, fees paid through the term), with
INSERT ... SELECT, once. Then, as of AS_OF:

- the floor: ONE statement computing every active loan's coverage (value x (1 - haircut) x term
  factor, summed, over the outstanding principal) and the count per level;
- the service: the watch job (services.watch) for AS_OF, then for the next day: `watch_day`
  in this process (start, dispatch, wait) with the chunks (4,000 loans each,
  services.watch.CHUNK_SIZE) on real Celery workers started here (bench/processes.py,
  `--workers 2`), or with `--in-process` each chunk's task run in this process; night 1 raises
  the findings, night 2 (the next day, the usual night) sees them again. Each night is timed
  from the start to the run done.

The two must agree: the number of loans per level and the sum of the coverage ratios. Prints
`ratio collateral_watch_<name> <night 2 / floor> target 2.00`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "off")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402

from bench.processes import start_workers, stop  # noqa: E402

AS_OF = date(2025, 9, 30)
TARGET = Decimal("2.00")
DEAD = "('lapsed', 'invalidated', 'expired', 'terminated', 'waived')"

SEED_SQL = """
WITH l AS (
    SELECT id, sme_id, principal, disbursed_on, approved_by_id FROM fintech_loan
    WHERE NOT EXISTS (SELECT 1 FROM fintech_pledge p WHERE p.loan_id = fintech_loan.id)
), p AS (
    INSERT INTO fintech_patent (created_at, application_number, title, patent_type, filing_date, grant_date,
        claims_count, term_adjustment_days, expires_on, status, owner_id, external_id, fees_paid_through_year)
    SELECT now(), 'B' || l.id, 'Bench patent ' || l.id, 'invention', DATE '2019-01-01' + (l.id % 700)::int,
        DATE '2021-01-01' + (l.id % 700)::int, 1, 0, DATE '2038-12-31' + (l.id % 700)::int,
        CASE WHEN l.id % 100 = 7 THEN 'lapsed' ELSE 'in_force' END, l.sme_id, 'bench-' || l.id, 20
    FROM l RETURNING id, external_id
), g AS (
    INSERT INTO fintech_pledge (created_at, loan_id, registration_number, registered_on, secured_amount,
        recorded_by_id)
    SELECT now(), l.id, 'BENCH-' || l.id, l.disbursed_on - 5, l.principal, l.approved_by_id FROM l
    RETURNING id, loan_id
), i AS (
    INSERT INTO fintech_pledgedpatent (pledge_id, patent_id, is_active)
    SELECT g.id, p.id, true FROM g JOIN p ON p.external_id = 'bench-' || g.loan_id
    RETURNING patent_id
)
INSERT INTO fintech_collateralappraisal (loan_id, patent_id, value, valued_on, valid_until, created_at)
SELECT l.id, p.id, round(l.principal * (1.0 + (l.id % 20) / 10.0), 2), l.disbursed_on - 10,
    ((l.disbursed_on - 10) + INTERVAL '12 months')::date, now()
FROM l JOIN p ON p.external_id = 'bench-' || l.id
"""

FLOOR_SQL = f"""
WITH v AS (
    SELECT pl.loan_id, round(a.value * (1 - CASE
            WHEN pt.status IN {DEAD} OR pt.expires_on < %(d)s THEN pr.haircut_dead_rate
            WHEN a.valid_until < %(d)s
                THEN greatest(pr.haircut_valuation_expired_rate, pr.haircut_in_force_rate)
            ELSE pr.haircut_in_force_rate END)
        * least(1, greatest(0, pt.expires_on - %(d)s)::numeric
                   / nullif(pt.expires_on - a.valued_on, 0)), 2) AS value
    FROM fintech_pledgedpatent pp
    JOIN fintech_pledge pl ON pl.id = pp.pledge_id
    JOIN fintech_loan l ON l.id = pl.loan_id AND l.status = 'active'
    JOIN fintech_program pr ON pr.id = l.program_id
    JOIN fintech_patent pt ON pt.id = pp.patent_id
    LEFT JOIN LATERAL (SELECT value, valued_on, valid_until FROM fintech_collateralappraisal c
                       WHERE c.loan_id = l.id AND c.patent_id = pt.id
                       ORDER BY valued_on DESC, id DESC LIMIT 1) la ON true
    LEFT JOIN fintech_valuation va ON va.application_id = l.application_id
    LEFT JOIN fintech_patentvaluation pv ON pv.valuation_id = va.id AND pv.patent_id = pt.id
    CROSS JOIN LATERAL (SELECT coalesce(la.value, pv.value, 0) AS value,
                               CASE WHEN la.value IS NULL THEN va.valuation_date ELSE la.valued_on END
                                   AS valued_on,
                               CASE WHEN la.value IS NULL THEN va.valid_until ELSE la.valid_until END
                                   AS valid_until
                       ) a
    WHERE pp.is_active
), vs AS (
    SELECT loan_id, sum(value) AS s FROM v GROUP BY loan_id
), o AS (
    SELECT i.loan_id, sum(i.principal_due - i.principal_paid) AS outstanding
    FROM fintech_installment i JOIN fintech_loan l ON l.id = i.loan_id AND l.status = 'active'
    GROUP BY i.loan_id
), c AS (
    SELECT l.id, pr.coverage_warning_level AS warn, pr.coverage_shortfall_level AS short,
        round(coalesce(vs.s, 0) / nullif(o.outstanding, 0), 6) AS coverage
    FROM fintech_loan l JOIN fintech_program pr ON pr.id = l.program_id
    JOIN o ON o.loan_id = l.id LEFT JOIN vs ON vs.loan_id = l.id
    WHERE l.status = 'active'
)
SELECT count(*), count(*) FILTER (WHERE coverage < short),
    count(*) FILTER (WHERE coverage >= short AND coverage < warn),
    coalesce(sum(coverage), 0)
FROM c
"""


def seed() -> int:
    with transaction.atomic(), connection.cursor() as cursor:
        # A fresh first night: the findings of an earlier run of this benchmark go.
        cursor.execute(
            "DELETE FROM fintech_notification; DELETE FROM fintech_findingaction;"
            " DELETE FROM fintech_finding; DELETE FROM fintech_watchchunk; DELETE FROM fintech_watchrun"
        )
        cursor.execute(SEED_SQL)
        added = cursor.rowcount
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return added


def floor(as_of: date) -> tuple[float, tuple[int, int, int, Decimal]]:
    with connection.cursor() as cursor:
        cursor.execute("SET jit = off")  # a hand-written statement: its estimates are known to be off
        started = time.monotonic()
        cursor.execute(FLOOR_SQL, {"d": as_of})
        row = cursor.fetchone()
        took = time.monotonic() - started
        cursor.execute("RESET jit")
    return took, (int(row[0]), int(row[1]), int(row[2]), Decimal(row[3]))


def watch(as_of: date, chunk_size: int) -> tuple[float, dict[str, int]]:
    """The watch job for `as_of`, started and waited for here (services.watch.watch_day); its
    chunks go to the workers through the broker, or run in this process (eager)."""
    from fintech.services.watch import watch_day

    started = time.monotonic()
    run = watch_day(as_of, chunk_size=chunk_size, poll=0.05)
    took = time.monotonic() - started
    if run.status != "done":
        raise SystemExit(f"watch {as_of}: {run.status} {run.error}")
    return took, {
        "chunks": run.chunks_total,
        "loans_watched": run.loans_watched,
        "findings_raised": run.findings_raised,
        "findings_resolved": run.findings_resolved,
    }


def service_levels(as_of: date) -> tuple[int, int, int, Decimal]:
    """The same figures from the service's own coverage (selectors.collateral.loans_cover)."""
    from fintech.models import Loan, LoanStatus
    from fintech.selectors.collateral import loans_cover

    ids = list(Loan.objects.filter(status=LoanStatus.ACTIVE).order_by("pk").values_list("pk", flat=True))
    counts, total = {"shortfall": 0, "warning": 0, "ok": 0}, Decimal("0")
    for start in range(0, len(ids), 2000):
        for cover in loans_cover(ids[start : start + 2000], as_of).values():
            counts[cover.level] += 1
            total += cover.coverage or 0
    return len(ids), counts["shortfall"], counts["warning"], total


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--name", default="100k")
    parser.add_argument("--as-of", type=date.fromisoformat, default=AS_OF)
    parser.add_argument("--chunk-size", type=int, default=None, help="default services.watch.CHUNK_SIZE")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes started here")
    parser.add_argument("--in-process", action="store_true", help="run the chunk tasks in this process")
    args = parser.parse_args()
    if args.chunk_size is None:
        from fintech.services.watch import CHUNK_SIZE

        args.chunk_size = CHUNK_SIZE
    if connection.vendor != "postgresql":
        raise SystemExit("needs PostgreSQL: DATABASE_URL=postgres://...")
    added = seed()
    print(f"pledged patents added {added}")
    floor_s, floor_figures = floor(args.as_of)
    print(
        f"floor {floor_s:.2f} s: loans {floor_figures[0]}, shortfall {floor_figures[1]}, "
        f"warning {floor_figures[2]}, sum of coverage {floor_figures[3]}"
    )
    own = service_levels(args.as_of)
    agree = own == floor_figures
    print(
        f"service coverage: loans {own[0]}, shortfall {own[1]}, warning {own[2]}, sum {own[3]}; "
        f"{'equal to the floor' if agree else 'DIFFERS from the floor'}"
    )
    from config.celery import app

    workers = None
    if args.in_process:
        app.conf.task_always_eager = True
        print("chunks run in this process")
    else:
        if not os.environ.get("CELERY_BROKER_URL"):
            raise SystemExit("needs CELERY_BROKER_URL=redis://... (or --in-process)")
        queue = f"bench-{uuid.uuid4().hex[:8]}"
        log = ROOT / "bench" / f".worker-{queue}.log"
        app.conf.task_always_eager = False
        app.conf.task_default_queue = queue
        workers = start_workers(queue, args.workers, log, env={"CELERY_QUEUE": queue})
        with app.connection_for_write() as conn:  # the broker connection warmed before the clock
            conn.ensure_connection(max_retries=3)
        print(f"chunks on {args.workers} Celery worker processes (queue {queue})")
    try:
        night1, raised = watch(args.as_of, args.chunk_size)
        print(f"watch night 1 {night1:.2f} s {raised}")
        night2, seen = watch(args.as_of + timedelta(days=1), args.chunk_size)
        print(f"watch night 2 {night2:.2f} s {seen}")
    finally:
        if workers is not None:
            stop(workers)
            log.unlink()
    ratio = Decimal(night2 / floor_s).quantize(Decimal("0.01"))
    print(f"ratio collateral_watch_{args.name} {ratio} target {TARGET}")
    if not agree:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

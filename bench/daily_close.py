"""Daily close catching up a book to a date: the service through Celery (real workers started here)
against its floor, on two copies of the same book, outputs compared to the fen.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<book db> CELERY_BROKER_URL=redis://127.0.0.1:6379/<n> \\
        .venv/bin/python bench/daily_close.py --name 100k [--workers 2]

The book database (built by bench/book.py, e.g. `--installments 1400000` for 100k loans) is left
untouched but for a `VACUUM ANALYZE` (nobody else may be connected to it while it is copied): it
is the template of two copies made here (`CREATE DATABASE ... TEMPLATE`), <db>_floor and
<db>_service, dropped at the end unless `--keep`. On the first copy the floor does the close's
work in ONE SQL statement with data-modifying CTEs: installments overdue, loans defaulted (loan,
application and policy statuses), loss events with the rule book's loss (docs/rules.md section 7:
unpaid principal + unpaid interest due by the default date + interest accrued since the last due
date, actual/360, rounded half up to the fen) split 5:3:2 by the largest-remainder rule, and the
fund's draws. On the second copy the service (services.close.close_day) runs with its chunks on a
real Celery worker (`--concurrency <workers>`), and also writes what the floor leaves out: the
audit trail, the ledger entries and the transition records of each default.

Prints `floor`, `service`, and `ratio daily_close_<name> <service / floor> target 2.00`. The
figures compared: installments overdue, loans closed, loans defaulted, the sums of the loss
events' parts and shares, the fund's draws, and a digest of every loss event (loan, default date,
loss, shares) to the fen.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.processes import start_workers, stop  # noqa: E402

AS_OF = date(2025, 9, 30)  # bench/book.py's AS_OF

# The floor: the close of every loan to close, in one statement. Same rules as services.close
# (which loans, the default day, overdue marking up to it) and services.defaults / rules.loss.
FLOOR_SQL = """
WITH cl AS (
    SELECT l.id, l.grace_days, l.default_days_past_due AS dpd, l.program_id, l.application_id,
           l.policy_id, l.disbursed_on, l.annual_rate
    FROM fintech_loan l
    WHERE l.status = 'active' AND l.disbursed_on <= %(as_of)s
      AND (l.last_closed_on IS NULL OR l.last_closed_on < %(as_of)s)
), crossed AS (
    SELECT cl.*, f.first_due, f.first_due + cl.dpd + 1 AS crossed_on
    FROM cl JOIN (
        SELECT i.loan_id, MIN(i.due_on) AS first_due
        FROM fintech_installment i JOIN cl ON cl.id = i.loan_id
        WHERE i.status IN ('due', 'overdue')
        GROUP BY i.loan_id
    ) f ON f.loan_id = cl.id
    WHERE f.first_due + cl.dpd + 1 <= %(as_of)s
), dft AS (
    SELECT * FROM (
        SELECT c.*, GREATEST(c.crossed_on, (
            SELECT MAX(r.paid_on) FROM fintech_repayment r
            WHERE r.loan_id = c.id
              AND NOT EXISTS (SELECT 1 FROM fintech_repaymentreversal v WHERE v.repayment_id = r.id)
        )) AS default_on
        FROM crossed c
    ) d WHERE d.default_on <= %(as_of)s
), overdue AS (
    UPDATE fintech_installment i SET status = 'overdue'
    FROM (SELECT cl.id, COALESCE(d.default_on, %(as_of)s) - cl.grace_days AS before
          FROM cl LEFT JOIN dft d ON d.id = cl.id) b
    WHERE i.loan_id = b.id AND i.status = 'due' AND i.due_on < b.before
    RETURNING i.id
), loss AS (
    SELECT d.id, d.program_id, d.default_on, d.first_due, d.dpd,
           SUM(i.principal_due) - SUM(i.principal_paid) AS unpaid_principal,
           COALESCE(SUM(i.interest_due - i.interest_paid) FILTER (WHERE i.due_on <= d.default_on), 0)
               AS unpaid_interest,
           ROUND(COALESCE(SUM(i.principal_due) FILTER (WHERE i.due_on > d.default_on), 0) * d.annual_rate
                 * (d.default_on - COALESCE(MAX(i.due_on) FILTER (WHERE i.due_on <= d.default_on),
                                            d.disbursed_on)) / 360, 2) AS accrued_interest
    FROM dft d JOIN fintech_installment i ON i.loan_id = d.id
    GROUP BY d.id, d.program_id, d.default_on, d.first_due, d.dpd, d.annual_rate, d.disbursed_on
), parts AS (  -- largest remainder: floors, then the leftover fen by remainder, ties insurer first
    SELECT s.id, s.k,
           s.fl + CASE WHEN ROW_NUMBER() OVER (PARTITION BY s.id ORDER BY s.exact - s.fl DESC, s.k)
                            <= s.fen - SUM(s.fl) OVER (PARTITION BY s.id) THEN 1 ELSE 0 END AS fen_part
    FROM (
        SELECT l.id, v.k, v.exact, FLOOR(v.exact) AS fl, l.fen
        FROM (SELECT loss.*, ((unpaid_principal + unpaid_interest + accrued_interest) * 100)::bigint AS fen
              FROM loss) l
        JOIN fintech_program p ON p.id = l.program_id
        CROSS JOIN LATERAL (VALUES
            (1, l.fen * p.insurer_share / (p.insurer_share + p.government_share + p.bank_share)),
            (2, l.fen * p.government_share / (p.insurer_share + p.government_share + p.bank_share)),
            (3, l.fen * p.bank_share / (p.insurer_share + p.government_share + p.bank_share))
        ) v(k, exact)
    ) s
), shares AS (
    SELECT l.*, p.insurer_share AS r1, p.government_share AS r2, p.bank_share AS r3,
           MAX(fen_part) FILTER (WHERE k = 1) / 100.0 AS s1,
           MAX(fen_part) FILTER (WHERE k = 2) / 100.0 AS s2,
           MAX(fen_part) FILTER (WHERE k = 3) / 100.0 AS s3
    FROM loss l JOIN parts ON parts.id = l.id JOIN fintech_program p ON p.id = l.program_id
    GROUP BY l.id, l.program_id, l.default_on, l.first_due, l.dpd, l.unpaid_principal, l.unpaid_interest,
             l.accrued_interest, p.insurer_share, p.government_share, p.bank_share
), fund AS (  -- each draw sees the balance the previous left (loans in id order)
    SELECT s.*, b.balance - COALESCE(SUM(s.s2) OVER (PARTITION BY s.program_id ORDER BY s.id
                                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS balance_before
    FROM shares s LEFT JOIN LATERAL (
        SELECT COALESCE(SUM(CASE WHEN m.kind = 'draw' THEN -m.amount ELSE m.amount END), 0) AS balance
        FROM fintech_fundmovement m WHERE m.program_id = s.program_id
    ) b ON true
), events AS (
    INSERT INTO fintech_lossevent (loan_id, program_id, default_on, declared_by_id, reason, unpaid_principal,
        unpaid_interest, accrued_interest, loss_amount, insurer_ratio, government_ratio, bank_ratio,
        insurer_share, government_share, bank_share, fund_balance_before, unfunded_amount, created_at)
    SELECT id, program_id, default_on, NULL,
           format('Daily close %%s: installment due %%s unpaid more than %%s days past due.',
                  %(as_of)s::date, first_due, dpd),
           unpaid_principal, unpaid_interest, accrued_interest,
           unpaid_principal + unpaid_interest + accrued_interest, r1, r2, r3, s1, s2, s3, balance_before,
           GREATEST(0, s2 - GREATEST(balance_before, 0)), now()
    FROM fund
    RETURNING id, program_id, default_on, government_share
), draws AS (
    INSERT INTO fintech_fundmovement (program_id, kind, amount, "on", loss_event_id, created_by_id,
                                      created_at)
    SELECT program_id, 'draw', government_share, default_on, id, NULL, now() FROM events
    WHERE government_share > 0
    RETURNING id
), loans AS (
    UPDATE fintech_loan l
    SET last_closed_on = %(as_of)s,
        status = CASE WHEN d.id IS NULL THEN l.status ELSE 'defaulted' END,
        defaulted_on = COALESCE(d.default_on, l.defaulted_on)
    FROM cl LEFT JOIN dft d ON d.id = cl.id
    WHERE l.id = cl.id
    RETURNING l.id
), apps AS (
    UPDATE fintech_application a SET status = 'defaulted' FROM dft WHERE a.id = dft.application_id
    RETURNING a.id
), policies AS (
    UPDATE fintech_policy p SET status = 'claimed'
    FROM dft WHERE p.id = dft.policy_id AND p.status <> 'claimed'
    RETURNING p.id
)
SELECT (SELECT COUNT(*) FROM overdue), (SELECT COUNT(*) FROM loans), (SELECT COUNT(*) FROM events),
       (SELECT COUNT(*) FROM draws), (SELECT COUNT(*) FROM apps), (SELECT COUNT(*) FROM policies)
"""

FIGURES_SQL = """
SELECT
    (SELECT COUNT(*) FROM fintech_installment WHERE status = 'overdue') AS overdue,
    (SELECT COUNT(*) FROM fintech_loan WHERE last_closed_on = %(as_of)s) AS closed,
    (SELECT COUNT(*) FROM fintech_loan WHERE status = 'defaulted') AS defaulted,
    (SELECT COUNT(*) FROM fintech_application WHERE status = 'defaulted') AS applications_defaulted,
    (SELECT COUNT(*) FROM fintech_policy WHERE status = 'claimed') AS policies_claimed,
    e.n AS loss_events, e.unpaid_principal, e.unpaid_interest, e.accrued_interest, e.loss, e.insurer,
    e.government, e.bank, e.unfunded, e.digest,
    (SELECT COALESCE(SUM(amount), 0) FROM fintech_fundmovement WHERE kind = 'draw') AS draws
FROM (
    SELECT COUNT(*) AS n, SUM(unpaid_principal) AS unpaid_principal, SUM(unpaid_interest) AS unpaid_interest,
           SUM(accrued_interest) AS accrued_interest, SUM(loss_amount) AS loss, SUM(insurer_share) AS insurer,
           SUM(government_share) AS government, SUM(bank_share) AS bank, SUM(unfunded_amount) AS unfunded,
           md5(string_agg(concat_ws(',', loan_id, default_on, unpaid_principal, unpaid_interest,
                                    accrued_interest, loss_amount, insurer_share, government_share,
                                    bank_share, reason), ';' ORDER BY loan_id)) AS digest
    FROM fintech_lossevent
) e
"""


def with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def vacuum(url: str) -> None:
    """Hint bits set, visibility map and statistics fresh: both copies start from the same state,
    not the first reader of a just-built book paying for its writes."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def copy_book(url: str, name: str) -> str:
    """<book>_<name>, a fresh copy of the book (CREATE DATABASE ... TEMPLATE)."""
    book = urlsplit(url).path.lstrip("/")
    target = f"{book}_{name}"
    with psycopg.connect(with_db(url, "postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{target}"')
        admin.execute(f'CREATE DATABASE "{target}" TEMPLATE "{book}"')
    return with_db(url, target)


def drop(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(with_db(url, "postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


def figures(url: str, as_of: date) -> dict[str, str]:
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        cursor.execute(FIGURES_SQL, {"as_of": as_of})
        assert cursor.description is not None
        names = [c.name for c in cursor.description]
        row = cursor.fetchone()
        assert row is not None
        return {n: str(v) for n, v in zip(names, row, strict=True)}


def hardware(url: str) -> str:
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "?")
    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    pg = row[0] if row else "?"
    return f"{os.cpu_count()} cores ({cpu}), PostgreSQL {pg}"


def book_size(url: str, as_of: date) -> tuple[int, int, int]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT (SELECT COUNT(*) FROM fintech_loan),"
            " (SELECT COUNT(*) FROM fintech_loan WHERE status = 'active' AND disbursed_on <= %(d)s"
            "  AND (last_closed_on IS NULL OR last_closed_on < %(d)s)),"
            " (SELECT COUNT(*) FROM fintech_installment)",
            {"d": as_of},
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def floor(url: str, as_of: date) -> tuple[float, tuple[int, ...]]:
    with psycopg.connect(url) as conn:
        # Its CTE estimates are off by 1000x (2.5M defaults estimated, 1,667 found), which makes
        # PostgreSQL JIT-compile the plan: 4.3 of 10.7 s at 100k loans. A hand-written statement
        # is run with that known: JIT off (the service's chunk statements stay under jit_above_cost).
        conn.execute("SET jit = off")
        started = time.monotonic()
        row = conn.execute(FLOOR_SQL, {"as_of": as_of}).fetchone()  # type: ignore[arg-type]
        conn.commit()
        took = time.monotonic() - started
    assert row is not None
    return took, tuple(int(x) for x in row)


def service(url: str, queue: str, as_of: date, chunk_size: int) -> tuple[float, str]:
    """close_day in this process (dispatch and wait) with the chunks on the workers."""
    os.environ["DATABASE_URL"] = url
    os.environ["CELERY_QUEUE"] = queue
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "off")
    import django

    django.setup()
    from config.celery import app
    from fintech.services import close

    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    started = time.monotonic()
    run = close.close_day(as_of, chunk_size=chunk_size, poll=0.05)
    took = time.monotonic() - started
    summary = (
        f"{run.chunks_total} chunks, status {run.status}, loans closed {run.loans_closed},"
        f" overdue {run.overdue_marked}, defaults {run.defaults_count}"
    )
    from django.db import connection

    connection.close()
    return took, summary


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--name", default="100k", help="label of the book size, e.g. 100k")
    parser.add_argument("--as-of", type=date.fromisoformat, default=AS_OF)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk-size", type=int, default=2000, help="services.close.CHUNK_SIZE")
    parser.add_argument("--keep", action="store_true", help="keep the two copies of the book")
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="record the workers with py-spy (pip install py-spy) into FILE (raw stacks, idle included)",
    )
    args = parser.parse_args()

    book = os.environ["DATABASE_URL"]
    loans, to_close, installments = book_size(book, args.as_of)
    print(f"hardware {hardware(book)}; workers {args.workers}")
    print(f"book {loans} loans ({to_close} to close), {installments} installments; close as of {args.as_of}")

    vacuum(book)
    floor_url = copy_book(book, "floor")
    service_url = copy_book(book, "service")
    try:
        floor_s, counts = floor(floor_url, args.as_of)
        print(
            f"floor {floor_s:.3f} s (one statement: {counts[0]} overdue, {counts[1]} loans closed,"
            f" {counts[2]} defaults, {counts[3]} draws)"
        )
        floor_fig = figures(floor_url, args.as_of)

        queue = f"bench-{uuid.uuid4().hex[:8]}"
        log = ROOT / "bench" / f".worker-{queue}.log"
        workers = start_workers(queue, args.workers, log, env={"DATABASE_URL": service_url})
        spy = None
        if args.profile:
            spy = subprocess.Popen(
                [
                    *(str(Path(sys.executable).parent / "py-spy"), "record", "--subprocesses", "--idle"),
                    *("-f", "raw", "-o", args.profile, "-p", str(workers.pid)),
                ]
            )
            time.sleep(1)
        try:
            service_s, summary = service(service_url, queue, args.as_of, args.chunk_size)
        finally:
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(timeout=60)
            stop(workers)
        log.unlink()
        print(f"service {service_s:.3f} s ({summary})")
        service_fig = figures(service_url, args.as_of)
        for key in floor_fig:
            print(f"  {key:24} floor {floor_fig[key]:>20}  service {service_fig[key]:>20}")
        if service_fig != floor_fig:
            raise SystemExit("FIGURES DIFFER")
        print("figures equal")
        print(f"ratio daily_close_{args.name} {service_s / floor_s:.2f} target 2.00")
    finally:
        if not args.keep:
            drop(floor_url)
            drop(service_url)


if __name__ == "__main__":
    main()

"""Benchmark: the subsidy report as CSV and XLSX against `COPY (the same query) TO STDOUT`.

Not a test. On PostgreSQL (DATABASE_URL; created and migrated if missing) it generates, directly
in SQL (INSERT ... SELECT generate_series), a book of N subsidy entitlements once: N/12 loans of
twelve installments across banks, insurers and N/48 SMEs of Wuhan, eleven interest subsidies and
one premium subsidy per loan over the four quarterly runs of 2025. Then, each in a fresh process
(so that its peak RSS is its own):

- floor: `COPY (<the report's SQL, parameters bound>) TO STDOUT`, read to the end;
- csv / xlsx: `GET /api/v1/reports/subsidies/?group_by=enterprise&format=csv|xlsx` as a Wuhan
  regulator, in process (Django's test client, no network), the body read to the end.

It prints each time, each process's peak RSS, and
`ratio report_csv_<N> <csv / floor> target 2.00`, `ratio report_xlsx_<N> <xlsx / floor> target 3.00`
and `ratio report_peak_rss_mb_<N> <largest peak RSS in MB> target 250`.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pp_bench_exports \\
        .venv/bin/python bench/report_exports.py [--entitlements 1000000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "off")
os.environ.pop("CELERY_BROKER_URL", None)

REPORT = "/api/v1/reports/subsidies/?group_by=enterprise&format="
TAG = "xb-"  # the generated rows' external ids and names start with it


def ensure_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    if parsed.scheme not in ("postgres", "postgresql"):
        sys.exit("bench/report_exports.py measures PostgreSQL: set DATABASE_URL=postgres://...")
    name = parsed.path.lstrip("/")
    with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')


GENERATE = """
INSERT INTO fintech_organization (created_at, kind, name, uscc, region_id, external_id, is_active,
    industry, employees, annual_revenue, total_assets, size_class)
SELECT now(), kind, %(tag)s || kind || ' ' || g, 'XB' || left(kind, 1) || lpad(g::text, 15, '0'),
    '420100', %(tag)s || kind || g, true,
    CASE WHEN kind = 'sme' THEN 'software_it' ELSE '' END,
    CASE WHEN kind = 'sme' THEN 80 END,
    CASE WHEN kind = 'sme' THEN 30000000.00 END,
    CASE WHEN kind = 'sme' THEN 20000000.00 END,
    CASE WHEN kind = 'sme' THEN 'small' ELSE '' END
FROM (SELECT 'sme' AS kind, g FROM generate_series(1, %(smes)s) g
      UNION ALL SELECT 'bank', g FROM generate_series(1, 10) g
      UNION ALL SELECT 'insurer', g FROM generate_series(1, 5) g
      UNION ALL SELECT 'appraiser', g FROM generate_series(1, 3) g
      UNION ALL SELECT 'regulator', 1) o;

CREATE TEMP TABLE xb_org AS
SELECT kind, array_agg(id ORDER BY id) AS ids
FROM fintech_organization WHERE external_id LIKE %(tag)s || '%%' GROUP BY kind;

INSERT INTO fintech_user (password, is_superuser, username, first_name, last_name, email, is_staff,
    is_active, date_joined, organization_id)
SELECT '!', false, %(tag)s || 'regulator', '', '', '', true, true, now(), ids[1]
FROM xb_org WHERE kind = 'regulator';

INSERT INTO fintech_application (created_at, requested_amount, term_months, repayment_method, purpose,
    status, decline_reason, risk_grade, external_id, appraiser_id, bank_id, created_by_id, insurer_id,
    program_id, sme_id, submitted_on, appraised_value, pledge_rate, credit_ceiling)
SELECT now(), 300000 + (g %% 40) * 25000, 12, 'equal_principal', '', 'active', '', 'B',
    %(tag)s || g, a.ids[1 + g %% cardinality(a.ids)], b.ids[1 + g %% cardinality(b.ids)], u.id,
    i.ids[1 + g %% cardinality(i.ids)], p.id, s.ids[1 + g %% cardinality(s.ids)],
    DATE '2024-12-20', 3040287.70, 0.40, 1216115.08
FROM generate_series(1, %(loans)s) g
CROSS JOIN (SELECT ids FROM xb_org WHERE kind = 'sme') s
CROSS JOIN (SELECT ids FROM xb_org WHERE kind = 'bank') b
CROSS JOIN (SELECT ids FROM xb_org WHERE kind = 'insurer') i
CROSS JOIN (SELECT ids FROM xb_org WHERE kind = 'appraiser') a
CROSS JOIN (SELECT id FROM fintech_user WHERE username = %(tag)s || 'regulator') u
CROSS JOIN (SELECT id FROM fintech_program WHERE code = 'wuhan') p;

ANALYZE fintech_application;

INSERT INTO fintech_policy (created_at, policy_number, insured_amount, premium_rate, term_months, premium,
    premium_paid_amount, premium_paid_on, status, external_id, application_id, insurer_id, issued_by_id)
SELECT now(), 'XB' || id, requested_amount, 0.015, 12, round(requested_amount * 0.015, 2),
    round(requested_amount * 0.015, 2), DATE '2025-01-05', 'active', '', id, insurer_id, created_by_id
FROM fintech_application WHERE external_id LIKE %(tag)s || '%%';

INSERT INTO fintech_loan (created_at, principal, annual_rate, term_months, repayment_method, status,
    approved_on, disbursed_on, maturity_on, grace_days, default_days_past_due, external_id,
    application_id, approved_by_id, bank_id, program_id, sme_id, policy_id)
SELECT now(), a.requested_amount, 0.0435, 12, 'equal_principal', 'active', DATE '2025-01-05',
    DATE '2025-01-10', DATE '2026-01-10', 3, 90, '', a.id, a.created_by_id, a.bank_id, a.program_id,
    a.sme_id, p.id
FROM fintech_application a JOIN fintech_policy p ON p.application_id = a.id
WHERE a.external_id LIKE %(tag)s || '%%';

ANALYZE fintech_policy, fintech_loan;

INSERT INTO fintech_installment (seq, start_on, due_on, days, opening_principal, principal_due,
    interest_due, principal_paid, interest_paid, paid_on, status, loan_id)
SELECT s, DATE '2025-01-10' + (s - 1) * 30, DATE '2025-01-10' + s * 30, 30,
    round(l.principal * (13 - s) / 12, 2), round(l.principal / 12, 2),
    round(l.principal * (13 - s) / 12 * 0.0435 * 30 / 360, 2),
    round(l.principal / 12, 2), round(l.principal * (13 - s) / 12 * 0.0435 * 30 / 360, 2),
    DATE '2025-01-10' + s * 30, 'paid', l.id
FROM fintech_loan l JOIN fintech_application a ON a.id = l.application_id
CROSS JOIN generate_series(1, 12) s
WHERE a.external_id LIKE %(tag)s || '%%';

ANALYZE fintech_installment;

INSERT INTO fintech_subsidyrun (period, period_start, period_end, status, parameters, chunks_total,
    chunks_done, chunks_requeued, entitlements_count, interest_total, premium_total, payment_reference,
    error, created_at, program_id, started_by_id)
SELECT '2025Q' || q, make_date(2025, 3 * q - 2, 1), (make_date(2025, 3 * q - 2, 1) + interval '3 months'
    - interval '1 day')::date, 'computed', '{}'::jsonb, 1, 1, 0, 0, 0, 0, '', '', now(), p.id, u.id
FROM generate_series(1, 4) q
CROSS JOIN (SELECT id FROM fintech_user WHERE username = %(tag)s || 'regulator') u
CROSS JOIN (SELECT id FROM fintech_program WHERE code = 'wuhan') p;

INSERT INTO fintech_subsidyentitlement (kind, period, year, computed_amount, amount, capped, status,
    created_at, installment_id, loan_id, program_id, sme_id, run_id)
SELECT 'interest', r.period, 2025, round(i.interest_due * 0.25, 2), round(i.interest_due * 0.25, 2),
    false, 'computed', now(), i.id, l.id, l.program_id, l.sme_id, r.id
FROM fintech_installment i JOIN fintech_loan l ON l.id = i.loan_id
JOIN fintech_application a ON a.id = l.application_id
JOIN fintech_subsidyrun r ON r.period = '2025Q' || extract(quarter FROM i.due_on)
    AND r.started_by_id = a.created_by_id
WHERE a.external_id LIKE %(tag)s || '%%' AND i.seq <= 11
UNION ALL
SELECT 'premium', r.period, 2025, round(p.premium * 0.40, 2), round(p.premium * 0.40, 2), false,
    'computed', now(), NULL, l.id, l.program_id, l.sme_id, r.id
FROM fintech_loan l JOIN fintech_application a ON a.id = l.application_id
JOIN fintech_policy p ON p.id = l.policy_id
JOIN fintech_subsidyrun r ON r.period = '2025Q1' AND r.started_by_id = a.created_by_id
WHERE a.external_id LIKE %(tag)s || '%%';

ANALYZE;
"""


def generate(entitlements: int) -> int:
    """The book (once per database); returns the number of generated entitlements."""
    from django.db import connection, transaction

    from fintech.models import SubsidyEntitlement

    tagged = SubsidyEntitlement.objects.filter(sme__external_id__startswith=TAG)
    existing = tagged.count()
    if existing:
        return existing
    loans = max(1, entitlements // 12)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in GENERATE.split(";\n"):
            if statement.strip():
                cursor.execute(statement, {"tag": TAG, "loans": loans, "smes": max(1, loans // 4)})
    count = tagged.count()
    print(f"generated {count} entitlements ({loans} loans) in {time.perf_counter() - started:.1f} s")
    return count


def regulator():  # type: ignore[no-untyped-def]
    from fintech.models import User

    return User.objects.select_related("organization").get(username=f"{TAG}regulator")


def measure(side: str) -> dict[str, float]:
    """One side in this process: seconds and bytes, and the process's peak RSS."""
    from django.db import connection
    from django.http import QueryDict
    from django.test import Client
    from psycopg import ClientCursor
    from rest_framework_simplejwt.tokens import AccessToken

    from fintech.selectors import subsidies as selectors

    user = regulator()
    size = 0
    if side == "floor":
        report = selectors.subsidy_report(user, selectors.report_query(QueryDict("group_by=enterprise")))
        sql, params = report.query.sql_with_params()
        connection.ensure_connection()
        raw = connection.connection
        bound = ClientCursor(raw).mogrify(sql, params)
        started = time.perf_counter()
        copy_sql = f"COPY ({bound}) TO STDOUT WITH (FORMAT csv, HEADER)"
        with raw.cursor() as cursor, cursor.copy(copy_sql) as copy:
            for chunk in copy:
                size += len(chunk)
        seconds = time.perf_counter() - started
    else:
        client = Client()
        auth = {"HTTP_AUTHORIZATION": f"Bearer {AccessToken.for_user(user)}"}
        # Warm up: the first request of a process imports the URLconf and every API module.
        assert client.get("/api/v1/me/", **auth).status_code == 200
        started = time.perf_counter()
        response = client.get(REPORT + side, **auth)
        assert response.status_code == 200, response.content[:500]
        for chunk in response.streaming_content:
            size += len(chunk)
        seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "bytes": size, "peak_rss_mb": peak_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entitlements", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2, help="best of")
    parser.add_argument("--side", choices=["floor", "csv", "xlsx"], help=argparse.SUPPRESS)
    args = parser.parse_args()

    import django

    if args.side:  # a child process: one measurement, printed as JSON
        django.setup()
        print(json.dumps(measure(args.side)))
        return

    ensure_database(os.environ.get("DATABASE_URL", ""))
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    count = generate(args.entitlements)

    def child(side: str) -> dict[str, float]:
        out = subprocess.run(
            [sys.executable, __file__, "--side", side], capture_output=True, text=True, check=True, cwd=ROOT
        ).stdout
        return dict(json.loads(out.strip().splitlines()[-1]))

    best: dict[str, dict[str, float]] = {}
    for _ in range(args.repeat):
        for side in ("floor", "csv", "xlsx"):
            result = child(side)
            if side not in best or result["seconds"] < best[side]["seconds"]:
                best[side] = result
    base = best["floor"]["seconds"]
    from fintech.models import Organization

    groups = Organization.objects.filter(kind="sme", external_id__startswith=TAG)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, CPython {platform.python_version()}; "
        f"{count} entitlements, {groups.count()} report rows (group_by=enterprise), best of {args.repeat}"
    )
    for side in ("floor", "csv", "xlsx"):
        r = best[side]
        out_mb, peak = r["bytes"] / 1e6, r["peak_rss_mb"]
        print(f"{side:6} {r['seconds']:7.2f} s  {out_mb:7.1f} MB out  peak RSS {peak:6.1f} MB")
    label = f"{round(count / 1000)}k" if count < 950_000 else f"{round(count / 1e6, 1):g}m"
    print(f"ratio report_csv_{label} {best['csv']['seconds'] / base:.2f} target 2.00")
    print(f"ratio report_xlsx_{label} {best['xlsx']['seconds'] / base:.2f} target 3.00")
    peak = max(best["csv"]["peak_rss_mb"], best["xlsx"]["peak_rss_mb"])
    print(f"ratio report_peak_rss_mb_{label} {peak:.0f} target 250")


if __name__ == "__main__":
    main()

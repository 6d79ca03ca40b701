"""Benchmark: `GET /api/v1/applications/` and `/api/v1/loans/` (pages of 50) against their floors.

Not a test. On PostgreSQL (DATABASE_URL; the database is created and migrated if missing), it
generates a book of applications once (bulk inserts: SMEs, banks, insurers, appraisal firms,
patents, valuations, policies and loans in every stage), starts gunicorn with two workers on a
loopback port, and drives it with 4 concurrent keep-alive clients for a fixed time:

- service: `GET /api/v1/applications/?page=N` as the platform (it sees every application), through
  JWT authentication, DRF, pagination and the list's FlatRows writer;
- floor: `GET /bench/floor/applications/?page=N` (bench/lists_floor.py, mounted only by
  bench/lists_settings.py): the same JWT check, the same SQL statements on a raw cursor, the same
  JSON written by hand with json.dumps. The bench first checks that both answer the same JSON.
- the same for `GET /api/v1/loans/` (the 2,500 active loans of the book) and its floor
  `/bench/floor/loans/`.

Rounds alternate floor and service so both see the same machine load. It prints both throughputs
and `ratio api_<list>_list <floor req/s / service req/s> target 2.00` per list (the service at
>= 50 % of the floor's throughput is a ratio <= 2).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pp_bench_lists \\
        .venv/bin/python bench/api_lists.py [--applications 5000] [--seconds 10] [--rounds 2] \\
        [--lists applications,loans]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import secrets
import sys
import threading
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.lists_settings"
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "off")
os.environ.setdefault("JWT_ACCESS_MINUTES", "240")
# gunicorn refuses the built-in key (config.safety); this process signs the tokens with the same one.
os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
os.environ.pop("CELERY_BROKER_URL", None)

from bench.processes import start_gunicorn, stop  # noqa: E402

PAGE_SIZE = 50


def ensure_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    if parsed.scheme not in ("postgres", "postgresql"):
        sys.exit("bench/api_lists.py measures PostgreSQL: set DATABASE_URL=postgres://...")
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')


def generate(applications: int) -> None:
    """Bulk-insert a book of `applications` applications (once; a rerun reuses it)."""
    from django.db import transaction

    from fintech.models import (
        Application,
        ApplicationPatent,
        Loan,
        Organization,
        Patent,
        Patentee,
        Policy,
        User,
        Valuation,
    )
    from tests.factories import make_patent_number, make_uscc, wuhan, wuhan_program

    existing = Application.objects.filter(external_id__startswith="bench-").count()
    if existing == applications:
        return
    if existing:
        sys.exit(f"the database holds a book of {existing} applications: drop it or use another database")
    started = time.perf_counter()
    region = wuhan()
    program = wuhan_program()
    reported_at = datetime(2025, 1, 20, 9, 30).astimezone()
    methods = ["equal_installment", "equal_principal", "interest_monthly_principal_at_maturity"]
    with transaction.atomic():
        seq = Organization.objects.count() + 500_000

        profile = {  # an SME's size profile (the database requires one)
            "industry": "software_it",
            "employees": 80,
            "annual_revenue": Decimal("30000000.00"),
            "total_assets": Decimal("20000000.00"),
            "size_class": "small",
        }

        def orgs(kind: str, n: int, name: str) -> list[Organization]:
            nonlocal seq
            rows = []
            for k in range(n):
                seq += 1
                extra = profile if kind == "sme" else {}
                rows.append(
                    Organization(
                        kind=kind, name=f"{name} {k + 1}", uscc=make_uscc(seq), region=region, **extra
                    )
                )
            return Organization.objects.bulk_create(rows)

        banks = orgs("bank", 4, "Bench Bank")
        insurers = orgs("insurer", 3, "Bench Insurer")
        appraisers = orgs("appraiser", 2, "Bench Appraisal")
        smes = orgs("sme", max(1, applications // 10), "Bench SME Technology Co., Ltd.")
        platform_org = orgs("platform", 1, "Bench Platform")[0]
        staff = User.objects.create(
            username=f"bench-platform-{seq}", organization=platform_org, is_staff=True
        )
        staff.set_unusable_password()
        staff.save()

        patents = Patent.objects.bulk_create(
            [
                Patent(
                    application_number=make_patent_number(2018, 1, serial=i + 1),
                    title=f"Optical module {i}",
                    patent_type="invention",
                    filing_date=date(2019, 4, 1),
                    grant_date=date(2021, 4, 1),
                    expires_on=date(2039, 4, 1),
                    owner=smes[i % len(smes)],
                    created_by=staff,
                )
                for i in range(applications)
            ],
            batch_size=2000,
        )
        Patentee.objects.bulk_create(
            [
                Patentee(
                    patent=p, position=1, name=p.owner.name, uscc=p.owner.uscc, pledge_consent_on=p.grant_date
                )
                for p in patents
            ],
            batch_size=2000,
        )
        # Stages by i % 10: 0 draft, 1 valuation, 2 underwriting, 3 bank review, 4 declined, 5-9 active.
        stage = ["draft", "valuation", "underwriting", "bank_review", "declined"] + ["active"] * 5
        apps = []
        for i, patent in enumerate(patents):
            status = stage[i % 10]
            appraised = status not in ("draft", "valuation")
            amount = Decimal(300_000 + (i % 40) * 25_000)
            apps.append(
                Application(
                    sme=patent.owner,
                    program=program,
                    requested_amount=amount,
                    term_months=12 + 12 * (i % 3),
                    repayment_method=methods[i % 3],
                    bank=banks[i % len(banks)],
                    insurer=insurers[i % len(insurers)],
                    appraiser=appraisers[i % len(appraisers)],
                    purpose="Working capital for production line upgrade",
                    status=status,
                    submitted_on=None if status == "draft" else date(2025, 1, 2) + timedelta(days=i % 200),
                    decline_reason="Insufficient collateral" if status == "declined" else "",
                    appraised_value=Decimal("3040287.70") if appraised else None,
                    risk_grade="B" if appraised else "",
                    pledge_rate=Decimal("0.40") if appraised else None,
                    credit_ceiling=Decimal("1216115.08") if appraised else None,
                    created_by=staff,
                    external_id=f"bench-{seq}-{i}",
                )
            )
        apps = Application.objects.bulk_create(apps, batch_size=2000)
        ApplicationPatent.objects.bulk_create(
            [ApplicationPatent(application=a, patent=p) for a, p in zip(apps, patents, strict=True)],
            batch_size=2000,
        )
        Valuation.objects.bulk_create(
            [
                Valuation(
                    application=a,
                    appraiser=a.appraiser,
                    status="pending" if a.status == "valuation" else "reported",
                    report_number="" if a.status == "valuation" else f"BR-{seq}-{a.pk}",
                    valuation_date=None if a.status == "valuation" else date(2025, 1, 20),
                    valid_until=None if a.status == "valuation" else date(2026, 1, 20),
                    appraised_value=a.appraised_value,
                    composite_score=None if a.status == "valuation" else Decimal("72.50"),
                    risk_grade=a.risk_grade,
                    pledge_rate=a.pledge_rate,
                    credit_ceiling=a.credit_ceiling,
                    scorecard_version="" if a.status == "valuation" else "2025.1",
                    reported_at=None if a.status == "valuation" else reported_at,
                )
                for a in apps
                if a.status != "draft"
            ],
            batch_size=2000,
        )
        insured = [a for a in apps if a.status in ("bank_review", "active")]
        policies = Policy.objects.bulk_create(
            [
                Policy(
                    application=a,
                    insurer=a.insurer,
                    policy_number=f"BP{seq}-{a.pk}",
                    insured_amount=a.requested_amount,
                    premium_rate=Decimal("0.015"),
                    term_months=a.term_months,
                    premium=(a.requested_amount * Decimal("0.015") * a.term_months / 12).quantize(
                        Decimal("0.01")
                    ),
                    premium_paid_amount=Decimal("0.00"),
                    issued_by=staff,
                )
                for a in insured
            ],
            batch_size=2000,
        )
        Loan.objects.bulk_create(
            [
                Loan(
                    application=a,
                    program=program,
                    sme=a.sme,
                    bank=a.bank,
                    policy=p,
                    principal=a.requested_amount,
                    annual_rate=Decimal("0.0435"),
                    term_months=a.term_months,
                    repayment_method=a.repayment_method,
                    status="active",
                    approved_on=date(2025, 2, 10),
                    approved_by=staff,
                    disbursed_on=date(2025, 2, 20),
                    maturity_on=date(2025, 2, 20) + timedelta(days=30 * a.term_months),
                    grace_days=3,
                    default_days_past_due=90,
                )
                for a, p in zip(insured, policies, strict=True)
                if a.status == "active"
            ],
            batch_size=2000,
        )
    with __import__("django.db").db.connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"generated {applications} applications in {time.perf_counter() - started:.1f} s")


def bench_user():  # type: ignore[no-untyped-def]
    from fintech.models import User

    return User.objects.filter(username__startswith="bench-platform-").order_by("-id").first()


def get(port: int, path: str, token: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body


def load(port: int, path: str, token: str, clients: int, seconds: float, pages: int) -> float:
    """Requests per second of `clients` keep-alive clients looping over the pages for `seconds`."""
    done = [0] * clients
    errors: list[str] = []
    stop = time.perf_counter() + seconds

    def client(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"Bearer {token}"}
        n = k
        while time.perf_counter() < stop:
            conn.request("GET", f"{path}?page={n % pages + 1}", headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                errors.append(f"{path}: {response.status}")
                return
            done[k] += 1
            n += clients
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(errors[0])
    return sum(done) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--applications", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=10.0, help="per round and side")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--lists", default="applications,loans", help="comma-separated: applications, loans")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    ensure_database(url)
    import django

    django.setup()
    from django.core.management import call_command
    from rest_framework_simplejwt.tokens import AccessToken

    call_command("migrate", verbosity=0)
    generate(args.applications)
    user = bench_user()
    token = str(AccessToken.for_user(user))
    from fintech.models import Application, Loan

    lists = [name for name in args.lists.split(",") if name]
    unknown = set(lists) - {"applications", "loans"}
    if unknown:
        sys.exit(f"unknown list(s): {', '.join(sorted(unknown))} (applications, loans)")
    totals = {"applications": Application.objects.count(), "loans": Loan.objects.count()}
    figures: dict[str, tuple[float, float]] = {}

    server, port = start_gunicorn(args.workers, env={"DJANGO_DEBUG": "off", "LOG_LEVEL": "WARNING"})
    try:
        for name in lists:
            pages = min(100, (totals[name] + PAGE_SIZE - 1) // PAGE_SIZE)
            service_path, floor_path = f"/api/v1/{name}/", f"/bench/floor/{name}/"
            for page in (1, pages // 2 or 1, pages):
                s_status, s_body = get(port, f"{service_path}?page={page}", token)
                f_status, f_body = get(port, f"{floor_path}?page={page}", token)
                assert s_status == f_status == 200, (s_status, f_status, s_body[:300], f_body[:300])
                same = json.loads(s_body) == json.loads(f_body)
                assert same, f"{name} page {page}: the floor's JSON differs"
            assert len(json.loads(s_body)["results"]) > 0
            load(port, floor_path, token, args.clients, 2, pages)  # warm both workers up
            load(port, service_path, token, args.clients, 2, pages)
            floor, service = 0.0, 0.0
            for _ in range(args.rounds):
                floor += load(port, floor_path, token, args.clients, args.seconds, pages) / args.rounds
                service += load(port, service_path, token, args.clients, args.seconds, pages) / args.rounds
            figures[name] = (floor, service)
    finally:
        stop(server)

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}; gunicorn -w {args.workers}, {args.clients} clients, "
        f"{totals['applications']} applications, {totals['loans']} loans, pages of {PAGE_SIZE}"
    )
    for name, (floor, service) in figures.items():
        print(f"{name}: floor   {floor:8.1f} req/s  (hand-written view, same SQL, same JSON)")
        print(f"{name}: service {service:8.1f} req/s  ({service / floor:.0%} of the floor; target >= 50 %)")
        print(f"ratio api_{name}_list {floor / service:.2f} target 2.00")


if __name__ == "__main__":
    main()

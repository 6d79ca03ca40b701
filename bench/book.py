"""A realistic book built directly in PostgreSQL in seconds, for the benchmarks of bench/.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> .venv/bin/python bench/book.py --installments 100000

N loans (about installments / 14) across 8 banks, 4 insurers and SMEs in every Wuhan district, all
three repayment methods, terms of 6, 12 and 24 months, disbursed 2024-01..2025-06: every loan's
schedule is one of a few thousand archetypes computed by the service's own schedule code
(fintech.rules.schedules.build_schedule), then the loans and their installments, repayments and
allocations are written with INSERT ... SELECT over generate_series. As of AS_OF (2025-09-30):

- 92 % of the loans pay every installment on its due date (settled once all are paid);
- 6 % pay installment 2 ten days late (status paid_late: no interest subsidy after it);
- 2 % stop paying after installment 2 (their later installments stay "due": the daily close marks
  them overdue and defaults the loan).

The application, policy and parties of each loan are clones of template rows built through the
services (tests/builders.py). `--check` then builds twins of a sample of generated loans through
the services (application, valuation, policy, disbursement, repayments: one loan per method and
payment pattern) and checks that the service's own code gives the same schedule, statuses and
interest subsidies (Q3 2025, the subsidy run's own SQL) on both; the twins are rolled back.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "off")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

AS_OF = date(2025, 9, 30)
METHODS = ("interest_monthly_principal_at_maturity", "equal_principal", "equal_installment")
TERMS = (6, 12, 24)
PRINCIPALS = (Decimal("300000.00"), Decimal("600000.00"), Decimal("1000000.00"))
RATES = (Decimal("0.0350"), Decimal("0.0450"), Decimal("0.0500"))
LATE_SEQ, STOP_AFTER = 2, 2
BANKS, INSURERS, LOANS_PER_SME = 8, 4, 4


def disbursement_days() -> list[date]:
    days = []
    for month in range(18):  # 2024-01 .. 2025-06
        year, m = 2024 + month // 12, month % 12 + 1
        days += [date(year, m, d) for d in (3, 11, 19, 27)]
    return days


def archetypes() -> list[tuple[int, str, int, Decimal, Decimal, date]]:
    out = []
    for method in METHODS:
        for term in TERMS:
            for principal in PRINCIPALS:
                for rate in RATES:
                    for day in disbursement_days():
                        out.append((len(out), method, term, principal, rate, day))
    return out


def pattern_sql(g: str) -> str:
    """0 on time, 1 late at LATE_SEQ, 2 stops after STOP_AFTER: 92 / 6 / 2 %."""
    return f"(CASE WHEN {g} % 50 = 0 THEN 2 WHEN {g} % 50 < 4 THEN 1 ELSE 0 END)"


def log(msg: str) -> None:
    print(msg, flush=True)


def templates() -> dict[str, int]:
    """One loan built through the services: the source of every cloned row."""
    from tests.builders import active_loan

    loan, people = active_loan(disbursed_on=date(2024, 1, 3), valuation_on=date(2023, 12, 20))
    return {
        "loan": loan.pk,
        "application": loan.application_id,
        "policy": loan.policy_id,
        "sme": people.sme.organization_id,
        "bank": people.bank.organization_id,
        "insurer": people.insurer.organization_id,
        "user": people.bank.pk,
    }


def columns(table: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
            " ORDER BY ordinal_position",
            [table],
        )
        return [r[0] for r in cursor.fetchall()]


def clone(table: str, template_id: int, count_sql: str, overrides: dict[str, str], base: int) -> None:
    """INSERT count copies of row template_id, id = base + g, with SQL `overrides` (g in 1..count;
    `p` is the loan's plan, bench_plan, where it exists)."""
    cols = columns(table)
    select = [overrides.get(c, f"t.{c}") if c != "id" else f"{base} + g.g" for c in cols]
    plan = " LEFT JOIN bench_plan p ON p.g = g.g" if any("p." in v for v in overrides.values()) else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(cols)}) SELECT {', '.join(select)} "
            f"FROM {table} t CROSS JOIN generate_series(1, {count_sql}) AS g(g){plan}"
            f" WHERE t.id = {template_id}"
        )


def next_base(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1000 FROM {table}")
        return int(cursor.fetchone()[0])


def fix_sequence(table: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
        )


def build(installments: int) -> dict[str, int]:
    from fintech.models import Region
    from fintech.rules.schedules import build_schedule

    started = time.monotonic()
    loans = max(1, round(installments / 14))
    t = templates()
    arch = archetypes()
    buf = StringIO()
    for a, method, term, principal, rate, day in arch:
        for row in build_schedule(principal, rate, term, method, day):  # type: ignore[arg-type]
            buf.write(
                f"{a}\t{row.seq}\t{row.start_on}\t{row.due_on}\t{row.days}\t{row.opening_principal}\t"
                f"{row.principal_due}\t{row.interest_due}\n"
            )
    regions = list(Region.objects.order_by("code").values_list("code", flat=True))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bench_arch (arch int, seq int, start_on date, due_on date, days int,"
            " opening_principal numeric, principal_due numeric, interest_due numeric) ON COMMIT DROP"
        )
        cursor.execute(
            "CREATE TEMP TABLE bench_kind (arch int, method text, term int, principal numeric, rate numeric,"
            " disbursed_on date) ON COMMIT DROP"
        )
        with cursor.copy("COPY bench_arch FROM STDIN") as copy:
            copy.write(buf.getvalue())
        with cursor.copy("COPY bench_kind FROM STDIN") as copy:
            copy.write("".join(f"{a}\t{m}\t{te}\t{p}\t{r}\t{d}\n" for a, m, te, p, r, d in arch))
        cursor.execute("CREATE INDEX ON bench_arch (arch)")
        cursor.execute("ANALYZE bench_arch")

        org = next_base("fintech_organization")
        smes = (loans + LOANS_PER_SME - 1) // LOANS_PER_SME
        clone(
            "fintech_organization",
            t["bank"],
            str(BANKS),
            {"name": "'Bench bank ' || g.g", "uscc": f"'BB{org}-' || g.g"},
            org,
        )
        ins = org + BANKS
        clone(
            "fintech_organization",
            t["insurer"],
            str(INSURERS),
            {"name": "'Bench insurer ' || g.g", "uscc": f"'BI{org}-' || g.g"},
            ins,
        )
        sme = ins + INSURERS
        region_array = "ARRAY[" + ",".join(f"'{r}'" for r in regions) + "]::varchar[]"
        clone(
            "fintech_organization",
            t["sme"],
            str(smes),
            {
                "name": "'Bench SME ' || g.g",
                "uscc": f"'BS{org}-' || g.g",
                "region_id": f"({region_array})[1 + g.g % {len(regions)}]",
            },
            sme,
        )
        # The loans' plan: archetype, parties, pattern.
        cursor.execute(
            f"""CREATE TEMP TABLE bench_loan ON COMMIT DROP AS
            SELECT g, (g * 7919) % {len(arch)} AS arch, {pattern_sql("g")} AS pattern,
                   {sme} + 1 + (g - 1) / {LOANS_PER_SME} AS sme_id, {org} + 1 + g % {BANKS} AS bank_id,
                   {ins} + 1 + g % {INSURERS} AS insurer_id
            FROM generate_series(1, {loans}) g"""
        )
        cursor.execute(
            f"""CREATE TEMP TABLE bench_plan ON COMMIT DROP AS
            SELECT b.*, k.method, k.term, k.principal, k.rate, k.disbursed_on,
                   (SELECT MAX(a.due_on) FROM bench_arch a WHERE a.arch = b.arch) AS maturity_on,
                   (b.pattern <> 2
                    AND (SELECT MAX(a.due_on) FROM bench_arch a WHERE a.arch = b.arch) <= DATE '{AS_OF}')
                       AS settled
            FROM bench_loan b JOIN bench_kind k ON k.arch = b.arch"""
        )
        cursor.execute("CREATE INDEX ON bench_plan (g)")
        app = next_base("fintech_application")
        clone(
            "fintech_application",
            t["application"],
            str(loans),
            {
                "sme_id": "p.sme_id",
                "bank_id": "p.bank_id",
                "insurer_id": "p.insurer_id",
                "requested_amount": "p.principal",
                "term_months": "p.term",
                "repayment_method": "p.method",
                "status": "CASE WHEN p.settled THEN 'settled' ELSE 'active' END",
                "external_id": "''",
            },
            app,
        )
        pol = next_base("fintech_policy")
        clone(
            "fintech_policy",
            t["policy"],
            str(loans),
            {
                "application_id": f"{app} + g.g",
                "insurer_id": "p.insurer_id",
                "insured_amount": "p.principal",
                "term_months": "p.term",
                "premium": "ROUND(p.principal * t.premium_rate, 2)",
                "premium_paid_amount": "ROUND(p.principal * t.premium_rate, 2)",
                "policy_number": f"'BP{pol}-' || g.g",
                "status": "CASE WHEN p.settled THEN 'expired' ELSE 'active' END",
                "external_id": "''",
            },
            pol,
        )
        loan = next_base("fintech_loan")
        clone(
            "fintech_loan",
            t["loan"],
            str(loans),
            {
                "application_id": f"{app} + g.g",
                "policy_id": f"{pol} + g.g",
                "sme_id": "p.sme_id",
                "bank_id": "p.bank_id",
                "principal": "p.principal",
                "annual_rate": "p.rate",
                "term_months": "p.term",
                "repayment_method": "p.method",
                "status": "CASE WHEN p.settled THEN 'settled' ELSE 'active' END",
                "approved_on": "p.disbursed_on",
                "disbursed_on": "p.disbursed_on",
                "maturity_on": "p.maturity_on",
                "settled_on": "CASE WHEN p.settled THEN p.maturity_on END",
                "defaulted_on": "NULL",
                "last_closed_on": "NULL",
                "external_id": "''",
            },
            loan,
        )
        # Installments: the archetype's schedule; paid on the due date, late, or not at all.
        paid = f"(a.due_on <= DATE '{AS_OF}' AND (p.pattern <> 2 OR a.seq <= {STOP_AFTER}))"
        paid_on = f"(CASE WHEN p.pattern = 1 AND a.seq = {LATE_SEQ} THEN a.due_on + 10 ELSE a.due_on END)"
        cursor.execute(
            f"""INSERT INTO fintech_installment (loan_id, seq, start_on, due_on, days, opening_principal,
                   principal_due, interest_due, principal_paid, interest_paid, paid_on, status)
            SELECT {loan} + p.g, a.seq, a.start_on, a.due_on, a.days, a.opening_principal, a.principal_due,
                   a.interest_due,
                   CASE WHEN {paid} THEN a.principal_due ELSE 0 END,
                   CASE WHEN {paid} THEN a.interest_due ELSE 0 END,
                   CASE WHEN {paid} THEN {paid_on} END,
                   CASE WHEN NOT {paid} THEN 'due'
                        WHEN p.pattern = 1 AND a.seq = {LATE_SEQ} THEN 'paid_late' ELSE 'paid' END
            FROM bench_plan p JOIN bench_arch a ON a.arch = p.arch
            ORDER BY p.g, a.seq"""
        )
        # One repayment per paid installment, allocated to it.
        rep = next_base("fintech_repayment")
        cursor.execute(
            f"""INSERT INTO fintech_repayment (id, created_at, amount, paid_on, transaction_id, bank_id,
                   loan_id, recorded_by_id)
            SELECT {rep} + i.id, now(), i.principal_paid + i.interest_paid, i.paid_on, 'B' || i.id, l.bank_id,
                   i.loan_id, {t["user"]}
            FROM fintech_installment i JOIN fintech_loan l ON l.id = i.loan_id
            WHERE i.loan_id > {loan} AND i.paid_on IS NOT NULL"""
        )
        cursor.execute(
            f"""INSERT INTO fintech_repaymentallocation (principal, interest, installment_id, repayment_id)
            SELECT i.principal_paid, i.interest_paid, i.id, {rep} + i.id
            FROM fintech_installment i WHERE i.loan_id > {loan} AND i.paid_on IS NOT NULL"""
        )
        for table in (
            "fintech_organization",
            "fintech_application",
            "fintech_policy",
            "fintech_loan",
            "fintech_repayment",
        ):
            fix_sequence(table)
        cursor.execute(f"SELECT COUNT(*) FROM fintech_installment WHERE loan_id > {loan}")
        count = int(cursor.fetchone()[0])
    with connection.cursor() as cursor:
        for table in ("fintech_loan", "fintech_installment", "fintech_repayment", "fintech_organization"):
            cursor.execute(f"ANALYZE {table}")
    log(f"book: {loans} loans, {count} installments in {time.monotonic() - started:.1f} s")
    return {"loans": loans, "loan_base": loan, "installments": count}


class CheckFailed(Exception):
    pass


def check(loan_base: int, sample: int = 3) -> None:
    """Twins through the services of `sample` generated loans per repayment method (on time, late,
    stopping): same schedule, statuses and Q3 2025 interest subsidies by the service's own SQL;
    everything written here is rolled back."""
    from fintech.models import Installment, Loan, SubsidyEntitlement, SubsidyRun
    from fintech.rules import subsidies as rules
    from fintech.services import subsidies as service
    from tests.builders import active_loan
    from tests.factories import wuhan_program
    from tests.fintech.subsidies.helpers import pay

    def rows(loan: Loan) -> list[tuple]:
        return list(
            Installment.objects.filter(loan=loan)
            .order_by("seq")
            .values_list(
                "seq",
                "start_on",
                "due_on",
                "days",
                "opening_principal",
                "principal_due",
                "interest_due",
                "status",
            )
        )

    def subsidies(run: SubsidyRun, loan: Loan) -> dict[int, Decimal]:
        service._insert_entitlements(run, loan.pk, loan.pk)
        found = SubsidyEntitlement.objects.filter(run=run, loan=loan, kind="interest")
        return {e.installment.seq: e.amount for e in found.select_related("installment")}

    generated = Loan.objects.filter(pk__gt=loan_base).order_by("pk")
    picked: list[Loan] = []
    for method in METHODS:
        for pattern in (0, 1, 2):
            ids = [lo.pk for lo in generated.filter(repayment_method=method)[:400]]
            for pk in ids:
                g = pk - loan_base
                want = 2 if g % 50 == 0 else 1 if g % 50 < 4 else 0
                if want == pattern:
                    picked.append(Loan.objects.get(pk=pk))
                    break
    compared = 0
    with transaction.atomic():
        program = wuhan_program()
        span = rules.parse_period("2025Q3", program.subsidy_period)
        run = SubsidyRun.objects.create(
            program=program,
            period=span.label,
            period_start=span.start,
            period_end=span.end,
            parameters=service._snapshot(program, 1),
            started_by_id=Loan.objects.get(pk=loan_base + 1).approved_by_id,
            status="running",
        )
        for loan in picked:
            g = loan.pk - loan_base
            pattern = 2 if g % 50 == 0 else 1 if g % 50 < 4 else 0
            assert loan.disbursed_on is not None
            twin, people = active_loan(
                principal=loan.principal,
                annual_rate=loan.annual_rate,
                term_months=loan.term_months,
                method=loan.repayment_method,
                disbursed_on=loan.disbursed_on,
                valuation_on=loan.disbursed_on - timedelta(days=10),
            )
            due = [i.seq for i in Installment.objects.filter(loan=twin, due_on__lte=AS_OF).order_by("seq")]
            if pattern == 2:
                due = [seq for seq in due if seq <= STOP_AFTER]
            for seq in due:
                late = 10 if pattern == 1 and seq == LATE_SEQ else 0
                pay(twin, people, [seq], days_late=late)
            mine, theirs = rows(loan), rows(twin)
            if mine != theirs:
                raise CheckFailed(f"loan {loan.pk} vs twin {twin.pk}: schedules differ\n{mine}\n{theirs}")
            a, b = subsidies(run, loan), subsidies(run, twin)
            if a != b:
                raise CheckFailed(f"loan {loan.pk} vs twin {twin.pk}: subsidies differ {a} {b}")
            compared += 1
            log(
                f"check: loan {loan.pk} ({loan.repayment_method}, pattern {pattern}) = twin {twin.pk}: "
                f"{len(mine)} installments, Q3 2025 interest subsidies {sum(a.values(), Decimal(0))}"
            )
        transaction.set_rollback(True)
    log(f"check: {compared} generated loans equal their twins built through the services")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--installments", type=int, default=100_000)
    parser.add_argument(
        "--check", action="store_true", help="compare a sample with twins built by the services"
    )
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    built = build(args.installments)
    if args.check:
        check(built["loan_base"])


if __name__ == "__main__":
    main()

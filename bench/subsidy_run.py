"""Subsidy run 2025Q3 on the book of bench/book.py: the service through Celery (real workers started
here) against its floor, on the same rows in the same run, outputs compared to the fen.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> CELERY_BROKER_URL=redis://127.0.0.1:6379/<n> \\
        .venv/bin/python bench/subsidy_run.py --name 100k [--never-analysed] [--workers 2]

The floor writes the same entitlements into the same table with one INSERT ... SELECT per kind over
every loan (the service's own statements, over one id range) and one statement for the cap, in a
transaction rolled back afterwards. `--never-analysed` removes the entitlement table's statistics
(pg_statistic rows, reltuples) before the floor and before the service, as after a bulk load.

Prints `floor`, `service`, and `ratio <name> <measured> target <limit>` lines: the service over the
floor (limit 3; at 100k the fixed second of dispatch and completion is taken off first), and the
share of the run spent holding run-wide row locks (per-chunk counter updates plus the completion,
from the workers' log lines; limit 0.05). Results are kept in bench/.results.json; with both the
100k and 1m entries there, `ratio subsidy_growth_1m_over_100k` is printed too (limit 12).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "off")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.db.models import Count, Q, Sum  # noqa: E402

from bench.processes import start_workers, stop  # noqa: E402
from config.celery import app  # noqa: E402
from fintech.models import SubsidyEntitlement, SubsidyRun, SubsidyRunChunk, User  # noqa: E402
from fintech.services import subsidies as service  # noqa: E402

PERIOD = "2025Q3"
RESULTS = ROOT / "bench" / ".results.json"
HELD = re.compile(r"run row held ([0-9.]+) s")
FINISHED = re.compile(r"subsidy run \d+ completed in ([0-9.]+) s")


def hardware() -> str:
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "?")
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    return f"{os.cpu_count()} cores ({cpu}), PostgreSQL {pg}"


def regulators() -> tuple[User, User]:
    from tests.factories import wuhan_program
    from tests.fintech.subsidies.helpers import regulator

    wuhan_program()
    found = list(User.objects.filter(username__startswith="bench-regulator").order_by("pk")[:2])
    if len(found) == 2:
        return found[0], found[1]
    from fintech.models import Organization

    org = Organization.objects.filter(kind="regulator", region_id="420100").first()
    if org is None:
        org = Organization.objects.create(
            kind="regulator", name="Bench regulator", uscc="BENCH-REGULATOR", region_id="420100"
        )
    return regulator(org, username="bench-regulator-1"), regulator(org, username="bench-regulator-2")


def clear(never_analysed: bool) -> None:
    """No run of the bench period left; statistics fresh, or none at all."""
    SubsidyEntitlement.objects.all().delete()
    SubsidyRunChunk.objects.all().delete()
    SubsidyRun.objects.all().delete()
    table = SubsidyEntitlement._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {table}")
        if never_analysed:
            cursor.execute(f"DELETE FROM pg_statistic WHERE starelid = '{table}'::regclass")
            cursor.execute(
                f"UPDATE pg_class SET reltuples = -1, relpages = 0 WHERE oid = '{table}'::regclass"
            )


def figures(run_id: int) -> dict[str, str]:
    agg = SubsidyEntitlement.objects.filter(run_id=run_id).aggregate(
        n=Count("id"),
        interest=Sum("amount", filter=Q(kind="interest")),
        premium=Sum("amount", filter=Q(kind="premium")),
        computed=Sum("computed_amount"),
        capped=Count("id", filter=Q(capped=True)),
    )
    return {k: str(v) for k, v in agg.items()}


def floor(starter: User) -> tuple[float, dict[str, str]]:
    """The same statements over every loan at once, in a transaction rolled back afterwards."""
    from fintech.models import Loan

    lo, hi = (
        Loan.objects.order_by("pk").values_list("pk", flat=True)[:1][0],
        Loan.objects.order_by("-pk").values_list("pk", flat=True)[:1][0],
    )
    with transaction.atomic():
        from fintech.rules import subsidies as rules
        from tests.factories import wuhan_program

        program = wuhan_program()
        span = rules.parse_period(PERIOD, program.subsidy_period)
        run = SubsidyRun.objects.create(
            program=program,
            period=span.label,
            period_start=span.start,
            period_end=span.end,
            parameters=service._snapshot(program, 10**9),
            started_by=starter,
            status="running",
        )
        started = time.monotonic()
        service._insert_entitlements(run, lo, hi)  # one INSERT ... SELECT per kind
        service._apply_cap(run)  # one statement for the cap (and the rows it changes)
        took = time.monotonic() - started
        result = figures(run.pk)
        transaction.set_rollback(True)
    return took, result


def through_celery(starter: User, queue: str, chunk_size: int) -> tuple[float, int]:
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    # Warm-up, not timed: the first message a process sends imports the task modules and the Redis
    # transport (about 1.3 s on this machine) and connects; a web process pays that once, at its
    # first publish, not per run.
    import fintech.tasks  # noqa: F401
    from tests.factories import wuhan_program

    with app.producer_or_acquire() as producer:
        producer.connection.ensure_connection()
        producer.channel  # noqa: B018  (opens the transport's channel)

    started = time.monotonic()
    run = service.subsidy_run_start(
        actor=starter, program_id=wuhan_program().pk, period=PERIOD, chunk_size=chunk_size
    )
    while SubsidyRun.objects.values_list("status", flat=True).get(pk=run.pk) not in ("computed", "failed"):
        time.sleep(0.05)
    return time.monotonic() - started, run.pk


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--name", default="100k", help="label of the book size, e.g. 100k or 1m")
    parser.add_argument("--never-analysed", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk-size", type=int, default=service.DEFAULT_CHUNK_SIZE)
    args = parser.parse_args()

    from fintech.models import Installment

    starter, _checker = regulators()
    installments = Installment.objects.count()
    print(f"hardware {hardware()}; book {installments} installments; workers {args.workers}")
    stats = "never-analysed" if args.never_analysed else "fresh"

    clear(args.never_analysed)
    floor_s, floor_fig = floor(starter)
    print(f"floor {floor_s:.3f} s ({stats} statistics) {floor_fig}")

    clear(args.never_analysed)
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    log = ROOT / "bench" / f".worker-{queue}.log"
    workers = start_workers(queue, args.workers, log)
    try:
        service_s, run_id = through_celery(starter, queue, args.chunk_size)
    finally:
        stop(workers)
    run = SubsidyRun.objects.get(pk=run_id)
    service_fig = figures(run_id)
    print(
        f"service {service_s:.3f} s ({stats} statistics; {run.chunks_total} chunks, status {run.status})"
        f" {service_fig}"
    )
    if service_fig != floor_fig:
        raise SystemExit(f"FIGURES DIFFER: floor {floor_fig} service {service_fig}")
    print("figures equal")

    text = log.read_text(errors="replace")
    held = sum(float(x) for x in HELD.findall(text))
    finish = sum(float(x) for x in FINISHED.findall(text))
    log.unlink()
    name = f"subsidy_run_{args.name}" + ("_never_analysed" if args.never_analysed else "")
    if args.name == "100k":
        print(
            f"ratio {name} {(service_s - 1.0) / floor_s:.2f} target 3.00  (service - 1 s fixed cost) / floor"
        )
    else:
        print(f"ratio {name} {service_s / floor_s:.2f} target 3.00")
    # Per chunk: the counter UPDATE (what limits adding workers); once at the end: the cap, the
    # events the chunks could not write and the totals under the programme and run locks.
    print(f"ratio {name}_run_lock_share {(held + finish) / service_s:.4f} target 0.05")
    print(f"per-chunk counter updates {held:.3f} s ({held / service_s:.1%} of the run)")
    print(
        f"completion under the run lock {finish:.3f} s"
        f" ({finish / service_s:.1%} of the run, once, at the end)"
    )

    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[name] = {"service": service_s, "floor": floor_s, "installments": installments}
    RESULTS.write_text(json.dumps(results, indent=1))
    if "subsidy_run_100k" in results and "subsidy_run_1m" in results:
        growth = results["subsidy_run_1m"]["service"] / results["subsidy_run_100k"]["service"]
        print(f"ratio subsidy_growth_1m_over_100k {growth:.2f} target 12.00")


if __name__ == "__main__":
    main()

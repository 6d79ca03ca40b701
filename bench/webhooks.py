"""Benchmark: the webhook relay drains N pending deliveries (100,000 by default) to a local receiver.

Needs a PostgreSQL database of its own (`migrate` runs first). The book: N events of one bank in
N / 10 financings (10 versions each, so the relay's per-financing order is exercised), their
recipients and one pending delivery each to one endpoint, written by `INSERT ... SELECT` over
`generate_series` (the outbox's writing is measured by the services' own tests, not here).

The receiver is a separate process (`--serve`: ThreadingHTTPServer, HTTP/1.1 keep-alive, answers
204 at once), so it does not share this process's interpreter lock with the relay.

- floor: the same N POSTs, bodies and Standard Webhooks signatures, in a plain loop with no outbox
  (no claim, no lock, no status, no attempt log), over WEBHOOK_RELAY_THREADS kept-alive connections
  as the relay uses; the same loop on one connection is printed too.
- relay: `services.webhooks.relay_drain()`, the relay task's own loop, until nothing is pending.
  Each batch: the SKIP LOCKED claim of lane heads and followers and their lease (one commit), the
  POSTs with no transaction open, then one UPDATE of the deliveries and one INSERT of the attempt
  log (one commit); pipelined, the next batch's claim and the previous one's record run while a
  batch's POSTs do.

Prints events per second of both and `ratio webhook_relay <relay/floor time> target 2.00`.

    createdb -h 127.0.0.1 -U postgres pp_15_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pp_15_bench .venv/bin/python bench/webhooks.py
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "off")
os.environ.setdefault("WEBHOOK_ALLOW_PRIVATE_HOSTS", "1")
os.environ.setdefault("WEBHOOK_RELAY_ON_COMMIT", "0")

TARGET = 2.00


def serve(port: int) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print("ready", flush=True)
    server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--port", type=int, default=18915)
    parser.add_argument(
        "--serve", action="store_true", help="run the receiver (used by the benchmark itself)"
    )
    args = parser.parse_args()
    if args.serve:
        serve(args.port)
        return

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    receiver = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--port", str(args.port)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert receiver.stdout is not None and receiver.stdout.readline().strip() == "ready"
        url = f"http://127.0.0.1:{args.port}/hook"
        endpoint_id = book(args.events, url)
        financings = args.events // 10
        print(f"book: {args.events} pending deliveries in {financings} financings; {hardware(connection)}")
        threads = settings.WEBHOOK_RELAY_THREADS
        one = floor(endpoint_id, threads=1)
        print(f"floor_1_connection {one:.1f} s  {args.events / one:.0f} events/s")
        floor_s = floor(endpoint_id, threads=threads)
        print(f"floor_{threads}_connections {floor_s:.1f} s  {args.events / floor_s:.0f} events/s")
        relay_s, batches = relay(args.events)
        print(f"relay {relay_s:.1f} s  {args.events / relay_s:.0f} events/s  ({batches} batches)")
        print(f"ratio webhook_relay {relay_s / floor_s:.2f} target {TARGET:.2f}")
    finally:
        receiver.terminate()
        receiver.wait()


def hardware(connection: Any) -> str:
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "?")
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    return f"{os.cpu_count()} cores ({cpu}), PostgreSQL {pg}"


def book(n: int, url: str) -> int:
    """A fresh outbox: N events of one bank, each owed to its one endpoint."""
    from django.db import connection, transaction

    from fintech.models import Organization, WebhookEndpoint
    from fintech.services.webhooks import secret_new

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE fintech_webhookattempt, fintech_webhookdelivery, fintech_eventrecipient, "
            "fintech_event, fintech_eventstream"
        )
    WebhookEndpoint.objects.all().delete()
    bank, _ = Organization.objects.get_or_create(
        uscc="BENCH-WEBHOOK-BANK",
        defaults={"kind": "bank", "name": "Bench webhook bank", "region_id": "420100"},
    )
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            organization=bank, url=url, secret=secret_new(), event_types=[]
        )
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO fintech_event (type, type_version, aggregate_type, aggregate_id,
                    aggregate_version, subject_type, subject_id, data, occurred_at, txid)
                SELECT 'repayment.posted', 1, 'application', (g - 1) / 10 + 1, (g - 1) %% 10 + 1,
                       'loan', (g - 1) / 10 + 1,
                       jsonb_build_object(
                           'subject', jsonb_build_object('type', 'loan', 'id', (g - 1) / 10 + 1),
                           'application', (g - 1) / 10 + 1, 'loan', (g - 1) / 10 + 1,
                           'amount', '1000.00', 'details', jsonb_build_object('repayment', g)),
                       now(), 0
                FROM generate_series(1, %s) g
                """,
                [n],
            )
            cursor.execute(
                "INSERT INTO fintech_eventrecipient (event_id, organization_id) "
                "SELECT id, %s FROM fintech_event",
                [bank.pk],
            )
            cursor.execute(
                """
                INSERT INTO fintech_webhookdelivery (endpoint_id, event_id, aggregate_type, aggregate_id,
                    aggregate_version, status, attempts, next_attempt_at)
                SELECT %s, id, aggregate_type, aggregate_id, aggregate_version, 'pending', 0, now()
                FROM fintech_event
                """,
                [endpoint.pk],
            )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE fintech_webhookdelivery")
        cursor.execute("VACUUM ANALYZE fintech_event")
        cursor.execute("VACUUM ANALYZE fintech_eventrecipient")
    return endpoint.pk


def floor(endpoint_id: int, threads: int) -> float:
    """The same POSTs (bodies built and signed the same way) in a plain loop, no outbox."""
    from fintech.models import Event, WebhookDelivery, WebhookEndpoint
    from fintech.services import webhooks
    from fintech.services.events import event_body

    endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
    events = list(Event.objects.order_by("id"))
    deliveries = [WebhookDelivery(endpoint=endpoint, event=e) for e in events]
    bodies = [json.dumps(event_body(e), separators=(",", ":")).encode() for e in events]
    failures = [0]

    def loop(part: range) -> None:
        for i in part:
            outcome = webhooks._send(deliveries[i], bodies[i])
            if not outcome.ok:
                failures[0] += 1

    started = time.monotonic()
    workers = [threading.Thread(target=loop, args=(range(k, len(events), threads),)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    took = time.monotonic() - started
    assert failures[0] == 0, f"{failures[0]} floor posts failed"
    return took


def relay(n: int) -> tuple[float, int]:
    from fintech.models import WebhookDelivery
    from fintech.services.webhooks import relay_drain

    started = time.monotonic()
    batches = relay_drain(budget_seconds=10**9)["batches"]
    took = time.monotonic() - started
    delivered = WebhookDelivery.objects.filter(status="delivered").count()
    assert delivered == n, f"{delivered} of {n} delivered"
    return took, batches


if __name__ == "__main__":
    main()

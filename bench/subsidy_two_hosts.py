"""Subsidy run 2025Q3 with its workers on two "hosts" (network namespaces made here), one of them cut
off mid-run: the run completes on the other, with the figures of the floor (which a run on one
host equals: bench/subsidy_run.py). Needs root (`ip netns`), PostgreSQL and Redis on 127.0.0.1.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> CELERY_BROKER_URL=redis://127.0.0.1:6379/<n> \\
        .venv/bin/python bench/subsidy_two_hosts.py [--chunk-size 250]

The database is a book of bench/book.py. What it builds, and removes at the end whatever happens
(a `finally` and SIGINT/SIGTERM handlers; leftovers of an earlier killed run are removed first):

- two namespaces `pp8-host1`, `pp8-host2`, each with a veth pair: the host end 10.231.N.1/30, the
  namespace end 10.231.N.2/30 (no other address, no route out);
- on each host end, a TCP relay (this file, `--relay`) listening on 10.231.N.1:5432 and :6379 and
  forwarding to 127.0.0.1:5432 and :6379. A relay gives up a client connection whose peer stops
  answering (TCP keepalive and TCP_USER_TIMEOUT of a few seconds), and closes its server side
  then: what PostgreSQL's own keepalives do for a client host that vanishes, so the lost worker's
  transaction is rolled back and its chunk row unlocked;
- one Celery worker (`--concurrency 1`) in each namespace, reaching the database and the broker
  through its relay only.

The run is started from here (127.0.0.1). Once host 1 holds a chunk (its worker log says it
received one more task than it finished) and a few chunks are done, host 1's link is set down
(`ip link set <host end> down`). The chunk engine's watchdog (services.batch.watchdog_run, what
the beat schedule runs every BATCH_WATCHDOG_SECONDS; called here each second, with
BATCH_HEARTBEAT_SECONDS=5 for this run) queues again the chunks host 1 held, and host 2 computes
them. Prints the floor, the run's time, the chunks queued again, and
`pass subsidy_two_hosts ...` when the run is computed with the floor's figures (else `FAIL` and
exit status 1).
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("BATCH_HEARTBEAT_SECONDS", "5")

if __name__ == "__main__" and "--relay" in sys.argv:
    import asyncio
    import socket

    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    def _handler(port: int):  # type: ignore[no-untyped-def]
        async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
            sock = client_w.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, 4000)
            try:
                server_r, server_w = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                client_w.close()
                return
            await asyncio.gather(_pipe(client_r, server_w), _pipe(server_r, client_w))

        return handle

    async def _relay(host: str) -> None:
        servers = [await asyncio.start_server(_handler(port), host, port) for port in (5432, 6379)]
        print(f"relay {host} ready", flush=True)
        await asyncio.gather(*(s.serve_forever() for s in servers))

    asyncio.run(_relay(sys.argv[sys.argv.index("--relay") + 1]))
    raise SystemExit(0)

import argparse
import secrets
import signal
import subprocess
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import subsidy_run as bench  # django.setup() and the floor of bench/subsidy_run.py

from config.celery import app
from fintech.models import SubsidyRun
from fintech.services import batch
from fintech.services import subsidies as service

ROOT = bench.ROOT
HOSTS = (1, 2)


def namespace(n: int) -> str:
    return f"pp8-host{n}"


def host_end(n: int) -> str:
    return f"pp8h{n}"


def host_address(n: int) -> str:
    return f"10.231.{n}.1"


def ip(*args: str, check: bool = True) -> None:
    subprocess.run(["ip", *args], check=check, capture_output=True)


def network_down() -> None:
    """Remove what this benchmark creates (missing parts are fine)."""
    for n in HOSTS:
        ip("link", "del", host_end(n), check=False)  # removes its peer too
        ip("netns", "del", namespace(n), check=False)


def network_up() -> None:
    for n in HOSTS:
        ns, outer, inner = namespace(n), host_end(n), f"pp8n{n}"
        ip("netns", "add", ns)
        ip("link", "add", outer, "type", "veth", "peer", "name", inner)
        ip("link", "set", inner, "netns", ns)
        ip("addr", "add", f"{host_address(n)}/30", "dev", outer)
        ip("link", "set", outer, "up")
        ip("-n", ns, "addr", "add", f"10.231.{n}.2/30", "dev", inner)
        ip("-n", ns, "link", "set", inner, "up")
        ip("-n", ns, "link", "set", "lo", "up")


def wait_for(log: Path, text: str, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 90
    while text not in log.read_text(errors="replace"):
        if time.monotonic() > deadline or process.poll() is not None:
            raise SystemExit(f"{what} did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.2)


def start(command: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    # A session of its own: stopped by its process group id at the end.
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def held(log: Path) -> int:
    """Tasks the worker has received and not finished, from its log."""
    text = log.read_text(errors="replace")
    return text.count(" received") - text.count(" succeeded in ") - text.count(" raised ")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chunk-size", type=int, default=250)
    parser.add_argument("--cut-after", type=int, default=2, help="chunks done before host 1 is cut off")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root: it creates network namespaces")
    database = os.environ["DATABASE_URL"].rsplit("/", 1)[1]
    redis_db = os.environ["CELERY_BROKER_URL"].rsplit("/", 1)[1]

    starter, _checker = bench.regulators()
    print(f"hardware {bench.hardware()}; workers: 1 in each of 2 network namespaces")
    bench.clear(False)
    floor_s, floor_fig = bench.floor(starter)
    print(f"floor {floor_s:.3f} s {floor_fig}")
    bench.clear(False)

    processes: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []

    def interrupted(signum: int, _frame: object) -> None:
        raise SystemExit(f"interrupted by signal {signum}")

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    network_down()  # leftovers of a run killed with SIGKILL
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    ok = False
    try:
        network_up()
        workers: dict[int, Path] = {}
        for n in HOSTS:
            log = ROOT / "bench" / f".relay-{queue}-{n}.log"
            logs.append(log)
            relay = start([sys.executable, __file__, "--relay", host_address(n)], log)
            processes.append(relay)
            wait_for(log, "ready", relay, f"relay {n}")
        for n in HOSTS:
            log = ROOT / "bench" / f".worker-{queue}-{n}.log"
            logs.append(log)
            via = host_address(n)
            env = {
                **os.environ,
                "DATABASE_URL": f"postgres://postgres@{via}:5432/{database}",
                "CELERY_BROKER_URL": f"redis://{via}:6379/{redis_db}",
                "CELERY_QUEUE": queue,
                "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(50),
                "PYTHONUNBUFFERED": "1",
            }
            command = ["ip", "netns", "exec", namespace(n), sys.executable, "-m", "celery", "-A", "config"]
            command += ["worker", "-Q", queue, "--concurrency", "1", "-n", f"host{n}@%h"]
            command += ["--without-gossip", "--without-mingle", "-l", "info"]
            worker = start(command, log, env)
            processes.append(worker)
            wait_for(log, " ready.", worker, f"worker on host {n}")
            workers[n] = log

        app.conf.task_always_eager = False
        app.conf.task_default_queue = queue
        from tests.factories import wuhan_program

        started = time.monotonic()
        run = service.subsidy_run_start(
            actor=starter, program_id=wuhan_program().pk, period=bench.PERIOD, chunk_size=args.chunk_size
        )
        cut_at: int | None = None
        deadline = started + 600
        while True:
            run = SubsidyRun.objects.get(pk=run.pk)
            if run.status in ("computed", "failed") or time.monotonic() > deadline:
                break
            if cut_at is None and run.chunks_done >= args.cut_after and held(workers[1]) > 0:
                ip("link", "set", host_end(1), "down")
                cut_at = run.chunks_done
                print(
                    f"host 1 cut off at {time.monotonic() - started:.1f} s,"
                    f" {cut_at}/{run.chunks_total} chunks done"
                )
            if cut_at is not None:
                batch.watchdog_run(service.SUBSIDY_JOB, run.pk)
            time.sleep(0.2 if cut_at is None else 1.0)
        took = time.monotonic() - started
        figures = bench.figures(run.pk)
        by_host = {n: workers[n].read_text(errors="replace").count(" succeeded in ") for n in HOSTS}
        print(
            f"service {took:.3f} s: status {run.status}, {run.chunks_total} chunks, {run.chunks_requeued}"
            f" queued again by the watchdog; tasks finished: host 1 {by_host[1]}, host 2 {by_host[2]}"
            f" {figures}"
        )
        ok = run.status == "computed" and cut_at is not None and figures == floor_fig
        if ok:
            print(
                f"pass subsidy_two_hosts: host 1 cut off after {cut_at} of {run.chunks_total} chunks,"
                f" {run.chunks_requeued} chunks queued again, run computed on host 2,"
                " figures equal to the floor"
            )
        else:
            print(f"FAIL subsidy_two_hosts: cut at {cut_at}, status {run.status}, floor {floor_fig}")
    finally:
        for process in reversed(processes):
            stop(process)
        network_down()
        left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        print("namespaces and relays removed" if "pp8-host" not in left else f"LEFT: {left}")
        if ok:
            for log in logs:
                log.unlink(missing_ok=True)
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

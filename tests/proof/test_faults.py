"""Faults and attacks with real processes (PostgreSQL; the throttle also needs the broker's Redis):

- a database connection terminated mid request (pg_terminate_backend): no partial write, a clean
  503 in the error shape, and the next request is served;
- the sign-in throttle counted across gunicorn's worker processes (the shared cache is the broker's
  Redis): with 20/min and 3 workers the 21st failure is the first 429, not the 42nd to 57th;
- the account lockout holding under parallel attempts across processes: the right password is
  refused afterwards.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection

from fintech.models import AuditLog, FundMovement, JournalEntry
from tests.celery_worker import worker_database_url
from tests.factories import PASSWORD, SmeFactory, UserFactory
from tests.fintech.risk_pool.helpers import active_world

from .conftest import client_for, figure

pytestmark = [pytest.mark.proof, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


def test_a_connection_terminated_mid_request_writes_nothing(monkeypatch):
    import fintech.services.risk_pool as risk_pool

    world = active_world()
    original = risk_pool.ledger_post
    killed: list[int] = []

    def terminate_then_post(*args: Any, **kwargs: Any) -> Any:
        # The top-up's movement row is written; the database connection now dies under the request.
        pid = connection.connection.info.backend_pid
        db = connection.settings_dict
        dsn = f"host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} user={db['USER']} dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        killed.append(pid)
        return original(*args, **kwargs)

    monkeypatch.setattr(risk_pool, "ledger_post", terminate_then_post)
    before = (FundMovement.objects.count(), JournalEntry.objects.count(), AuditLog.objects.count())
    body = {"program": world.program.pk, "amount": "5000.00", "received_on": "2025-06-01"}

    response = client_for(world.regulator).post("/api/v1/risk-fund/top-ups/", body, format="json")

    assert killed, "the connection was not terminated"
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert response["Retry-After"]
    connection.close()  # the test's own handle on the killed connection
    assert (FundMovement.objects.count(), JournalEntry.objects.count(), AuditLog.objects.count()) == before

    # and the service recovers: the same top-up, tried again, is written once
    monkeypatch.setattr(risk_pool, "ledger_post", original)
    again = client_for(world.regulator).post("/api/v1/risk-fund/top-ups/", body, format="json")
    assert again.status_code == 201, again.content
    assert FundMovement.objects.count() == before[0] + 1
    figure("db_kill", "db-kill requests=1 partial_writes=0 status=503 recovered=yes")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _gunicorn(rate: str) -> Iterator[str]:
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")},
        "DATABASE_URL": worker_database_url(),
        "DJANGO_SECRET_KEY": "proof-" + uuid.uuid4().hex * 2,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "off",
        "AUTH_THROTTLE_RATE": rate,
        "DATABASE_CONN_MAX_AGE": "0",
    }
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "3",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(f"{base}/api/v1/me/", timeout=30).status_code == 401:
                    break
            except requests.ConnectionError:
                pass
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture
def web_20_per_minute() -> Iterator[str]:
    if not os.environ.get("CELERY_BROKER_URL", "").startswith("redis://"):
        pytest.skip("needs the broker's Redis (CELERY_BROKER_URL=redis://...) as the shared cache")
    yield from _gunicorn("20/min")


@pytest.fixture
def web_unthrottled() -> Iterator[str]:
    yield from _gunicorn("100000/min")


def test_the_sign_in_throttle_counts_across_worker_processes(web_20_per_minute):
    from django.core.cache import cache

    cache.clear()
    statuses = [
        requests.post(
            f"{web_20_per_minute}/api/v1/auth/token/",
            json={"username": f"nobody-{i}", "password": "Wrong-horse-9!"},
            timeout=60,
        ).status_code
        for i in range(25)
    ]

    first_429 = statuses.index(429) + 1 if 429 in statuses else None
    figure("throttle", f"throttle workers=3 rate=20/min first_429_at={first_429}")
    assert statuses == [401] * 20 + [429] * 5


def test_the_account_lockout_holds_under_parallel_attempts(web_unthrottled):
    user = UserFactory(organization=SmeFactory())
    hasher = PBKDF2PasswordHasher()
    user.password = hasher.encode(PASSWORD, hasher.salt(), iterations=1000)
    user.save()
    url = f"{web_unthrottled}/api/v1/auth/token/"

    def wrong(_: int) -> int:
        return requests.post(
            url, json={"username": user.username, "password": "Wrong-horse-9!"}, timeout=120
        ).status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(wrong, range(30)))
    right = requests.post(url, json={"username": user.username, "password": PASSWORD}, timeout=120)

    figure(
        "lockout",
        f"lockout parallel_attempts=30 processes=3 accepted_failures={statuses.count(401)} "
        f"locked={statuses.count(423)} right_password_after={right.status_code}",
    )
    assert set(statuses) <= {401, 423}
    assert statuses.count(423) >= 30 - 10 - 12  # at most the limit plus the attempts in flight got through
    assert right.status_code == 423
    assert right.json()["code"] == "account_locked"

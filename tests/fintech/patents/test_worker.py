"""A task sent through the real broker is run by a real Celery worker process against the test
database (needs CELERY_BROKER_URL and a PostgreSQL DATABASE_URL; skipped otherwise)."""

from __future__ import annotations

from datetime import date

import pytest

from fintech.models import AuditLog, PatentStatus
from tests import celery_worker as harness
from tests.fintech.helpers import make_patent

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# The real-worker fixtures (tests/celery_worker.py), each test on its own queue (the close and
# repayments conftests import the same fixtures).
queue = harness.queue
worker = harness.worker
through_the_broker = harness.through_the_broker


def test_patents_expire_runs_in_a_real_worker(worker, through_the_broker):
    # given an in-force patent whose term ended on 2024-03-31 and one still in force
    from fintech.tasks import patents_expire

    ended = make_patent(
        filing_date=date(2004, 4, 1),
        grant_date=date(2006, 4, 1),
        expires_on=date(2024, 3, 31),
        status=PatentStatus.IN_FORCE,
    )
    running = make_patent(
        filing_date=date(2020, 4, 1),
        grant_date=date(2022, 4, 1),
        expires_on=date(2040, 3, 31),
        status=PatentStatus.IN_FORCE,
    )

    # when the daily expiry task is sent through the broker for 2025-01-01
    patents_expire.delay("2025-01-01")

    # then the worker marks the ended patent expired and audits it, within a minute
    def expired() -> bool:
        ended.refresh_from_db()
        return (
            ended.status == PatentStatus.EXPIRED and AuditLog.objects.filter(action="patent.expiry").exists()
        )

    worker.wait_for(expired, "the patent to expire")
    row = AuditLog.objects.get(action="patent.expiry")
    assert (row.object_type, row.object_id) == ("fintech.patent", str(ended.pk))
    assert (row.from_state, row.to_state, row.reason) == ("in_force", "expired", "term ended 2024-03-31")
    assert row.actor is None
    running.refresh_from_db()
    assert running.status == PatentStatus.IN_FORCE


def test_patents_expire_is_idempotent_in_a_real_worker(worker, through_the_broker):
    # given a patent whose term has ended
    from fintech.tasks import patents_expire

    ended = make_patent(
        filing_date=date(2004, 4, 1),
        grant_date=date(2006, 4, 1),
        expires_on=date(2024, 3, 31),
        status=PatentStatus.IN_FORCE,
    )

    # when the task is delivered twice (a retry after a lost acknowledgement)
    patents_expire.delay("2025-01-01")
    patents_expire.delay("2025-01-01")
    # and a marker task is sent after them on the same single-process queue
    patents_expire.delay("2025-01-02")

    # then, once the worker has run all three, the patent was expired and audited exactly once
    worker.wait_for(lambda: worker.output().count(" succeeded in ") == 3, "three tasks to succeed")
    ended.refresh_from_db()
    assert ended.status == PatentStatus.EXPIRED
    assert AuditLog.objects.filter(action="patent.expiry").count() == 1

"""Two transactions writing events of the same financings lock their stream rows in one order, the
aggregate's (PostgreSQL): whatever order their subjects come in, neither can hold one stream the
other waits for while waiting for one the other holds (no deadlock, versions contiguous)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection, transaction

from fintech.models import Application, Event, EventStream
from fintech.services.events import events_insert_select
from tests.builders import application_at, cast

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# The subjects are applications; `pair` maps each to the application whose stream it is written to:
# itself, or its mirror in the list (the subjects then run the other way round from the aggregates).
_SOURCE = """
SELECT p.subject AS subject_id, p.aggregate AS aggregate_id,
       jsonb_build_object('subject', jsonb_build_object('type', 'application', 'id', p.subject),
                          'application', p.aggregate, 'loan', NULL) AS data
FROM unnest(%(subjects)s::bigint[], %(aggregates)s::bigint[]) AS p(subject, aggregate)
"""


def _write(apps: list[int], mirrored: bool) -> int:
    subjects = list(reversed(apps)) if mirrored else apps
    return events_insert_select(
        "application.submitted", Application, _SOURCE, {"subjects": subjects, "aggregates": apps}
    )


def _waiting(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return row is not None and row[0] == "Lock"


def _until(check: Any, what: str) -> None:
    deadline = time.monotonic() + 30
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_two_writers_of_the_same_streams_in_opposite_subject_orders_do_not_deadlock() -> None:
    # Given six financings whose streams exist (one event each)
    people = cast()
    apps = sorted(
        application_at(
            "draft", sme=people.sme, bank=people.bank, insurer=people.insurer, appraiser=people.appraiser
        ).pk
        for _ in range(6)
    )
    with transaction.atomic():
        assert _write(apps, mirrored=False) == 6
    middle = apps[3]
    # ... and a transaction holding the stream of the fourth one
    held, release = threading.Event(), threading.Event()
    pids: dict[str, int] = {}
    errors: dict[str, BaseException] = {}

    def holder() -> None:
        try:
            with transaction.atomic():
                list(EventStream.objects.select_for_update().filter(aggregate_id=middle))
                held.set()
                release.wait(60)
        finally:
            connection.close()

    def writer(name: str, mirrored: bool) -> None:
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid()")
                    pids[name] = cursor.fetchone()[0]
                _write(apps, mirrored)
        except BaseException as exc:  # a deadlock is reported to the test, not lost in the thread
            errors[name] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=holder)]
    threads[0].start()
    assert held.wait(30)
    # When one writer takes the streams with its subjects in aggregate order (it waits at the
    # fourth, holding the first three) and another with its subjects the other way round
    one = threading.Thread(target=writer, args=("one", False))
    one.start()
    _until(lambda: "one" in pids and _waiting(pids["one"]), "the first writer to wait")
    two = threading.Thread(target=writer, args=("two", True))
    two.start()
    _until(lambda: "two" in pids and _waiting(pids["two"]), "the second writer to wait")
    # ... and the holder lets go
    release.set()
    for t in (threads[0], one, two):
        t.join(60)
        assert not t.is_alive()
    # Then both commit (the second waited for the first, at the first stream): no deadlock
    assert errors == {}
    # ... and each stream numbers its three events 1, 2, 3
    for app in apps:
        versions = Event.objects.filter(aggregate_id=app).order_by("aggregate_version")
        assert list(versions.values_list("aggregate_version", flat=True)) == [1, 2, 3]
    assert set(EventStream.objects.filter(aggregate_id__in=apps).values_list("version", flat=True)) == {3}

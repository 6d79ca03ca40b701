"""Celery beat (DatabaseScheduler): the data migration and `manage.py beat_schedule` register the
daily close at 00:30 and the patent expiry at 01:00, Asia/Shanghai, and the batch watchdog every
BATCH_WATCHDOG_SECONDS; the beat task starts the close for today without waiting for it."""

from __future__ import annotations

from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from fintech.models import CloseRun, Loan
from fintech.services.beat import ensure_beat_schedule
from fintech.tasks.close import close_day_beat

from .conftest import FEB_20, loan_on

pytestmark = pytest.mark.django_db


def _schedule() -> list[tuple[str, str, bool, str, str, str]]:
    return [
        (t.name, t.task, t.enabled, t.crontab.minute, t.crontab.hour, str(t.crontab.timezone))
        for t in PeriodicTask.objects.filter(name__startswith="fintech:", crontab__isnull=False)
        .select_related("crontab")
        .order_by("name")
    ]


def _watchdog() -> tuple[str, bool, int, str]:
    task = PeriodicTask.objects.select_related("interval").get(name="fintech: batch watchdog")
    return (task.task, task.enabled, task.interval.every, task.interval.period)


def test_the_migrated_database_holds_the_periodic_jobs():
    # given the test database, built by the migrations (the data migration 0009 registered them)
    # then beat runs the close at 00:30 and the patent expiry at 01:00, Shanghai time, and the
    # watchdog every 60 s (the default BATCH_WATCHDOG_SECONDS)
    assert _schedule() == [
        ("fintech: daily close", "fintech.close_day_beat", True, "30", "0", "Asia/Shanghai"),
        ("fintech: patents expire", "fintech.patents_expire", True, "0", "1", "Asia/Shanghai"),
    ]
    assert _watchdog() == ("fintech.batch_watchdog", True, 60, "seconds")


def test_the_command_registers_the_periodic_jobs(settings):
    # given a database without the periodic tasks, and a watchdog period of 30 s
    PeriodicTask.objects.filter(name__startswith="fintech:").delete()
    settings.BATCH_WATCHDOG_SECONDS = 30

    # when the operator runs the command
    call_command("beat_schedule", stdout=StringIO())

    # then the three jobs are back, the watchdog every 30 s
    assert [row[:2] for row in _schedule()] == [
        ("fintech: daily close", "fintech.close_day_beat"),
        ("fintech: patents expire", "fintech.patents_expire"),
    ]
    assert _watchdog() == ("fintech.batch_watchdog", True, 30, "seconds")


def test_ensuring_the_schedule_again_changes_nothing_and_keeps_an_operators_switch():
    # given the schedule, and an operator who paused the daily close
    ensure_beat_schedule()
    PeriodicTask.objects.filter(name="fintech: daily close").update(enabled=False)
    counts = (PeriodicTask.objects.count(), CrontabSchedule.objects.count(), IntervalSchedule.objects.count())

    # when the schedule is ensured twice more
    ensure_beat_schedule()
    ensure_beat_schedule()

    # then no row was added and the close stays paused
    assert (
        PeriodicTask.objects.count(),
        CrontabSchedule.objects.count(),
        IntervalSchedule.objects.count(),
    ) == counts
    assert _schedule()[0] == (
        "fintech: daily close",
        "fintech.close_day_beat",
        False,
        "30",
        "0",
        "Asia/Shanghai",
    )


def test_the_beat_task_starts_the_close_and_queues_its_chunks(django_capture_on_commit_callbacks):
    # given a loan whose installment 1 (due 2025-03-20) is unpaid
    loan = loan_on(FEB_20)

    # when beat fires the task for 2025-04-01 (tasks run in process here)
    with django_capture_on_commit_callbacks(execute=True) as queued:
        close_day_beat.delay("2025-04-01")

    # then it queued one chunk and the close was done by it; its finish queued the date's watch,
    # which queued its own chunk
    assert [c.__name__ for c in queued] == ["send_each", "send_collateral_watch_start", "send_each"]
    run = CloseRun.objects.get()
    assert (run.as_of, run.status, run.overdue_marked) == (date(2025, 4, 1), "done", 1)
    assert Loan.objects.get(pk=loan.pk).last_closed_on == date(2025, 4, 1)

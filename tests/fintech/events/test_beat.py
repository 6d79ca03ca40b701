"""Beat runs the webhook relay every WEBHOOK_RELAY_SECONDS, registered by the migration and by
`manage.py beat_schedule` like the other periodic jobs."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

pytestmark = pytest.mark.django_db


def _relay() -> tuple[str, bool, int, str]:
    task = PeriodicTask.objects.select_related("interval").get(name="fintech: webhook relay")
    return (task.task, task.enabled, task.interval.every, task.interval.period)


def test_the_migrated_database_runs_the_relay_every_10_seconds() -> None:
    assert _relay() == ("fintech.webhooks_relay", True, 10, "seconds")


def test_the_command_registers_it_again_with_the_setting(settings: Any) -> None:
    PeriodicTask.objects.filter(name="fintech: webhook relay").delete()
    settings.WEBHOOK_RELAY_SECONDS = 30
    call_command("beat_schedule", stdout=StringIO())
    assert _relay() == ("fintech.webhooks_relay", True, 30, "seconds")

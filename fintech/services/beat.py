"""The periodic tasks of Celery beat (django-celery-beat's DatabaseScheduler reads them from the
database, not from CELERY_BEAT_SCHEDULE). Registered by the data migration
0011_register_periodic_tasks and by `manage.py beat_schedule` (both idempotent); an operator's
`enabled` switch is kept."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django.apps import apps as global_apps
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS

# (name, task, minute, hour) in the platform's time zone (Asia/Shanghai).
CRONTAB_TASKS = (
    ("fintech: daily close", "fintech.close_day_beat", "30", "0"),
    ("fintech: patents expire", "fintech.patents_expire", "0", "1"),
)
# (name, task, every so many seconds)
INTERVAL_TASKS = (
    ("fintech: batch watchdog", "fintech.batch_watchdog", "BATCH_WATCHDOG_SECONDS"),
    ("fintech: webhook relay", "fintech.webhooks_relay", "WEBHOOK_RELAY_SECONDS"),
)
NAMES = tuple(name for name, *_rest in CRONTAB_TASKS + INTERVAL_TASKS)


def ensure_beat_schedule(apps: Any = None, using: str = DEFAULT_DB_ALIAS) -> None:
    """Create or update the periodic tasks (idempotent; `apps`: a migration's model registry)."""
    registry = apps or global_apps
    crontabs = registry.get_model("django_celery_beat", "CrontabSchedule").objects.using(using)
    intervals = registry.get_model("django_celery_beat", "IntervalSchedule").objects.using(using)
    tasks = registry.get_model("django_celery_beat", "PeriodicTask").objects.using(using)
    zone = ZoneInfo(settings.TIME_ZONE)
    for name, task, minute, hour in CRONTAB_TASKS:
        crontab, _ = crontabs.get_or_create(
            minute=minute, hour=hour, day_of_week="*", day_of_month="*", month_of_year="*", timezone=zone
        )
        tasks.update_or_create(name=name, defaults={"task": task, "crontab": crontab, "interval": None})
    for name, task, setting in INTERVAL_TASKS:
        every, _ = intervals.get_or_create(every=getattr(settings, setting), period="seconds")
        tasks.update_or_create(name=name, defaults={"task": task, "interval": every, "crontab": None})


def remove_beat_schedule(apps: Any = None, using: str = DEFAULT_DB_ALIAS) -> None:
    registry = apps or global_apps
    registry.get_model("django_celery_beat", "PeriodicTask").objects.using(using).filter(
        name__in=NAMES
    ).delete()

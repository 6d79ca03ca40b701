"""`python manage.py beat_schedule`: create or update Celery beat's periodic tasks (idempotent; the
data migration 0009 does the same once; run it after changing BATCH_WATCHDOG_SECONDS)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from fintech.services.beat import NAMES, ensure_beat_schedule


class Command(BaseCommand):
    help = "Register the periodic tasks of Celery beat (daily close, patent expiry, batch watchdog)."

    def handle(self, *args: Any, **options: Any) -> None:
        ensure_beat_schedule()
        self.stdout.write("periodic tasks: " + ", ".join(NAMES))

from typing import Any

from django.apps import AppConfig
from django.db import DEFAULT_DB_ALIAS
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _ensure_beat_schedule(sender: AppConfig, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    # The DatabaseScheduler reads its periodic tasks from the database, not CELERY_BEAT_SCHEDULE.
    from fintech.services.close import ensure_beat_schedule

    ensure_beat_schedule(using=using)


class FintechConfig(AppConfig):
    name = "fintech"
    verbose_name = _("Patent-pledge financing")

    def ready(self) -> None:
        import config.safety  # noqa: F401  (registers the production-settings check)

        post_migrate.connect(_ensure_beat_schedule, sender=self, dispatch_uid="fintech.ensure_beat_schedule")

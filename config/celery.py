"""The Celery app. Without CELERY_BROKER_URL tasks run in process (settings.CELERY_TASK_ALWAYS_EAGER)."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("patent_pledge")
app.config_from_object("django.conf:settings", namespace="CELERY")
if not app.conf.broker_url:
    # In process, a task still passes through a producer: give it the in-memory transport, or kombu
    # falls back to an AMQP server on localhost and logs "No hostname was supplied" on every run.
    app.conf.update(broker_url="memory://localhost/")
app.autodiscover_tasks()


@signals.worker_init.connect
@signals.beat_init.connect
def _refuse_unsafe_settings(**kwargs: object) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from config.safety import refuse_unsafe_settings

    try:
        refuse_unsafe_settings("The Celery process")
    except ImproperlyConfigured as exc:
        raise SystemExit(1) from exc  # Celery logs and ignores an exception of a signal handler

"""The one door from services to Celery: queue a task of fintech.tasks once the current transaction
commits (STYLE.md rule 4), so a worker never sees data that may still roll back."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue_on_commit(task_name: str, *args: Any, robust: bool = False) -> None:
    """Call `fintech.tasks.<task_name>.delay(*args)` after commit (at once outside a transaction).

    `robust`: a failure to queue (or, without a broker, of the task run in process) is logged by
    Django and does not stop the other on-commit callbacks.
    """

    def send() -> None:
        # Imported late: the task modules import the services (a task calls one service).
        from fintech import tasks

        getattr(tasks, task_name).delay(*args)

    send.__name__ = f"send_{task_name}"  # Django logs a robust callback's failure by its name
    send.__qualname__ = send.__name__
    transaction.on_commit(send, robust=robust)


def enqueue_each_on_commit(registered_name: str, ids: Iterable[int]) -> None:
    """After commit, send the task registered as `registered_name` once per id. A message that
    cannot be queued (or, without a broker, a run in process that fails) is logged and the others
    still go: batch chunks record their own failures, and the watchdog sends a lost one again."""
    ids = list(ids)
    if not ids:
        return

    def send_each() -> None:  # named: Django logs a robust callback's failure by its name
        import fintech.tasks  # noqa: F401  (registers the tasks in a process that is not a worker)
        from config.celery import app

        task = app.tasks[registered_name]
        for one in ids:
            try:
                task.delay(one)
            except Exception:
                logger.exception("%s %s: not queued, or failed in process", registered_name, one)

    transaction.on_commit(send_each, robust=True)

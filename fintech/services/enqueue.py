"""The one door from services to Celery: queue a task of fintech.tasks once the current transaction
commits (STYLE.md rule 4), so a worker never sees data that may still roll back."""

from __future__ import annotations

from typing import Any

from django.db import transaction


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

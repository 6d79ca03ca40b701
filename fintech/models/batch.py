"""The chunk engine's rows (services.batch): a long job (a subsidy run, a daily close) is split into
chunks of a contiguous id range, each one Celery task and one transaction. The chunk's status moves
only by the transitions below; the database refuses any other value."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition


class ChunkStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


C = ChunkStatus


class BatchChunk(models.Model):
    """One chunk of a run: ids lo_id..hi_id of the job's driving table, both inclusive.

    `heartbeat_at` is the chunk's last sign of life (queued, claimed by a worker); the watchdog
    queues again a chunk whose heartbeat is older than settings.BATCH_HEARTBEAT_SECONDS.
    """

    lo_id = models.BigIntegerField(_("from id"))
    hi_id = models.BigIntegerField(_("to id"))
    status = FSMField(_("status"), max_length=12, choices=ChunkStatus.choices, default=C.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    heartbeat_at = models.DateTimeField(_("last heartbeat"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True, default="")

    class Meta:
        abstract = True
        ordering = ["run_id", "lo_id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "lo_id"], name="%(class)s_once"),
            models.CheckConstraint(name="%(class)s_range", condition=Q(lo_id__lte=F("hi_id"))),
            models.CheckConstraint(name="%(class)s_status", condition=Q(status__in=ChunkStatus.values)),
        ]

    @transition(field=status, source=[C.PENDING, C.RUNNING], target=C.RUNNING)
    def claim(self) -> None:
        """A worker takes the chunk (again, after a worker died or the broker redelivered it)."""
        self.attempts += 1
        self.heartbeat_at = timezone.now()

    @transition(field=status, source=C.RUNNING, target=C.DONE)
    def complete(self, counts: dict[str, Any]) -> None:
        for name, value in counts.items():
            setattr(self, name, value)
        self.finished_at = timezone.now()
        self.error = ""

    @transition(field=status, source=[C.PENDING, C.RUNNING], target=C.FAILED)
    def fail(self, error: str) -> None:
        self.error = error[:2000]
        self.finished_at = timezone.now()

    @transition(field=status, source=[C.PENDING, C.RUNNING, C.FAILED], target=C.PENDING)
    def requeue(self) -> None:
        """Queued again: by the watchdog (stalled), an operator, or a resumed close."""
        self.heartbeat_at = timezone.now()

"""The chunk engine's rows (services.batch): a long job (a subsidy run, a daily close) is split into
chunks of a contiguous id range, each one Celery task and one transaction. The chunk's status moves
only by the transitions below; the database refuses any other value.

A dated job (the daily close, the collateral watch: services.batch.DatedJob) has one run per
business date, a `DatedRun`, and its chunks of loans, `DatedChunk`s: the concrete models add only
their own counters, names and constraints."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.functional import Promise
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


class DatedChunk(BatchChunk):
    """Loans lo_id..hi_id of a dated job's run; the concrete chunk adds its `run` foreign key, its
    counters and `describe`, a translated "... %(run)s, loans %(lo)s-%(hi)s"."""

    describe: Promise

    class Meta(BatchChunk.Meta):
        abstract = True

    def __str__(self) -> str:
        return str(self.describe) % {"run": self.run_id, "lo": self.lo_id, "hi": self.hi_id}  # type: ignore[attr-defined]


class RunStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class DatedRun(models.Model):
    """One run of a dated job for a business date, split into chunks of loans by id range
    (services.batch.DatedJob). Pending: created but not started (no chunks yet); running while its
    chunks run; done; failed with the reason (resumed by a new start). The concrete run adds its
    counters (the chunks' counts summed), names, `describe` (a translated "... of %(on)s
    (%(status)s)") and, for one run per date, `as_of` unique."""

    as_of = models.DateField(_("business date"), db_index=True)
    status = FSMField(_("status"), max_length=12, choices=RunStatus.choices, default=RunStatus.PENDING)
    chunks_total = models.PositiveIntegerField(_("chunks"), default=0)
    chunks_done = models.PositiveIntegerField(_("chunks done"), default=0)
    chunks_requeued = models.PositiveIntegerField(
        _("chunks queued again"), default=0, help_text=_("Stalled chunks the watchdog queued again.")
    )
    loans_total = models.PositiveIntegerField(_("loans"), default=0)
    error = models.TextField(_("error"), blank=True, default="")
    started_at = models.DateTimeField(auto_now_add=True, verbose_name=_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    describe: Promise

    class Meta:
        abstract = True
        ordering = ["-id"]

    def __str__(self) -> str:
        return str(self.describe) % {"on": self.as_of.isoformat(), "status": self.get_status_display()}  # type: ignore[attr-defined]

    @transition(field=status, source=[RunStatus.PENDING, RunStatus.FAILED], target=RunStatus.RUNNING)
    def start_running(self) -> None:
        """Started, or resumed after a failure (services.batch.DatedJob)."""
        self.error = ""

    @transition(field=status, source=RunStatus.RUNNING, target=RunStatus.DONE)
    def finish(self) -> None:
        self.finished_at = timezone.now()

    @transition(field=status, source=[RunStatus.PENDING, RunStatus.RUNNING], target=RunStatus.FAILED)
    def fail(self, error: str) -> None:
        self.error = error[:2000]

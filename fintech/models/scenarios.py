"""Scenarios (DOMAIN.md section 10b): a regulator's stress test of the risk pool and forecast of
the subsidy budget. The parameters are stored with the result and neither changes once computed,
so a past result never moves when the book or the programme does."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .parties import Program


class ScenarioStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    COMPUTED = "computed", _("Computed")
    FAILED = "failed", _("Failed")


# The only moves a scenario makes; services check them, the audit log records each.
SCENARIO_TRANSITIONS: dict[str, tuple[str, ...]] = {
    ScenarioStatus.PENDING: (ScenarioStatus.RUNNING, ScenarioStatus.FAILED),
    ScenarioStatus.RUNNING: (ScenarioStatus.COMPUTED, ScenarioStatus.FAILED),
    ScenarioStatus.COMPUTED: (),
    ScenarioStatus.FAILED: (),
}


class Scenario(models.Model):
    program = models.ForeignKey(
        Program, on_delete=models.PROTECT, related_name="scenarios", verbose_name=_("programme")
    )
    name = models.CharField(_("name"), max_length=200, blank=True, default="")
    status = models.CharField(
        _("status"), max_length=12, choices=ScenarioStatus.choices, default=ScenarioStatus.PENDING
    )
    as_of = models.DateField(_("as of"))
    # Everything the result depends on, as entered and as found in the book at the start.
    parameters = models.JSONField(_("parameters"), default=dict)
    book = models.JSONField(_("book at the start"), default=dict)
    results = models.JSONField(_("results"), default=dict)
    forecast = models.JSONField(_("subsidy forecast"), default=list)
    paths_total = models.PositiveIntegerField(_("paths"))
    paths_done = models.PositiveIntegerField(_("paths done"), default=0)
    error = models.TextField(_("error"), blank=True, default="")
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("started by")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("scenario")
        verbose_name_plural = _("scenarios")
        constraints = [
            models.CheckConstraint(
                name="scenario_progress_within_paths", condition=Q(paths_done__lte=F("paths_total"))
            ),
            models.CheckConstraint(name="scenario_paths_positive", condition=Q(paths_total__gte=1)),
            models.CheckConstraint(
                name="scenario_computed_is_finished",
                condition=~Q(status="computed")
                | (Q(finished_at__isnull=False) & Q(paths_done=F("paths_total"))),
            ),
        ]

    def __str__(self) -> str:
        return gettext("%(program)s scenario #%(id)s (%(status)s)") % {
            "program": self.program.code,
            "id": self.pk,
            "status": self.get_status_display(),
        }

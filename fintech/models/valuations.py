"""The appraisal firm's engagement for an application and its per-patent values (DOMAIN.md section 6)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from fintech.money import format_money

from .applications import Application
from .base import MoneyField, RateField, TimeStamped
from .parties import Organization
from .patents import Patent


class ValuationStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("valuation", "Pending")  # awaiting the appraiser's report
    REPORTED = "reported", _("Reported")
    CANCELLED = "cancelled", _("Cancelled")


class Valuation(TimeStamped):
    """The appraisal firm's engagement for an application, and its report once submitted."""

    application = models.OneToOneField(
        Application, on_delete=models.PROTECT, related_name="valuation", verbose_name=_("application")
    )
    appraiser = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="valuations", verbose_name=_("appraiser")
    )
    status = models.CharField(_("status"), max_length=16, choices=ValuationStatus.choices, default="pending")
    report_number = models.CharField(_("report number"), max_length=64, blank=True, default="")
    valuation_date = models.DateField(_("valuation date"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    appraised_value = MoneyField(_("appraised value"), null=True, blank=True)
    composite_score = models.DecimalField(
        _("composite score"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    risk_grade = models.CharField(_("risk grade"), max_length=1, blank=True, default="")
    pledge_rate = RateField(_("pledge rate"), null=True, blank=True)
    credit_ceiling = MoneyField(_("credit ceiling"), null=True, blank=True)
    scorecard_version = models.CharField(_("scorecard version"), max_length=16, blank=True, default="")
    enterprise_scores = models.JSONField(_("enterprise scores"), default=dict, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("signing appraiser"),
    )
    reported_at = models.DateTimeField(_("reported at"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("valuation")
        verbose_name_plural = _("valuations")
        constraints = [
            models.UniqueConstraint(
                fields=["appraiser", "report_number"],
                condition=~Q(report_number=""),
                name="valuation_report_number_unique_per_firm",
            ),
            models.CheckConstraint(
                name="valuation_reported_complete",
                condition=~Q(status="reported")
                | (Q(valuation_date__isnull=False) & Q(appraised_value__gte=0) & Q(credit_ceiling__gte=0)),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.report_number or gettext('engagement')} #{self.pk} ({self.get_status_display()})"


class PatentValuation(models.Model):
    valuation = models.ForeignKey(
        Valuation, on_delete=models.PROTECT, related_name="lines", verbose_name=_("valuation")
    )
    patent = models.ForeignKey(Patent, on_delete=models.PROTECT, related_name="+", verbose_name=_("patent"))
    method = models.CharField(_("method"), max_length=32)
    inputs = models.JSONField(_("inputs"), default=dict)
    indicators = models.JSONField(_("indicator scores"), default=dict)
    value = MoneyField(_("value"))

    class Meta:
        verbose_name = _("patent valuation")
        verbose_name_plural = _("patent valuations")
        constraints = [
            models.UniqueConstraint(fields=["valuation", "patent"], name="patent_valuation_once"),
            models.CheckConstraint(name="patent_valuation_non_negative", condition=Q(value__gte=0)),
        ]

    def __str__(self) -> str:
        return gettext("patent %(patent)s: %(value)s") % {
            "patent": self.patent_id,
            "value": format_money(self.value, grouped=True),
        }

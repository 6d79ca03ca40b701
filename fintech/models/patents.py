"""Patents registered by SMEs (DOMAIN.md section 3)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_fsm import FSMField, transition

from .base import TimeStamped
from .parties import Organization


class PatentType(models.TextChoices):
    INVENTION = "invention", _("Invention")
    UTILITY_MODEL = "utility_model", _("Utility model")
    DESIGN = "design", _("Design")


class PatentStatus(models.TextChoices):
    """Legal status. Only IN_FORCE may be pledged."""

    IN_FORCE = "in_force", _("In force")
    LAPSED = "lapsed", _("Lapsed (annual fee unpaid)")
    INVALIDATED = "invalidated", _("Invalidated")
    TERMINATED = "terminated", _("Terminated")
    WAIVED = "waived", _("Waived")
    PRESERVED = "preserved", _("Under preservation")
    DISPUTED = "disputed", _("Ownership dispute")
    EXPIRED = "expired", _("Expired")


class Patent(TimeStamped):
    application_number = models.CharField(
        _("application number"),
        max_length=16,
        unique=True,
        help_text=_("Canonical form, e.g. 201710601862.3"),
    )
    title = models.CharField(_("title"), max_length=300)
    patent_type = models.CharField(_("patent type"), max_length=16, choices=PatentType.choices)
    filing_date = models.DateField(_("filing date"))
    grant_date = models.DateField(_("grant date"))
    claims_count = models.PositiveIntegerField(_("claims"), default=1)
    term_adjustment_days = models.PositiveIntegerField(_("term adjustment (days)"), default=0)
    expires_on = models.DateField(_("expires on"))
    status = FSMField(
        _("legal status"), max_length=16, choices=PatentStatus.choices, default=PatentStatus.IN_FORCE
    )
    lapsed_on = models.DateField(_("lapsed on"), null=True, blank=True)
    # Fee years paid before the platform records payments (DOMAIN.md section 10a); empty: the fee
    # year the patent was registered on the platform in (a patent in force has paid it).
    fees_paid_through_year = models.PositiveSmallIntegerField(
        _("fees paid through year"), null=True, blank=True
    )
    owner = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="patents", verbose_name=_("registered by")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    external_id = models.CharField(_("external id"), max_length=100, blank=True, default="")

    class Meta:
        ordering = ["id"]
        verbose_name = _("patent")
        verbose_name_plural = _("patents")
        constraints = [
            models.CheckConstraint(
                name="patent_grant_after_filing", condition=Q(grant_date__gte=models.F("filing_date"))
            ),
            models.CheckConstraint(
                name="patent_expiry_after_filing", condition=Q(expires_on__gt=models.F("filing_date"))
            ),
        ]

    def __str__(self) -> str:
        return f"{self.application_number} {self.title}"

    # Legal-status transitions (django-fsm-2), run only by services.collateral.patent_event_record
    # under a row lock, each with its PatentEvent and audit row.
    @transition(field=status, source=PatentStatus.IN_FORCE, target=PatentStatus.LAPSED)
    def lapse(self) -> None: ...

    @transition(field=status, source=PatentStatus.LAPSED, target=PatentStatus.IN_FORCE)
    def restore(self) -> None: ...

    @transition(
        field=status,
        source=[PatentStatus.IN_FORCE, PatentStatus.LAPSED, PatentStatus.PRESERVED, PatentStatus.DISPUTED],
        target=PatentStatus.INVALIDATED,
    )
    def invalidate(self) -> None: ...

    # A partial invalidation or a transfer leaves the patent in force; the event records it.
    @transition(field=status, source=PatentStatus.IN_FORCE, target=PatentStatus.IN_FORCE)
    def invalidate_partly(self) -> None: ...

    @transition(field=status, source=PatentStatus.IN_FORCE, target=PatentStatus.IN_FORCE)
    def transfer(self) -> None: ...

    @transition(
        field=status, source=[PatentStatus.IN_FORCE, PatentStatus.LAPSED], target=PatentStatus.EXPIRED
    )
    def expire(self) -> None: ...

    # The states the platform marks from the register (services.patents.patent_status_set, audited).
    # A patent under preservation or an ownership dispute may not be waived by its patentee, nor
    # terminated at its request, until the measure is lifted.
    @transition(field=status, source=PatentStatus.IN_FORCE, target=PatentStatus.TERMINATED)
    def terminate(self) -> None: ...

    @transition(field=status, source=PatentStatus.IN_FORCE, target=PatentStatus.WAIVED)
    def waive(self) -> None: ...

    # One measure at a time: the state records one (the measure lifted, the other can be marked).
    @transition(field=status, source=PatentStatus.IN_FORCE, target=PatentStatus.PRESERVED)
    def preserve(self) -> None: ...

    @transition(field=status, source=PatentStatus.IN_FORCE, target=PatentStatus.DISPUTED)
    def dispute(self) -> None: ...

    # The preservation lifted or the dispute settled: in force again.
    @transition(
        field=status, source=[PatentStatus.PRESERVED, PatentStatus.DISPUTED], target=PatentStatus.IN_FORCE
    )
    def release(self) -> None: ...


class Patentee(models.Model):
    """A patentee in the register; co-owners other than the pledgor must consent to a pledge."""

    patent = models.ForeignKey(
        Patent, on_delete=models.CASCADE, related_name="patentees", verbose_name=_("patent")
    )
    position = models.PositiveSmallIntegerField(pgettext_lazy("order among co-owners", "position"))
    name = models.CharField(_("name"), max_length=200)
    uscc = models.CharField(_("unified social credit code"), max_length=18)
    pledge_consent_on = models.DateField(_("pledge consent recorded on"), null=True, blank=True)

    class Meta:
        ordering = ["patent_id", "position"]
        verbose_name = _("patentee")
        verbose_name_plural = _("patentees")
        constraints = [
            models.UniqueConstraint(fields=["patent", "uscc"], name="patentee_once_per_patent"),
            models.UniqueConstraint(fields=["patent", "position"], name="patentee_position_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.uscc})"

"""The regulator's dashboard has no table of its own: a proxy of the programme gives it a place in
the admin's menu (fintech.admin.dashboard draws it from the report selectors)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from .parties import Program


class RegulatorDashboard(Program):
    class Meta:
        proxy = True
        verbose_name = _("regulator dashboard")
        verbose_name_plural = _("regulator dashboard")

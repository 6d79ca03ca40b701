from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from . import (  # noqa: F401  (registers the admin classes)
    applications,
    collateral,
    loans,
    lockouts,
    parties,
    patents,
    policies,
    risk,
    scenarios,
    servicing,
    subsidies,
    valuations,
)

admin.site.site_header = _("Patent-pledge financing platform")
admin.site.site_title = _("Patent-pledge financing")
admin.site.index_title = _("Review and administration")

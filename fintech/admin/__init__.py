from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from . import (  # noqa: F401  (registers the admin classes)
    applications,
    close,
    collateral,
    dashboard,
    events,
    ledger,
    loans,
    lockouts,
    parties,
    patents,
    policies,
    repayment_files,
    risk_pool,
    scenarios,
    subsidies,
    valuations,
    watch,
)

admin.site.site_header = _("Patent-pledge financing platform")
admin.site.site_title = _("Patent-pledge financing")
admin.site.index_title = _("Review and administration")
# "View site" opens the API explorer (the platform has no public site of its own).
admin.site.site_url = "/api/v1/docs/"

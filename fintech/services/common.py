"""Small helpers the services share: business-date checks, row locking."""

from __future__ import annotations

from datetime import date

from django.utils import timezone
from django.utils.translation import gettext as _

from fintech.errors import DateOutOfRange, FutureDate
from fintech.rules.dates import PROGRAMME_EPOCH, date_window_problem


def business_today() -> date:
    """Today in the platform's time zone (Asia/Shanghai)."""
    return timezone.localdate()


def ensure_not_future(value: date, field: str, *, earliest: date = PROGRAMME_EPOCH) -> None:
    """Event dates are business dates: past dates are normal, future dates are refused, and so are
    dates before `earliest` (by default the programme epoch of rules.dates)."""
    problem = date_window_problem(value, today=business_today(), earliest=earliest)
    if problem == "early":
        message = _("A business date may not lie before %(earliest)s.") % {"earliest": earliest.isoformat()}
        raise DateOutOfRange(f"{field}: {message}", fields={field: [message]})
    if problem == "future":
        raise FutureDate(
            f"{field} {value.isoformat()} is in the future.",
            fields={field: [f"A business date may not lie in the future (today is {business_today()})."]},
        )

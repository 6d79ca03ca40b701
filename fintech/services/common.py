"""Small helpers the services share: business-date checks, row locking."""

from __future__ import annotations

from datetime import date

from django.utils import timezone

from fintech.errors import FutureDate


def business_today() -> date:
    """Today in the platform's time zone (Asia/Shanghai)."""
    return timezone.localdate()


def ensure_not_future(value: date, field: str) -> None:
    """Event dates are business dates: past dates are normal, future dates are refused."""
    if value > business_today():
        raise FutureDate(
            f"{field} {value.isoformat()} is in the future.",
            fields={field: [f"A business date may not lie in the future (today is {business_today()})."]},
        )

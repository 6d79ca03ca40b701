"""Field helpers shared by the models: money and rates are Decimals with fixed precision."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import models
from django.db.models import Q, Value
from django.db.models.lookups import GreaterThan, LessThan
from django.utils.translation import gettext_lazy as _

from fintech.money import MONEY_DIGITS, MONEY_PLACES, RATE_DIGITS, RATE_PLACES


def MoneyField(verbose_name: Any = None, **kwargs: Any) -> models.DecimalField:
    """CNY to the fen (DOMAIN.md section 5)."""
    kwargs.setdefault("max_digits", MONEY_DIGITS)
    kwargs.setdefault("decimal_places", MONEY_PLACES)
    return models.DecimalField(verbose_name, **kwargs)


def RateField(verbose_name: Any = None, **kwargs: Any) -> models.DecimalField:
    """A rate or share as a fraction (0.0435), with eight places (DOMAIN.md asks for at least six)."""
    kwargs.setdefault("max_digits", RATE_DIGITS)
    kwargs.setdefault("decimal_places", RATE_PLACES)
    return models.DecimalField(verbose_name, **kwargs)


class TimeStamped(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        abstract = True


def money_equals(left: Any, right: Any) -> Q:
    """A check-constraint condition "left = right" for sums of money columns.

    With two decimal places the only value inside the open band (right - 0.005, right + 0.005)
    is right itself, so this is exact equality on PostgreSQL's numeric; the band keeps SQLite,
    which adds decimals as binary floats, from refusing 50,000.01 + 30,000.00 + 20,000.00.
    """
    half_fen = Value(Decimal("0.005"))
    return Q(GreaterThan(left, right - half_fen)) & Q(LessThan(left, right + half_fen))

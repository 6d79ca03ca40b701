"""Field helpers shared by the models: money and rates are Decimals with fixed precision."""

from __future__ import annotations

from typing import Any

from django.db import models


def MoneyField(verbose_name: Any = None, **kwargs: Any) -> models.DecimalField:  # noqa: N802
    """CNY to the fen (DOMAIN.md section 5)."""
    kwargs.setdefault("max_digits", 18)
    kwargs.setdefault("decimal_places", 2)
    return models.DecimalField(verbose_name, **kwargs)


def RateField(verbose_name: Any = None, **kwargs: Any) -> models.DecimalField:  # noqa: N802
    """A rate or share as a fraction (0.0435), with eight places (DOMAIN.md asks for at least six)."""
    kwargs.setdefault("max_digits", 12)
    kwargs.setdefault("decimal_places", 8)
    return models.DecimalField(verbose_name, **kwargs)


class TimeStamped(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True

"""Serializer fields for the API's money and rate conventions (API.md "Conventions")."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from fintech.money import InvalidMoney, format_money, parse_money

# Record ids are 64-bit: a larger number can name no record (and would overflow the database).
MAX_ID = 2**63 - 1


@extend_schema_field(OpenApiTypes.STR)
class MoneyField(serializers.Field):
    """Money in: a string or number in plain notation, >= 0, at most 2 places. Out: "1000.00"."""

    def to_internal_value(self, data: Any) -> Decimal:
        try:
            return parse_money(data)
        except InvalidMoney as exc:
            raise serializers.ValidationError(str(exc)) from exc

    def to_representation(self, value: Decimal) -> str:
        return format_money(value)


@extend_schema_field(OpenApiTypes.STR)
class RateField(serializers.Field):
    """A rate as a fraction ("0.0435"): plain notation, 0 <= rate < 1, at most 8 places."""

    def __init__(self, *, max_value: Decimal = Decimal(1), **kwargs: Any) -> None:
        self.max_value = max_value
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, bool) or not isinstance(data, str | int | float | Decimal):
            raise serializers.ValidationError(_('Enter a rate as a decimal string, e.g. "0.0435".'))
        text = repr(data) if isinstance(data, float) else str(data).strip()
        try:
            value = Decimal(text)
        except InvalidOperation as exc:
            raise serializers.ValidationError(_('Enter a rate as a decimal string, e.g. "0.0435".')) from exc
        if not value.is_finite() or "e" in text.lower():
            raise serializers.ValidationError(_("Enter a rate in plain notation."))
        if value.is_signed() or value >= self.max_value:  # is_signed: "-0" is refused too
            raise serializers.ValidationError(
                _("A rate is a fraction from 0 to below %(max_value)s.") % {"max_value": self.max_value}
            )
        if value.as_tuple().exponent < -8:  # type: ignore[operator]
            raise serializers.ValidationError(_("A rate has at most 8 decimal places."))
        return value

    def to_representation(self, value: Decimal) -> str:
        return rate_text(value)


def rate_text(value: Decimal) -> str:
    """A stored rate as the API writes it: trailing zeros dropped, at least 2 places ("0.50", "0.0435")."""
    text = format(value.normalize(), "f")
    places = len(text.partition(".")[2])
    return f"{value:.2f}" if places < 2 else text

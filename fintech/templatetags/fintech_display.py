"""The admin's display helpers (fintech/admin/display.py) as template filters."""

from __future__ import annotations

from decimal import Decimal

from django import template

from fintech.admin import display

register = template.Library()


@register.filter
def money(value: Decimal | None) -> str:
    """{{ amount|money }} -> 1,216,115.08 (a dash for none)."""
    return display.money(value)

"""How the dashboard's figures read."""

from __future__ import annotations

from decimal import Decimal

from django import template

from usage.money import format_money

register = template.Library()


@register.filter
def money(amount: Decimal) -> str:
    return format_money(amount)


@register.filter
def count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


@register.filter
def share(value: float | None) -> str:
    """A fraction as a whole percentage; a dash where there is nothing to divide by."""
    return "—" if value is None else f"{value:.0%}"


@register.filter
def ms(value: int | None) -> str:
    return "—" if value is None else f"{value:,} ms"

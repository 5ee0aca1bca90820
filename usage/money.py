"""Amounts as people read them, in the one currency of the instance (USAGE_CURRENCY)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings


def format_money(amount: Decimal) -> str:
    """Cents for amounts of a cent or more; a smaller one (an answer often costs a
    fraction of a cent) to three significant digits: "12.30 USD", "0.0000462 USD"."""
    if amount == 0 or abs(amount) >= Decimal("0.01"):
        text = f"{amount:,.2f}"
    else:
        places = 2 - amount.adjusted()  # adjusted(): the exponent of the first digit
        text = f"{amount:.{places}f}".rstrip("0")
    return f"{text} {settings.USAGE_CURRENCY}"

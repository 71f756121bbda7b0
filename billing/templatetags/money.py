from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def money(cents: int | None, currency: str = "") -> str:
    """Stripe amounts are in the currency's minor unit: 39000, "usd" -> "390.00 USD"."""
    if cents is None:
        return "—"
    return f"{int(cents) / 100:,.2f} {currency.upper()}".strip()

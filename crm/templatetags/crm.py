from decimal import Decimal, InvalidOperation

from babel.core import UnknownLocaleError
from babel.numbers import format_currency
from django import template
from django.conf import settings
from django.utils import translation

from crm import phones

register = template.Library()


@register.filter
def phone(value: str) -> str:
    """E.164 shown the international way: +55 11 98765-4321."""
    return phones.display(value) if value else ""


@register.filter
def money(amount, currency: str = "") -> str:
    """An amount as a reader of the page's language writes it: "€114,500.00" (en),
    "114.500,00 €" (es), "€ 114.500,00" (pt-BR). Pages only: exports and CSV keep "114500.00"."""
    if amount is None or amount == "":
        return ""
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        return str(amount)
    locale = translation.to_locale(translation.get_language() or settings.LANGUAGE_CODE)
    try:
        return format_currency(value, (currency or "").upper(), locale=locale)
    except (UnknownLocaleError, ValueError):
        return f"{value} {currency}".strip()


@register.filter
def stage_repeats_status(deal) -> bool:
    """A stage named like the deal's status ("Lost" and lost): the badge alone says it."""
    name = (deal.stage.name or "").strip().casefold()
    return name in {deal.status.casefold(), str(deal.get_status_display()).casefold()}

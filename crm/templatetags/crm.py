from django import template

from crm import phones

register = template.Library()


@register.filter
def phone(value: str) -> str:
    """E.164 shown the international way: +55 11 98765-4321."""
    return phones.display(value) if value else ""

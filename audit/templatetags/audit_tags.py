from django import template

from audit import labels, permissions

register = template.Library()


@register.filter
def can_view_audit(user) -> bool:
    return permissions.can_view_ledger(user)


@register.filter
def action_label(code: str) -> str:
    """The action's plain-language name in the viewer's language (the code when unnamed)."""
    return labels.action_label(code)

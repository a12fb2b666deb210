from django import template

from audit import permissions

register = template.Library()


@register.filter
def can_view_audit(user) -> bool:
    return permissions.can_view_ledger(user)

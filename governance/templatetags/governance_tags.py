from django import template

from governance import permissions

register = template.Library()


@register.filter
def can_use_console(user) -> bool:
    return permissions.can_use_console(user)

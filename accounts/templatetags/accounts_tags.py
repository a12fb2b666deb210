from django import template

from accounts import permissions

register = template.Library()


@register.filter
def can_offboard_anyone(user) -> bool:
    """Admins and managers see the People page (offboarding)."""
    return permissions.is_active_user(user) and (
        permissions.is_admin(user) or permissions.is_manager(user)
    )

from django import template

from accounts import permissions

register = template.Library()

# Admins and managers see the People page (offboarding).
register.filter("can_offboard_anyone", permissions.can_offboard_anyone)


@register.simple_tag
def push_public_key() -> str:
    """The VAPID public key when Web Push is configured, else "" (the page offers nothing)."""
    from accounts import push

    return push.public_key()

from django import template

from accounts import permissions

register = template.Library()

# Admins and managers see the People page (offboarding).
register.filter("can_offboard_anyone", permissions.can_offboard_anyone)

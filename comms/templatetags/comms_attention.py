"""What static/js/attention.js says (the unread badge, sound and browser notifications), in the
page's language: handed over through json_script."""

from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.simple_tag
def attention_strings() -> dict:
    return {
        # {count}: unread messages in the conversations the person holds.
        "badge": _("{count} unread messages"),
        "file": _("Sent a file"),
        "on": _("Notifications are on."),
        "blocked": _("Notifications are blocked: allow them for this site in the browser."),
    }

from django import template

from governance import permissions

register = template.Library()


@register.filter
def can_use_console(user) -> bool:
    return permissions.can_use_console(user)


@register.filter
def channel_label(value) -> str:
    from comms.models import Conversation

    return str(dict(Conversation.Kind.choices).get(value, value))


@register.filter
def action_label(value) -> str:
    from governance.models import DlpAction

    return str(dict(DlpAction.choices).get(value, value))

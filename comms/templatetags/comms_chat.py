"""The staff chat panel and the conversations block of deal and contact pages."""

import mimetypes

from django import template
from django.conf import settings
from django.core.cache import caches
from django.middleware.csrf import get_token
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from comms import channel_registry, permissions, selectors
from comms.models import Message
from crm import permissions as crm_permissions
from crm.models import Contact, Deal

register = template.Library()

RECORD_CONVERSATIONS_SHOWN = 20


def chat_strings() -> dict:
    """The chat's fixed strings in the page's language, built once per language and process
    (the "fragments" cache, beside base.html's fixed strings)."""
    fragments = caches["fragments"]
    key = f"chat-strings:{translation.get_language()}"
    found = fragments.get(key)
    if found is None:
        found = _chat_strings()
        fragments.set(key, found)
    return found


def _chat_strings() -> dict:
    return {
        "note": _("Internal note"),
        "edited": _("edited"),
        "retracted": _("Message retracted"),
        "edit": _("Edit"),
        "save": _("Save"),
        "cancel": _("Cancel"),
        "history": _("edited: earlier versions"),
        "retract": _("Retract"),
        "retractConfirm": _("Retract this message? The customer will no longer see it."),
        "typing": _("is typing…"),
        "offline": _("You are offline. Messages will be sent when the connection returns."),
        "reconnecting": _("Reconnecting…"),
        "paused": _("Live updates are paused; new messages are checked every few seconds."),
        "revoked": _("You no longer have access to this conversation."),
        "templateSent": _("Template sent."),
        "sendAnyway": _("Send anyway"),
        "redactedForCustomer": _("Redacted for the customer"),
        "urgent": _("Urgent"),
        # {time}: the sender's own time zone; {names}: colleagues outside their working hours.
        "willDeliver": _("Will be delivered at {time} ({names} outside working hours)"),
        "deliveredUrgent": _("Urgent: delivered now"),
        # Checked in the browser before a byte is sent (the server checks the same settings).
        "fileTooLarge": _("{name} is too large: files may be at most {size} MB."),
        "fileTypeRefused": _("{name}: this type of file cannot be sent."),
        "sending": _("Sending {name}…"),
        "noQuickReply": _("No quick reply starts with this. Add one on the Quick replies page."),
        "dropHere": _("Drop files to send them"),
        # A tick's tooltip: the delivery status in words (never the API's raw value).
        "status": {value: str(label) for value, label in Message.Status.choices},
    }


def _allowed_extensions() -> str:
    """Every file name ending the server's type guess maps to an allowed type."""
    return ",".join(
        sorted(
            {
                ext
                for content_type in settings.COMMS_ATTACHMENT_TYPES
                for ext in mimetypes.guess_all_extensions(content_type)
            }
        )
    )


@register.inclusion_tag("comms/_chat_panel.html", takes_context=True)
def chat_panel(context, conversation, visible=False):
    """visible=True: the page read `conversation` through the viewer's visibility filter just
    now (comms.permissions.can_send)."""
    request = context["request"]
    user = request.user
    can_send = permissions.can_send(user, conversation, visible=visible)
    return {
        "conversation": conversation,
        "can_send": can_send,
        # WhatsApp's closed 24-hour window and its templates (connectors, through the registry).
        "channel_notice": channel_registry.composer_notice(conversation) if can_send else None,
        "sees_originals": permissions.sees_everything(user),
        "is_customer_facing": not conversation.is_internal,
        "me": user.pk,
        # Right to disconnect: colleagues a message sent now would wait for (internal only).
        "off_work": selectors.members_off_work(conversation, user) if can_send else [],
        # Times in the chat use the page's zone: the sender's own, else their browser's
        # (accounts.middleware.UserTimezoneMiddleware), as the server-written times around it.
        "time_zone": timezone.get_current_timezone_name(),
        "csrf": get_token(request),
        "edit_window": settings.COMMS_EDIT_WINDOW_SECONDS,
        "max_bytes": settings.COMMS_ATTACHMENT_MAX_BYTES,
        "file_types": ",".join(settings.COMMS_ATTACHMENT_TYPES),
        "file_exts": _allowed_extensions(),
        "strings": chat_strings(),
        "strings_id": f"chat-strings-{conversation.pk}",
        "request": request,
    }


@register.inclusion_tag("comms/_record_conversations.html", takes_context=True)
def record_conversations(context, record):
    """Conversations of a deal or contact, the selected one's chat panel, and a start form."""
    request = context["request"]
    user = request.user
    # The record's page read it through the viewer's visibility filter (crm.views).
    visible = context.get("visible_record") is record
    if isinstance(record, Deal):
        qs = selectors.conversations_for_deal(user, record, visible=visible)
        contacts = list(record.contacts.all()) if hasattr(record, "contacts") else []
        deal, field = record, "deal"
    elif isinstance(record, Contact):
        qs = selectors.conversations_for_contact(user, record, visible=visible)
        contacts, deal, field = [record], None, "contact"
    else:
        raise template.TemplateSyntaxError("record_conversations takes a deal or a contact")
    conversations = list(qs[:RECORD_CONVERSATIONS_SHOWN])
    wanted = selectors._int(request.GET.get("conversation"))
    selected = next((c for c in conversations if c.pk == wanted), None)
    if selected is None and conversations:
        selected = next((c for c in conversations if c.status != "closed"), conversations[0])
    return {
        "record": record,
        "field": field,
        "deal": deal,
        "contacts": contacts,
        "conversations": conversations,
        "selected": selected,
        "can_start": not permissions.is_read_only(user)
        and (visible or crm_permissions.can_view(user, record)),
        "kinds": channel_registry.customer_kind_choices(),
        "request": request,
        "csrf_token": context.get("csrf_token"),
    }

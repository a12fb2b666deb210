"""Where the audit page links a conversation's, message's or file's events, for a viewer who may
open it (audit.selectors.register_target_links; one query each): a conversation to its page, a
message (sent, edited, retracted...) to its versions, a file to the versions of its message."""

from __future__ import annotations

from django.urls import reverse

from audit.selectors import ids_of
from comms.models import Attachment, Message
from comms.permissions import conversation_queryset_for


def _conversation_url(conversation_id: int) -> str:
    return reverse("comms:conversation-detail", args=[conversation_id])


def _versions_url(message_id: int) -> str:
    return reverse("comms:message-versions", args=[message_id])


def conversations(user, target_ids: list[str]) -> dict[str, str]:
    rows = conversation_queryset_for(user).filter(pk__in=ids_of(target_ids))
    return {str(pk): _conversation_url(pk) for pk in rows.values_list("pk", flat=True)}


def messages(user, target_ids: list[str]) -> dict[str, str]:
    rows = Message.objects.filter(
        pk__in=ids_of(target_ids), conversation__in=conversation_queryset_for(user)
    ).values_list("pk", flat=True)
    return {str(pk): _versions_url(pk) for pk in rows}


def files(user, target_ids: list[str]) -> dict[str, str]:
    rows = Attachment.objects.filter(
        pk__in=ids_of(target_ids), conversation__in=conversation_queryset_for(user)
    ).values_list("pk", "message_id", "conversation_id")
    return {
        str(pk): _versions_url(message_id) if message_id else _conversation_url(conversation_id)
        for pk, message_id, conversation_id in rows
    }

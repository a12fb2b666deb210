"""Where the audit page links a conversation's, message's or file's events: the conversation,
for a viewer who may open it (audit.selectors.register_target_links; one query each)."""

from __future__ import annotations

from django.urls import reverse

from audit.selectors import ids_of
from comms.models import Attachment, Message
from comms.permissions import conversation_queryset_for


def _url(conversation_id: int) -> str:
    return reverse("comms:conversation-detail", args=[conversation_id])


def conversations(user, target_ids: list[str]) -> dict[str, str]:
    rows = conversation_queryset_for(user).filter(pk__in=ids_of(target_ids))
    return {str(pk): _url(pk) for pk in rows.values_list("pk", flat=True)}


def _within(model, user, target_ids: list[str]) -> dict[str, str]:
    rows = model.objects.filter(
        pk__in=ids_of(target_ids), conversation__in=conversation_queryset_for(user)
    ).values_list("pk", "conversation_id")
    return {str(pk): _url(conversation_id) for pk, conversation_id in rows}


def messages(user, target_ids: list[str]) -> dict[str, str]:
    return _within(Message, user, target_ids)


def files(user, target_ids: list[str]) -> dict[str, str]:
    return _within(Attachment, user, target_ids)

"""Edits and retractions of stored messages (never a hard delete)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

import audit
from accounts.models import User
from comms import errors, permissions, presenters
from comms.models import (
    Conversation,
    Message,
    MessageRevision,
)
from comms.services.fanout import broadcast_customer, broadcast_message
from comms.services.inputs import clean_body, sha256_text
from comms.services.messages import message_in
from comms.services.sequence import next_seq


@transaction.atomic
def message_edit(
    *, editor: User, conversation: Conversation, message_id, body: str, request=None
) -> Message:
    """Replace the body of one's own outbound message or note within the edit window, keeping
    the previous body as a MessageRevision. Audited (comms.message.edited, with the previous
    body's SHA-256, never the body). Broadcasts `message.updated` after commit."""
    body = clean_body(body)
    message = message_in(conversation, message_id, lock=True)
    if not permissions.can_view(editor, conversation):
        raise errors.NotFound()
    refusal = permissions.edit_refusal(editor, message)
    if refusal:
        raise errors.refusal(refusal)
    if body == message.body:
        return message
    now = timezone.now()
    previous = message.body
    MessageRevision.objects.create(message=message, body=previous, editor=editor, edited_at=now)
    message.body = body
    message.edited_at = now
    next_seq(conversation, message)
    message.save(update_fields=["body", "edited_at", "seq", "customer_seq"])
    audit.record(
        actor=editor,
        action="comms.message.edited",
        target=message,
        data={
            "conversation": conversation.pk,
            "previous_sha256": sha256_text(previous),
            "body_sha256": sha256_text(body),
        },
        request=request,
    )
    attachments = list(message.attachments.all())
    data = presenters.message_dict(message, presenters.EVERYTHING, attachments=attachments)
    broadcast_message("message.updated", conversation, data)
    broadcast_customer("message.updated", conversation, message, attachments)
    return message


@transaction.atomic
def message_retract(
    *, actor: User, conversation: Conversation, message_id, request=None
) -> Message:
    """ "Delete" a message: it stays stored; staff see "message retracted", the customer no
    longer sees it, compliance and admin keep the original. Audited (comms.message.retracted)."""
    message = message_in(conversation, message_id, lock=True)
    if not permissions.can_view(actor, conversation):
        raise errors.NotFound()
    refusal = permissions.retract_refusal(actor, message)
    if refusal:
        raise errors.refusal(refusal)
    now = timezone.now()
    message.retracted = True
    message.retracted_at = now
    message.retracted_by = actor
    next_seq(conversation, message)
    message.save(update_fields=["retracted", "retracted_at", "retracted_by", "seq", "customer_seq"])
    audit.record(
        actor=actor,
        action="comms.message.retracted",
        target=message,
        data={"conversation": conversation.pk, "body_sha256": sha256_text(message.body)},
        request=request,
    )
    attachments = list(message.attachments.all())
    data = presenters.message_dict(message, presenters.EVERYTHING, attachments=attachments)
    broadcast_message("message.retracted", conversation, data)
    broadcast_customer("message.retracted", conversation, message, [])
    return message

"""Edits and retractions of stored messages (never a hard delete)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

import audit
from accounts.models import User
from comms import errors, outbound_checks, permissions, presenters
from comms.models import (
    Conversation,
    Message,
    MessageRevision,
)
from comms.services.fanout import broadcast_customer, broadcast_message
from comms.services.inputs import clean_body, sha256_text
from comms.services.messages import message_in
from comms.services.sequence import next_seq


def message_edit(
    *,
    editor: User,
    conversation: Conversation,
    message_id,
    body: str,
    confirm_dlp=False,
    request=None,
) -> Message:
    """Replace the body of one's own outbound message or note within the edit window, keeping
    the previous body as a MessageRevision. Audited (comms.message.edited, with the previous
    body's SHA-256, never the body). Broadcasts `message.updated` after commit.

    The new text passes the outbound checks (comms.outbound_checks) as a send does: refused
    (their events still audited, in a transaction of their own), or stored with the customer's
    copy they gave (`confirm_dlp`: the editor sends anyway past a warning)."""
    if not isinstance(confirm_dlp, bool):
        raise errors.Invalid(_("confirm_dlp must be true or false."))
    body = clean_body(body)
    with transaction.atomic():
        message, refusal = _edit(editor, conversation, message_id, body, confirm_dlp, request)
    if refusal is None:
        return message
    error, events = refusal
    if events:
        with transaction.atomic():
            audit.record_many(events, returning=False)
    raise error


def _edit(editor, conversation, message_id, body, confirmed, request):
    message = message_in(conversation, message_id, lock=True)
    if not permissions.can_view(editor, conversation):
        raise errors.NotFound()
    refusal = permissions.edit_refusal(editor, message)
    if refusal:
        raise errors.refusal(refusal)
    if body == message.body:
        return message, None
    outcome = outbound_checks.outcomes(
        [
            outbound_checks.Outgoing(
                conversation=conversation,
                author=editor,
                body=body,
                note=message.direction == Message.Direction.NOTE,
                confirmed=confirmed,
                edit=True,
            )
        ]
    )[0]
    if outcome is not None and outcome.refusal is not None:
        return message, (
            outcome.refusal,
            outbound_checks.events_for(outcome, conversation, request),
        )
    now = timezone.now()
    previous = message.body
    MessageRevision.objects.create(message=message, body=previous, editor=editor, edited_at=now)
    message.body = body
    message.edited_at = now
    message.customer_body = outcome.customer_body if outcome is not None else None
    next_seq(conversation, message)
    message.save(update_fields=["body", "customer_body", "edited_at", "seq", "customer_seq"])
    events = [
        {
            "actor": editor,
            "action": "comms.message.edited",
            "target": message,
            "data": {
                "conversation": conversation.pk,
                "previous_sha256": sha256_text(previous),
                "body_sha256": sha256_text(body),
            },
            "request": request,
        }
    ]
    if outcome is not None:
        events += outbound_checks.events_for(outcome, message, request)
    audit.record_many(events, returning=False)
    if outcome is not None:
        outbound_checks.after_stored([(message, outcome)])
    attachments = list(message.attachments.all())
    data = presenters.message_dict(message, presenters.EVERYTHING, attachments=attachments)
    broadcast_message("message.updated", conversation, data)
    broadcast_customer("message.updated", conversation, message, attachments)
    return message, None


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

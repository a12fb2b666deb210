"""Delivery status of outbound channel messages (WhatsApp, SMS, email), as providers report it.

Status only moves forward: queued -> sent -> delivered -> read; failed ends it and is taken only
before delivery (a late "failed" after "read" is the provider's noise, not news). A report that
would move it back (delivered after read, a repeat) changes nothing, audits nothing, publishes
nothing.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction

import audit
from comms import presenters
from comms.models import Conversation, Message
from comms.services.fanout import broadcast_message, inbox_changed
from comms.services.sequence import next_seq

Status = Message.Status
RANK = {Status.QUEUED: 0, Status.SENT: 1, Status.DELIVERED: 2, Status.READ: 3}
STAMPS = {
    Status.SENT: "sent_at",
    Status.DELIVERED: "delivered_at",
    Status.READ: "read_at",
    Status.FAILED: "failed_at",
}


def status_moves(current: str, new: str) -> bool:
    """Whether a report of `new` moves a message now `current`."""
    if current == Status.FAILED or new not in STAMPS:
        return False
    if new == Status.FAILED:
        return current in (Status.QUEUED, Status.SENT)
    return RANK[new] > RANK.get(current, 0)


@transaction.atomic
def message_status_record(
    *, message_id: int, status: str, at: dt.datetime, reason: str = ""
) -> Message | None:
    """Move an outbound message's delivery status to `status` reported at `at` (failed: with
    the provider's `reason`, shown to staff). Earlier stamps left empty are filled too (read
    implies delivered). Takes the conversation's next change number. Audited
    (comms.message.status_changed, actor the system); after commit, `message.updated` to the
    conversation's staff and the inboxes. None when nothing changed."""
    message = (
        Message.objects.select_for_update(of=("self",))
        .select_related("conversation", "author_user", "author_contact")
        .filter(pk=message_id, direction=Message.Direction.OUTBOUND)
        .first()
    )
    if message is None or not status_moves(message.status, status):
        return None
    old = message.status
    fields = ["status", "seq", "customer_seq"]
    message.status = status
    if status == Status.FAILED:
        message.failed_at = at
        message.failed_reason = (reason or "")[:2000]
        fields += ["failed_at", "failed_reason"]
    else:
        for state, stamp in STAMPS.items():
            earlier = state != Status.FAILED and RANK[state] <= RANK[status]
            if earlier and getattr(message, stamp) is None:
                setattr(message, stamp, at)
                fields.append(stamp)
    conversation: Conversation = message.conversation
    next_seq(conversation, message)
    message.save(update_fields=fields)
    data = {"conversation": conversation.pk, "from": old, "to": status}
    if status == Status.FAILED:
        data["reason"] = message.failed_reason
    audit.record(actor=None, action="comms.message.status_changed", target=message, data=data)
    attachments = list(message.attachments.all())
    payload = presenters.message_dict(message, presenters.EVERYTHING, attachments=attachments)
    broadcast_message("message.updated", conversation, payload)
    inbox_changed(conversation.pk)
    return message

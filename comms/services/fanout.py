"""The socket events of messages and conversations, queued on the event bus after commit."""

from __future__ import annotations

from comms import presenters, realtime
from comms.models import (
    Conversation,
    Message,
)
from config.events import send_event_on_commit

# --- broadcasting -------------------------------------------------------------------------------


def broadcast_message(kind: str, conversation: Conversation, data: dict) -> None:
    """`data` is the <message> in its everything form; the event carries its frames encoded per
    audience (everything, staff). Customers get their own form (never notes)."""
    send_event_on_commit(
        realtime.staff_group(conversation.pk),
        {"type": kind, "frames": presenters.message_frames(kind, data)},
    )


def broadcast_customer(kind: str, conversation: Conversation, message: Message, attachments):
    if conversation.is_internal or message.direction == Message.Direction.NOTE:
        return
    data = presenters.message_dict(message, presenters.CUSTOMER, attachments=attachments)
    send_event_on_commit(
        realtime.customer_group(conversation.pk),
        {"type": kind, "frame": presenters.encode({"type": kind, "message": data})},
    )


def broadcast_created(conversation: Conversation, message: Message, attachments) -> dict:
    data = presenters.message_dict(message, presenters.EVERYTHING, attachments=attachments)
    broadcast_message("message.created", conversation, data)
    broadcast_customer("message.created", conversation, message, attachments)
    realtime.inbox_changed_on_commit(conversation.pk)
    return data


def conversation_updated(conversation: Conversation) -> None:
    realtime.inbox_changed_on_commit(conversation.pk)
    send_event_on_commit(
        realtime.staff_group(conversation.pk),
        {
            "type": "conversation.updated",
            "conversation": presenters.conversation_dict(conversation),
        },
    )

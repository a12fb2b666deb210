"""The socket events of messages and conversations, queued on the event bus after commit."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

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


def broadcast_created(
    conversation: Conversation, message: Message, attachments, present: Callable[[], dict]
) -> None:
    """Queue message.created to staff and (never notes nor internal) to the customer, then
    inbox.changed: one commit hook each, in that order. The message is presented (`present()`:
    its dict for those who see everything; body_html; the encoded frames) in the hooks, after
    commit, so a batch holds its row locks for its statements only. A hook runs with the
    transaction closed, so the event it queues goes out (or is collected) at once, in the
    hooks' order."""
    transaction.on_commit(lambda: broadcast_message("message.created", conversation, present()))
    if not conversation.is_internal and message.direction != Message.Direction.NOTE:
        transaction.on_commit(
            lambda: broadcast_customer("message.created", conversation, message, attachments)
        )
    realtime.inbox_changed_on_commit(conversation.pk)


def conversation_updated(conversation: Conversation) -> None:
    realtime.inbox_changed_on_commit(conversation.pk)
    send_event_on_commit(
        realtime.staff_group(conversation.pk),
        {
            "type": "conversation.updated",
            "conversation": presenters.conversation_dict(conversation),
        },
    )


def assignee_changed(conversation: Conversation) -> None:
    """The customer's page shows who they are talking with now (no one: the line goes)."""
    if conversation.is_internal:
        return
    assignee = conversation.assignee
    name = (assignee.get_full_name() or assignee.get_username()) if assignee else None
    send_event_on_commit(
        realtime.customer_group(conversation.pk),
        {
            "type": "agent.changed",
            "frame": presenters.encode({"type": "agent.changed", "name": name}),
        },
    )


def inbox_changed(conversation_id: int) -> None:
    realtime.inbox_changed_on_commit(conversation_id)

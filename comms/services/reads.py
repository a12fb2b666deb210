"""Read positions of staff and customers."""

from __future__ import annotations

from django.db import connections, router, transaction
from django.db.models import BooleanField, Exists, F
from django.db.models.expressions import RawSQL
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts import permissions as account_permissions
from accounts import realtime as account_realtime
from accounts.models import User
from comms import errors, permissions, presenters, realtime
from comms.models import (
    Conversation,
    CustomerLink,
    Message,
    Participant,
)
from comms.services.inputs import clean_id
from config.events import send_event_on_commit


@transaction.atomic
def conversation_mark_read(
    *, user: User, conversation: Conversation, message_id, broadcast_to_customer=None, binding=None
) -> int:
    """Everything up to and including message_id is read by `user`. Not audited (a read is not a
    change of record). Broadcasts `read` to staff, and to the customer when the reader is the
    assignee. A read-only viewer (compliance) reads silently: only their own unread count moves,
    nobody is told, and it never counts as the customer's or the team's read.

    `binding`: a socket's session binding, refused (AccessChanged) once it is no longer live. When
    the reader already has a participant row, the visibility check, the message's existence, the
    binding and the move of the read position are one UPDATE."""
    message_id = clean_id(message_id)
    if not _read_moved(user, conversation.pk, message_id, binding):
        if binding is not None and not account_permissions.socket_binding_is_live(binding):
            raise errors.AccessChanged()
        if not permissions.can_view(user, conversation):
            raise errors.NotFound()
        if not Message.objects.filter(pk=message_id, conversation_id=conversation.pk).exists():
            raise errors.NotFound()
        # Someone who sees the conversation without a row of theirs (a manager, a viewer).
        Participant.objects.bulk_create(
            [
                Participant(
                    conversation_id=conversation.pk,
                    user=user,
                    role=Participant.Role.VIEWER,
                    last_read_message_id=message_id,
                )
            ],
            ignore_conflicts=True,
        )
    silent = permissions.is_read_only(user)
    # The reader's own pages (navigation badge, tab title) count again, in every tab.
    account_realtime.notify_user_on_commit(
        user.pk, {"type": "unread.changed", "conversation_id": conversation.pk}
    )
    if silent:
        return message_id
    event = {"type": "read", "actor": presenters.user_actor(user), "message_id": message_id}
    send_event_on_commit(realtime.staff_group(conversation.pk), event)
    if broadcast_to_customer is None:
        broadcast_to_customer = conversation.assignee_id == user.pk
    if broadcast_to_customer and not conversation.is_internal:
        send_event_on_commit(realtime.customer_group(conversation.pk), event)
    return message_id


def _read_moved(user: User, conversation_id: int, message_id: int, binding) -> bool:
    """One UPDATE moving the reader's own row forward, only while they may see the conversation,
    the message is in it and (for a socket) its binding is live. False when any of those fails or
    they have no row: the caller then finds out which."""
    connection = connections[router.db_for_write(Participant)]
    check = permissions.view_check_sql(user, conversation_id, connection.alias)
    if check is None:
        return False
    # Compiled by the policy and the binding (parameters kept apart): nothing from input.
    conditions = [RawSQL(f"%s IN ({check[0]})", [conversation_id, *check[1]], BooleanField())]  # noqa: S611
    if binding is not None:
        sql, params = account_permissions.socket_binding_sql(binding, connection)
        conditions.append(RawSQL(sql, params, BooleanField()))  # noqa: S611
    return bool(
        Participant.objects.filter(conversation_id=conversation_id, user_id=user.pk)
        .filter(Exists(Message.objects.filter(pk=message_id, conversation_id=conversation_id)))
        .filter(*conditions)
        .update(last_read_message_id=Greatest(F("last_read_message_id"), message_id))
    )


@transaction.atomic
def customer_mark_read(*, link: CustomerLink, message_id) -> int:
    """The customer has read everything up to message_id: their outbound messages turn "read"."""
    message_id = clean_id(message_id)
    conversation = link.conversation
    if not permissions.customer_can_use(link):
        raise errors.Forbidden()
    now = timezone.now()
    Message.objects.filter(
        conversation_id=conversation.pk,
        pk__lte=message_id,
        direction=Message.Direction.OUTBOUND,
        status__in=[Message.Status.SENT, Message.Status.DELIVERED],
    ).update(status=Message.Status.READ, read_at=now)
    updated = Participant.objects.filter(
        conversation_id=conversation.pk, contact_id=link.contact_id
    ).update(last_read_message_id=Greatest(F("last_read_message_id"), message_id))
    if not updated:
        Participant.objects.bulk_create(
            [
                Participant(
                    conversation_id=conversation.pk,
                    contact_id=link.contact_id,
                    role=Participant.Role.CUSTOMER,
                    last_read_message_id=message_id,
                )
            ],
            ignore_conflicts=True,
        )
    send_event_on_commit(
        realtime.staff_group(conversation.pk),
        {
            "type": "read",
            "actor": presenters.contact_actor(link.contact),
            "message_id": message_id,
        },
    )
    return message_id

"""Web Push for a new customer message (accounts.push): to the staff the conversation is for,
the installed app shows it when no Keepline window has the focus.

Who: the conversation's assignee and its staff participants (owner/member/agent, not left),
active, who may read it (comms.permissions.can_view). Outside a person's working hours the push
waits for their next working start, like every notification (accounts.notifications).
"""

from __future__ import annotations

from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts import push
from accounts.models import User
from comms import permissions
from comms.models import Message, Participant


def message_push_recipients(message: Message) -> list[User]:
    conversation = message.conversation
    ids = set(
        Participant.objects.filter(
            conversation_id=conversation.pk,
            user__isnull=False,
            left_at__isnull=True,
            role__in=Participant.GRANTING,
        ).values_list("user_id", flat=True)
    )
    if conversation.assignee_id:
        ids.add(conversation.assignee_id)
    people = User.objects.filter(pk__in=ids, is_active=True, push_subscriptions__isnull=False)
    return [u for u in people.distinct().order_by("pk") if permissions.can_view(u, conversation)]


@transaction.atomic
def message_push(*, message_id: int) -> int:
    """Push a new inbound message to its conversation's staff (now, or held until their working
    start). Returns how many people it is for. Nothing when push is off, the message is gone,
    retracted, or not a customer's."""
    if not push.enabled():
        return 0
    message = (
        Message.objects.select_related("conversation", "conversation__contact")
        .filter(pk=message_id, direction=Message.Direction.INBOUND)
        .first()
    )
    if message is None or message.retracted:
        return 0
    conversation = message.conversation
    contact = conversation.contact
    name = str(contact) if contact is not None else _("A customer")
    body = message.body or _("Sent a file.")
    url = reverse("comms:conversation-detail", args=[conversation.pk])
    payload = push.message_payload(
        title=name, body=body, url=url, tag=f"conversation-{conversation.pk}"
    )
    recipients = message_push_recipients(message)
    push.notify([(user, payload) for user in recipients])
    return len(recipients)


def message_push_on_commit(message_ids: list[int]) -> None:
    """After commit, queue the push of these new inbound messages (when push is on)."""
    if not message_ids or not push.enabled():
        return
    from comms import tasks

    for message_id in message_ids:
        transaction.on_commit(lambda m=message_id: tasks.message_push.delay(message_id=m))

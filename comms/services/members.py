"""Internal conversations: membership."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

import audit
from accounts.models import User
from comms import errors, permissions, realtime
from comms.models import (
    Conversation,
    Participant,
)
from comms.services.conversations import join
from config.events import send_event_on_commit

# --- internal conversations: membership --------------------------------------------------------


@transaction.atomic
def member_add(*, actor: User, conversation: Conversation, user: User, request=None) -> None:
    """Add a staff member to an internal conversation. Audited (comms.participant.added)."""
    if not permissions.can_view(actor, conversation):
        raise errors.NotFound()
    if not permissions.can_manage_members(actor, conversation):
        raise errors.Forbidden()
    if not user.is_active:
        raise errors.Invalid(_("This person is not an active user."))
    role = (
        Participant.Role.OWNER if user.pk == conversation.assignee_id else Participant.Role.MEMBER
    )
    join(conversation, user, role, timezone.now())
    audit.record(
        actor=actor,
        action="comms.participant.added",
        target=conversation,
        data={"user": user.pk},
        request=request,
    )
    send_event_on_commit(
        realtime.staff_group(conversation.pk),
        {"type": "members.updated", "conversation_id": conversation.pk},
    )


@transaction.atomic
def member_remove(*, actor: User, conversation: Conversation, user: User, request=None) -> None:
    """Take a member out (or leave). The row stays with left_at; their sockets on it re-check
    access after commit. The owner cannot be removed. Audited (comms.participant.removed)."""
    if not permissions.can_view(actor, conversation):
        raise errors.NotFound()
    if not conversation.is_internal:
        raise errors.Forbidden()
    if user.pk != actor.pk and not permissions.can_manage_members(actor, conversation):
        raise errors.Forbidden()
    if user.pk == conversation.assignee_id:
        raise errors.Invalid(_("The owner cannot leave; give the conversation to someone."))
    removed = Participant.objects.filter(
        conversation=conversation, user=user, left_at__isnull=True
    ).update(left_at=timezone.now())
    if not removed:
        raise errors.NotFound()
    audit.record(
        actor=actor,
        action="comms.participant.removed",
        target=conversation,
        data={"user": user.pk},
        request=request,
    )
    realtime.recheck_access_on_commit(conversation_ids=[conversation.pk], user_ids=[user.pk])
    send_event_on_commit(
        realtime.staff_group(conversation.pk),
        {"type": "members.updated", "conversation_id": conversation.pk},
    )

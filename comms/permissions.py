"""Who sees, writes to and manages which conversation: the one policy that pages, the API, the
WebSocket consumers and file downloads use.

- Admin and Compliance officer see every conversation. Compliance only reads: it never sends,
  edits, retracts, assigns or manages anything.
- A customer conversation (web, WhatsApp, SMS, email) is visible to its staff participants (roles
  owner/member/agent, not left), to its assignee, to whoever may see its contact or its deal under
  the CRM policy (`crm.permissions`), and to the assignee's managers up the reporting line.
- An internal conversation is visible to its members and to the owner's (= assignee's) managers,
  who manage its membership with the owner.
- Internal notes are staff-only: customers never get them (see `comms.presenters`).

Every rule is a SQL condition (`visible_q`): EXISTS probes and the recursive-CTE subtree, so a
list costs the same number of queries at any size and a per-action re-check is one EXISTS.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from accounts import hierarchy
from accounts import permissions as account_permissions
from comms.models import Conversation, CustomerLink, Message, Participant
from crm import permissions as crm_permissions

NOTHING = Q(pk__in=[])


_active = account_permissions.is_active_user
# Sees every conversation, retracted originals and every revision.
is_privileged = account_permissions.sees_everything


def is_read_only(user) -> bool:
    """The compliance officer reads everything and writes nothing (an admin who is also
    compliance keeps the admin's rights)."""
    return account_permissions.is_compliance(user) and not account_permissions.is_admin(user)


is_manager = account_permissions.is_manager


def participant_q(user) -> Q:
    return Q(
        Exists(
            Participant.objects.filter(
                conversation_id=OuterRef("pk"),
                user_id=user.pk,
                left_at__isnull=True,
                role__in=Participant.GRANTING,
            )
        )
    )


def visible_q(user) -> Q:
    """The SQL condition on Conversation selecting what `user` may see."""
    if not _active(user):
        return NOTHING
    if is_privileged(user):
        return Q()
    condition = participant_q(user) | Q(assignee_id=user.pk)
    if is_manager(user):
        condition |= Q(assignee_id__in=hierarchy.subtree_ids_sql(user.pk))
    crm_visible = Q(
        Exists(crm_permissions.contact_queryset_for(user).filter(pk=OuterRef("contact_id")))
    ) | Q(Exists(crm_permissions.deal_queryset_for(user).filter(pk=OuterRef("deal_id"))))
    return condition | (~Q(kind=Conversation.Kind.INTERNAL) & crm_visible)


def write_q(user) -> Q:
    """Visible and writable (send, note): everyone who sees it but the compliance officer."""
    if not _active(user) or is_read_only(user):
        return NOTHING
    return visible_q(user)


_WRITE_SQL_CACHE: OrderedDict = OrderedDict()
_WRITE_SQL_CACHE_SIZE = 4096
_write_sql_lock = threading.Lock()


def write_check_sql(user, conversation_id: int, using: str = "default") -> tuple[str, list] | None:
    """`write_q` for one conversation as compiled SQL: a subquery selecting the conversation's id
    when `user` may write to it (None: never). Compiling the policy's EXISTS probes costs more
    than running them, and a chat socket sends many messages as the same person to the same
    conversation, so the SQL is compiled once per (person, conversation, roles) and reused; the
    statement itself still runs on every send, so revocations apply at once."""
    key = (
        using,
        user.pk,
        conversation_id,
        _active(user),
        is_read_only(user),
        is_privileged(user),
        is_manager(user),
        user.team_id,  # team shares
    )
    with _write_sql_lock:
        cached = _WRITE_SQL_CACHE.get(key)
        if cached is not None:
            _WRITE_SQL_CACHE.move_to_end(key)
            return cached
    condition = write_q(user)
    if condition is NOTHING:
        return None
    query = Conversation.objects.using(using).filter(pk=conversation_id).filter(condition)
    try:
        sql, params = query.values("pk").query.get_compiler(using).as_sql()
    except EmptyResultSet:
        return None
    compiled = (sql, list(params))
    with _write_sql_lock:
        _WRITE_SQL_CACHE[key] = compiled
        if len(_WRITE_SQL_CACHE) > _WRITE_SQL_CACHE_SIZE:
            _WRITE_SQL_CACHE.popitem(last=False)
    return compiled


def forget_write_checks(**kwargs) -> None:
    """The compiled checks hold permission ids, which flush + migrate remake: forget them."""
    with _write_sql_lock:
        _WRITE_SQL_CACHE.clear()


def conversation_queryset_for(user):
    return Conversation.objects.filter(visible_q(user))


def can_view(user, conversation: Conversation) -> bool:
    """One EXISTS (none for admin/compliance, whose roles are cached on the user object)."""
    if not _active(user) or conversation.pk is None:
        return False
    if is_privileged(user):
        return True
    return Conversation.objects.filter(pk=conversation.pk).filter(visible_q(user)).exists()


def can_send(user, conversation: Conversation) -> bool:
    return not is_read_only(user) and can_view(user, conversation)


def can_assign(user, conversation: Conversation) -> bool:
    """Assign, transfer, close and reopen: the assignee, anyone above them, an admin, or any
    writer when nobody holds the conversation (claiming it)."""
    if is_read_only(user) or not _active(user) or conversation.is_internal:
        return False
    if account_permissions.is_admin(user):
        return True
    if conversation.assignee_id is None or conversation.assignee_id == user.pk:
        return can_send(user, conversation)
    return crm_permissions.is_above(user, conversation.assignee_id)


def can_set_status(user, conversation: Conversation) -> bool:
    if conversation.is_internal:
        return can_manage_members(user, conversation)
    return can_assign(user, conversation) or (
        can_send(user, conversation) and conversation.assignee_id is not None
    )


def can_manage_members(user, conversation: Conversation) -> bool:
    """Internal conversations: the owner, the owner's managers and admins."""
    if not conversation.is_internal or is_read_only(user) or not _active(user):
        return False
    if account_permissions.is_admin(user) or conversation.assignee_id == user.pk:
        return True
    return conversation.assignee_id is not None and crm_permissions.is_above(
        user, conversation.assignee_id
    )


def can_issue_link(user, conversation: Conversation) -> bool:
    return (
        not conversation.is_internal
        and conversation.contact_id is not None
        and can_send(user, conversation)
    )


def edit_refusal(user, message: Message, now=None) -> str | None:
    """Why `user` may not edit `message` (an error code of the protocol), or None.
    Access to the conversation is checked separately."""
    if is_read_only(user):
        return "forbidden"
    if message.retracted or message.direction not in (
        Message.Direction.OUTBOUND,
        Message.Direction.NOTE,
    ):
        return "not_editable"
    if message.author_user_id != user.pk:
        return "forbidden"
    now = now or timezone.now()
    if now - message.created_at > timedelta(seconds=settings.COMMS_EDIT_WINDOW_SECONDS):
        return "edit_window_closed"
    return None


def retract_refusal(user, message: Message) -> str | None:
    """Authors retract their own messages at any time; admins retract anyone's staff message."""
    if is_read_only(user) or not _active(user):
        return "forbidden"
    if message.retracted or message.direction not in (
        Message.Direction.OUTBOUND,
        Message.Direction.NOTE,
    ):
        return "not_editable"
    if message.author_user_id == user.pk or account_permissions.is_admin(user):
        return None
    return "forbidden"


def sees_originals(user) -> bool:
    """Retracted bodies and earlier revisions: compliance and admin only."""
    return is_privileged(user)


def viewer_kind(user) -> str:
    return "privileged" if sees_originals(user) else "staff"


# --- customers ---------------------------------------------------------------------------------


def link_usable_q(link_id: int, now=None) -> Q:
    """EXISTS: the customer link is neither revoked nor expired (for conditional writes)."""
    now = now or timezone.now()
    return Q(
        Exists(
            CustomerLink.objects.filter(
                pk=link_id,
                conversation_id=OuterRef("pk"),
                revoked_at__isnull=True,
                expires_at__gt=now,
            )
        )
    )


def customer_can_use(link: CustomerLink) -> bool:
    """One query: the link is still usable (not revoked, not expired) right now."""
    return CustomerLink.objects.filter(
        pk=link.pk, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).exists()


def customer_sees(message: Message) -> bool:
    return not message.retracted and message.direction != Message.Direction.NOTE

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
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connections, router
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts import hierarchy
from accounts import permissions as account_permissions
from comms.models import Conversation, CustomerLink, Message, Participant
from crm import permissions as crm_permissions
from crm.models import Contact

NOTHING = Q(pk__in=[])
# Two instants a link check is compiled at, to find which of its parameters are times.
_INSTANTS = (
    datetime(2000, 1, 1, tzinfo=UTC),
    datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC),
)


_active = account_permissions.is_active_user
# The one role fact for admin and compliance: every conversation, retracted originals and every
# revision (presenters.EVERYTHING is the form of a message they get).
sees_everything = account_permissions.sees_everything


# The compliance officer reads everything and writes nothing (an admin who is also compliance
# keeps the admin's rights).
is_read_only = account_permissions.is_read_only


is_manager = account_permissions.is_manager


def _holding(user) -> QuerySet:
    """The person's participant rows that grant access: active owner, member or agent."""
    return Participant.objects.filter(
        user_id=user.pk, left_at__isnull=True, role__in=Participant.GRANTING
    )


def participant_q(user) -> Q:
    return Q(Exists(_holding(user).filter(conversation_id=OuterRef("pk"))))


def held_ids(user) -> QuerySet:
    """Ids of the conversations a person holds, read on comms_part_user_idx. The assignee of a
    customer conversation is always its agent (services.join), so this is "assigned to me" plus
    "internal conversations I am in"."""
    return _holding(user).values("conversation_id")


def held_queryset_for(user) -> QuerySet:
    """The conversations a person holds. Holding is one of the ways of seeing (`participant_q`
    in `visible_q`), so nothing else is asked: the inbox's Mine box, whose query PostgreSQL took
    6.5 ms to plan with the whole rule."""
    if not _active(user):
        return Conversation.objects.none()
    return Conversation.objects.filter(pk__in=held_ids(user))


def visible_q(user) -> Q:
    """The SQL condition on Conversation selecting what `user` may see."""
    if not _active(user):
        return NOTHING
    if sees_everything(user):
        return Q()
    crm_visible = Q(
        Exists(crm_permissions.contact_queryset_for(user).filter(pk=OuterRef("contact_id")))
    ) | Q(Exists(crm_permissions.deal_queryset_for(user).filter(pk=OuterRef("deal_id"))))
    return _held_q(user) | (~Q(kind=Conversation.Kind.INTERNAL) & crm_visible)


def _held_q(user) -> Q:
    """Seeing a conversation by one's own standing in it: participant, assignee, or (a manager)
    above its assignee."""
    condition = participant_q(user) | Q(assignee_id=user.pk)
    if is_manager(user):
        condition |= Q(assignee_id__in=hierarchy.subtree_ids_sql(user.pk))
    return condition


def on_visible_record_q(user, field: str, pk: int) -> Q:
    """`visible_q` narrowed to the conversations on one deal or contact (`field` "deal_id" or
    "contact_id") that the caller read through the CRM visibility filter just now: a customer
    conversation on a record the person sees is visible to them (the last clause of
    `visible_q`), so only internal ones need their own standing. Without the nested CRM probes
    the record page's query is built, compiled and planned in a fraction of the time."""
    if field not in ("deal_id", "contact_id"):
        raise ValueError(field)
    if not _active(user):
        return NOTHING
    if sees_everything(user):
        return Q(**{field: pk})
    return Q(**{field: pk}) & (~Q(kind=Conversation.Kind.INTERNAL) | _held_q(user))


def write_q(user) -> Q:
    """Visible and writable (send, note): everyone who sees it but the compliance officer."""
    if not _active(user) or is_read_only(user):
        return NOTHING
    return visible_q(user)


# Compiled send checks. Compiling the policy's EXISTS probes costs more than running them, and a
# chat socket sends many messages as the same person to the same conversation, so each check is
# compiled once and reused; the statement itself still runs on every send, so a revocation
# applies to the very next one.
_CHECK_CACHE: OrderedDict = OrderedDict()
_CHECK_CACHE_SIZE = 4096
_check_lock = threading.Lock()
_EMPTY = object()


def _compiled(key: tuple, build):
    """build() -> (sql, params) or None, once per key (least recently used ones forgotten)."""
    with _check_lock:
        cached = _CHECK_CACHE.get(key)
        if cached is not None:
            _CHECK_CACHE.move_to_end(key)
            return None if cached is _EMPTY else cached
    compiled = build()
    with _check_lock:
        _CHECK_CACHE[key] = _EMPTY if compiled is None else compiled
        if len(_CHECK_CACHE) > _CHECK_CACHE_SIZE:
            _CHECK_CACHE.popitem(last=False)
    return compiled


def _subquery_sql(condition: Q, conversation_id: int, using: str) -> tuple[str, list] | None:
    query = Conversation.objects.using(using).filter(pk=conversation_id).filter(condition)
    try:
        sql, params = query.values("pk").query.get_compiler(using).as_sql()
    except EmptyResultSet:
        return None
    return sql, list(params)


def write_check_sql(user, conversation_id: int, using: str = "default") -> tuple[str, list] | None:
    """`write_q` for one conversation as compiled SQL: a subquery selecting the conversation's id
    when `user` may write to it (None: never). Compiled once per person, conversation and the
    role facts the policy branches on."""
    key = (
        "write",
        using,
        user.pk,
        conversation_id,
        _active(user),
        is_read_only(user),
        sees_everything(user),
        is_manager(user),
        user.team_id,  # team shares
    )

    def build():
        condition = write_q(user)
        return None if condition is NOTHING else _subquery_sql(condition, conversation_id, using)

    return _compiled(key, build)


def view_check_sql(user, conversation_id: int, using: str = "default") -> tuple[str, list] | None:
    """`visible_q` for one conversation as compiled SQL, like write_check_sql: a subquery
    selecting the conversation's id when `user` may see it (None: never). The statement runs on
    every use, so a share, reassignment or assignment applies to the very next one."""
    key = (
        "view",
        using,
        user.pk,
        conversation_id,
        _active(user),
        sees_everything(user),
        is_manager(user),
        user.team_id,
    )

    def build():
        condition = visible_q(user)
        return None if condition is NOTHING else _subquery_sql(condition, conversation_id, using)

    return _compiled(key, build)


def socket_may_view(user, conversation_id: int, binding) -> bool | None:
    """One statement for a staff socket's action that writes nothing (typing): None when the
    socket's binding is no longer live (session ended, access_version moved), else whether the
    person may still see the conversation. Both are read from the database on every call."""
    connection = connections[router.db_for_read(Conversation)]
    bound_sql, bound_params = account_permissions.socket_binding_sql(binding, connection)
    check = view_check_sql(user, conversation_id, connection.alias)
    view_sql, view_params = (f"EXISTS ({check[0]})", check[1]) if check else ("(1 = 0)", [])
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {bound_sql}, {view_sql}", [*bound_params, *view_params])  # noqa: S608
        live, visible = cursor.fetchone()
    if not live:
        return None
    return bool(visible)


def outreach_check_sql(check: tuple[str, list]) -> tuple[str, list]:
    """A compiled write check narrowed to a staff message the customer receives: it also fails
    when the conversation's contact has their processing restricted (a data-subject request:
    crm.permissions.outreach_refusal says why), in the same statement as the write."""
    sql, params = check
    conversations, contacts = Conversation._meta.db_table, Contact._meta.db_table
    return (
        f'SELECT w.id FROM "{conversations}" w WHERE w.id IN ({sql}) AND NOT EXISTS'  # noqa: S608
        f' (SELECT 1 FROM "{contacts}" k WHERE k.id = w.contact_id AND k.processing_restricted)',
        params,
    )


def forget_write_checks(**kwargs) -> None:
    """The compiled checks hold permission ids, which flush + migrate remake: forget them."""
    with _check_lock:
        _CHECK_CACHE.clear()


def conversation_queryset_for(user):
    return Conversation.objects.filter(visible_q(user))


def can_view(user, conversation: Conversation) -> bool:
    """One EXISTS (none for admin/compliance, whose roles are cached on the user object)."""
    if not _active(user) or conversation.pk is None:
        return False
    if sees_everything(user):
        return True
    return Conversation.objects.filter(pk=conversation.pk).filter(visible_q(user)).exists()


def can_send(user, conversation: Conversation, *, visible: bool = False) -> bool:
    """`write_q` for one conversation: the same rule the send path runs compiled
    (write_check_sql), one EXISTS (none for an admin).

    `visible`: the caller read the conversation through `visible_q(user)` just now (a page
    showing it), and `write_q` is `visible_q` for everyone but the read-only compliance
    officer, so the EXISTS is not run twice."""
    if not _active(user) or conversation.pk is None or is_read_only(user):
        return False
    if sees_everything(user) or visible:
        return True
    return Conversation.objects.filter(pk=conversation.pk).filter(write_q(user)).exists()


def can_assign(user, conversation: Conversation, *, visible: bool = False) -> bool:
    """Assign, transfer, close and reopen: the assignee, anyone above them, an admin, or any
    writer when nobody holds the conversation (claiming it). `visible`: as for can_send."""
    if is_read_only(user) or not _active(user) or conversation.is_internal:
        return False
    if account_permissions.is_admin(user):
        return True
    if conversation.assignee_id is None or conversation.assignee_id == user.pk:
        return can_send(user, conversation, visible=visible)
    return crm_permissions.is_above(user, conversation.assignee_id)


def can_set_status(user, conversation: Conversation, *, visible: bool = False) -> bool:
    if conversation.is_internal:
        return can_manage_members(user, conversation)
    return can_assign(user, conversation, visible=visible) or (
        can_send(user, conversation, visible=visible) and conversation.assignee_id is not None
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
    if (
        message.retracted
        or message.purged_at is not None
        or message.direction not in (Message.Direction.OUTBOUND, Message.Direction.NOTE)
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
    if (
        message.retracted
        or message.purged_at is not None
        or message.direction not in (Message.Direction.OUTBOUND, Message.Direction.NOTE)
    ):
        return "not_editable"
    if message.author_user_id == user.pk or account_permissions.is_admin(user):
        return None
    return "forbidden"


def audience_for(user) -> str:
    """Which form of a message this person gets (comms.presenters): everything or staff."""
    return "everything" if sees_everything(user) else "staff"


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


def link_check_sql(
    link_id: int, conversation_id: int, now, using: str = "default"
) -> tuple[str, list]:
    """`link_usable_q` for one conversation as compiled SQL: a subquery selecting the
    conversation's id while the customer link is usable at `now`. Compiled once per link: the
    compiler is run at two instants and the parameters that differ are the times, filled with
    `now` on each call."""
    connection = connections[using]

    def build():
        first = _subquery_sql(link_usable_q(link_id, _INSTANTS[0]), conversation_id, using)
        second = _subquery_sql(link_usable_q(link_id, _INSTANTS[1]), conversation_id, using)
        times = [i for i, (a, b) in enumerate(zip(first[1], second[1], strict=True)) if a != b]
        return first[0], first[1], times

    sql, params, times = _compiled(("link", using, link_id, conversation_id), build)
    params = list(params)
    for i in times:
        params[i] = connection.ops.adapt_datetimefield_value(now)
    return sql, params


def customer_can_use(link: CustomerLink) -> bool:
    """One query: the link is still usable (not revoked, not expired) right now."""
    return CustomerLink.objects.filter(
        pk=link.pk, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).exists()


def customer_sees(message: Message) -> bool:
    return not message.retracted and message.direction != Message.Direction.NOTE


# --- quick replies ------------------------------------------------------------------------------


def quick_reply_teams_managed_by(user):
    """Teams whose quick replies this person keeps: every active team for an admin; for a
    manager, the teams they lead and their own team. Compliance keeps none."""
    from accounts.models import Team

    if not _active(user) or is_read_only(user):
        return Team.objects.none()
    active = Team.objects.filter(archived_at__isnull=True)
    if account_permissions.is_admin(user):
        return active
    if is_manager(user):
        return active.filter(Q(lead=user) | Q(pk=user.team_id or 0))
    return Team.objects.none()


def can_keep_team_replies(user, team) -> bool:
    if team is None or not _active(user) or is_read_only(user):
        return False
    if account_permissions.is_admin(user):
        return team.archived_at is None
    return is_manager(user) and (team.lead_id == user.pk or team.pk == user.team_id)


def quick_replies_usable_q(user) -> Q:
    """The person's own replies and their team's (a compliance officer writes nothing: none)."""
    if not _active(user) or is_read_only(user):
        return NOTHING
    mine = Q(owner_id=user.pk)
    return mine | Q(team_id=user.team_id) if user.team_id else mine


def can_change_quick_reply(user, reply) -> bool:
    """Own replies by their owner; team replies by the team's managers and admins."""
    if not _active(user) or is_read_only(user):
        return False
    if reply.owner_id is not None:
        return reply.owner_id == user.pk
    return can_keep_team_replies(user, reply.team)

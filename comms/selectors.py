"""Every conversation read a person (or a customer link) sees, already filtered by
`comms.permissions`, with related rows preloaded. Forbidden is missing: `Http404`."""

from __future__ import annotations

from dataclasses import dataclass

from django.core import signing
from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from accounts import permissions as account_permissions
from comms import errors, link_tokens, permissions
from comms.models import (
    Attachment,
    Conversation,
    CustomerLink,
    Message,
    Participant,
    QuickReply,
)
from config.ids import MAX_ID

MAX_PAGE = 200
DEFAULT_PAGE = 50
TRUE_VALUES = {"1", "true", "yes", "on"}


def _int(value) -> int | None:
    """An id as the database can hold it, or None (no such record) for anything else."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 <= number <= MAX_ID else None


def _flag(filters, name: str) -> bool:
    value = filters.get(name)
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in TRUE_VALUES


# --- conversations -------------------------------------------------------------------------------


def _unread_messages(user) -> QuerySet:
    """What counts as unread for `user` in the conversation OuterRef("pk") after the read
    position OuterRef("_read_upto"): not their own, not system, not retracted."""
    return (
        Message.objects.filter(conversation_id=OuterRef("pk"), pk__gt=OuterRef("_read_upto"))
        .exclude(author_user_id=user.pk)
        .exclude(direction=Message.Direction.SYSTEM)
        .filter(retracted=False)
    )


def with_unread(qs: QuerySet, user) -> QuerySet:
    """Annotate `unread`: messages after the user's read position, not their own, not system,
    not retracted. Subqueries on the (conversation, id) index: constant queries at any size."""
    marker = Participant.objects.filter(conversation_id=OuterRef("pk"), user_id=user.pk).values(
        "last_read_message_id"
    )[:1]
    unread = (
        _unread_messages(user)
        .order_by()
        .values("conversation_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return qs.annotate(
        _read_upto=Coalesce(Subquery(marker, output_field=IntegerField()), 0)
    ).annotate(unread=Coalesce(Subquery(unread, output_field=IntegerField()), 0))


def with_preview(qs: QuerySet) -> QuerySet:
    last = (
        Message.objects.filter(conversation_id=OuterRef("pk"), retracted=False)
        .exclude(direction=Message.Direction.SYSTEM)
        .order_by("-pk")
        .values("body")[:1]
    )
    return qs.annotate(last_preview=Subquery(last))


def conversation_list_for(user, filters=None) -> QuerySet[Conversation]:
    """The inbox: visible conversations, newest activity first, with `unread` and `last_preview`.

    filters (a dict or QueryDict): mine, team, unassigned (flags), status, kind, deal, contact.
    """
    filters = filters or {}
    if _flag(filters, "mine"):
        # What the person holds: the same set the unread badge counts (unread_for).
        qs = permissions.held_queryset_for(user)
    else:
        qs = permissions.conversation_queryset_for(user)
    # Four relations joined, the two rarely set by prefetch (one small query each, none when no
    # row has one): with all six joined PostgreSQL took 9 to 13 ms to plan the inbox's query,
    # against 1.7 ms.
    qs = qs.select_related("contact", "deal", "assignee", "team").prefetch_related(
        "company", "covering_for"
    )
    if _flag(filters, "team"):
        qs = qs.filter(team_id=user.team_id) if user.team_id else qs.none()
    if _flag(filters, "unassigned"):
        qs = qs.filter(assignee__isnull=True)
    status = filters.get("status")
    if status in Conversation.Status.values:
        qs = qs.filter(status=status)
    kind = filters.get("kind")
    if kind in Conversation.Kind.values:
        qs = qs.filter(kind=kind)
    for name in ("deal", "contact"):
        raw = filters.get(name)
        if raw not in (None, ""):
            pk = _int(raw)
            qs = qs.filter(**{f"{name}_id": pk}) if pk is not None else qs.none()
    return with_preview(with_unread(qs, user)).order_by("-last_message_at", "-id")


def unassigned_queue_for(user) -> QuerySet[Conversation] | None:
    """A manager's (or admin's) waiting customers: open conversations nobody holds that they
    can see (an offboarded book sent to a team's queue lands here), oldest first. None for
    anyone else."""
    if not (permissions.is_manager(user) or account_permissions.is_admin(user)):
        return None
    return (
        permissions.conversation_queryset_for(user)
        .filter(assignee__isnull=True)
        .exclude(status=Conversation.Status.CLOSED)
        .exclude(kind=Conversation.Kind.INTERNAL)
        .select_related("contact", "team")
        .order_by("last_message_at", "id")
    )


def conversation_get_for(user, conversation_id) -> Conversation:
    pk = _int(conversation_id)
    conversation = (
        permissions.conversation_queryset_for(user)
        .select_related("contact", "deal", "company", "assignee", "team", "covering_for")
        .filter(pk=pk)
        .first()
        if pk is not None
        else None
    )
    if conversation is None:
        raise Http404
    return conversation


def conversation_is_visible(user, conversation_id) -> bool:
    """One EXISTS: may this person open that conversation?"""
    pk = _int(conversation_id)
    return pk is not None and permissions.conversation_queryset_for(user).filter(pk=pk).exists()


def _on_record(user, field: str, pk, visible: bool) -> QuerySet[Conversation]:
    """A deal's or contact's conversations for its page's tabs and chat panel: visible ones,
    newest activity first, with `unread` and each one's contact (the tab's label). Lighter than
    the inbox's list: no preview and no other relations, which these pages do not show.
    `visible`: the page read the record through the CRM visibility filter just now
    (permissions.on_visible_record_q)."""
    if visible:
        qs = Conversation.objects.filter(permissions.on_visible_record_q(user, field, pk))
    else:
        qs = permissions.conversation_queryset_for(user).filter(**{field: pk})
    return with_unread(qs.select_related("contact"), user).order_by("-last_message_at", "-id")


def conversations_for_deal(user, deal, *, visible: bool = False) -> QuerySet[Conversation]:
    return _on_record(user, "deal_id", deal.pk, visible)


def conversations_for_contact(user, contact, *, visible: bool = False) -> QuerySet[Conversation]:
    return _on_record(user, "contact_id", contact.pk, visible)


def unread_counts_for(user, conversation_ids=None) -> dict[int, int]:
    """{conversation id: unread} for the visible conversations with something unread, in one
    query."""
    qs = with_unread(permissions.conversation_queryset_for(user), user).filter(unread__gt=0)
    if conversation_ids is not None:
        qs = qs.filter(pk__in=list(conversation_ids))
    return dict(qs.values_list("pk", "unread"))


@dataclass
class Unread:
    """What is unread in the conversations a person holds: the navigation badge, the inbox's
    "Mine" tab and its rows all read this (one selector, so the numbers agree)."""

    total: int
    counts: dict[int, int]  # conversation id -> unread messages
    # The newest conversations with something unread, newest first, each with its latest unread
    # message (`latest_id`, `latest_body`, `latest_has_files`): what a notification shows.
    recent: list[Conversation]


RECENT_UNREAD = 10


def unread_for(user, *, recent: int = RECENT_UNREAD) -> Unread:
    """The person's unread total and per-conversation counts, in one grouped query that starts
    from their own participant rows (comms_part_user_idx) and counts on comms_msg_conv_id_idx:
    its cost follows what they hold, not the organisation's size. Conversations they only see (a
    manager's team, an admin's everything) are not theirs to answer and are not counted.

    The newest `recent` of them are then read with their latest unread message and contact in a
    second query, only when there is something to show. Two plain queries compile in a fraction
    of the time the single query with a subquery per column took (22.7 -> 6.3 ms on PostgreSQL
    for a rep holding 5 of 1,500 conversations: Django's compile, not the database, was most of
    it)."""
    if not account_permissions.is_active_user(user):
        return Unread(0, {}, [])
    grouped = (
        Message.objects.filter(
            conversation__participants__user_id=user.pk,
            conversation__participants__left_at__isnull=True,
            conversation__participants__role__in=Participant.GRANTING,
            pk__gt=Coalesce(F("conversation__participants__last_read_message_id"), 0),
        )
        .exclude(author_user_id=user.pk)
        .exclude(direction=Message.Direction.SYSTEM)
        .filter(retracted=False)
        .order_by()
        .values_list("conversation_id", "conversation__last_message_at")
        .annotate(n=Count("pk"), latest=Max("pk"))
    )
    rows = sorted(grouped, key=lambda row: (row[1], row[0]), reverse=True)
    counts = {conversation_id: n for conversation_id, _at, n, _latest in rows}
    shown = rows[:recent]
    if not shown:
        return Unread(sum(counts.values()), counts, [])
    # Each shown conversation's latest unread message, with the conversation and its contact.
    latest = (
        Message.objects.filter(pk__in=[row[3] for row in shown])
        .select_related("conversation__contact")
        .annotate(has_files=Exists(Attachment.objects.filter(message_id=OuterRef("pk"))))
        .in_bulk()
    )
    conversations = []
    for _conversation_id, _at, n, latest_id in shown:
        message = latest[latest_id]
        conversation = message.conversation
        conversation.unread = n
        conversation.latest_id = latest_id
        conversation.latest_body = message.body
        conversation.latest_has_files = message.has_files
        conversations.append(conversation)
    return Unread(sum(counts.values()), counts, conversations)


def waiting_for_reply_for(user, *, limit: int = 10) -> list[Conversation]:
    """Customer conversations the person holds whose customer wrote last and got no answer yet,
    longest wait first; `waiting_since` is when the first unanswered customer message came (an
    internal note is not an answer). One query, from the person's participant rows."""
    if not account_permissions.is_active_user(user):
        return []
    answered = (
        Message.objects.filter(
            conversation_id=OuterRef("pk"),
            direction=Message.Direction.OUTBOUND,
            retracted=False,
        )
        .order_by("-pk")
        .values("pk")[:1]
    )
    first_unanswered = (
        Message.objects.filter(
            conversation_id=OuterRef("pk"),
            direction=Message.Direction.INBOUND,
            retracted=False,
            pk__gt=OuterRef("_answered_upto"),
        )
        .order_by("pk")
        .values("created_at")[:1]
    )
    return list(
        permissions.held_queryset_for(user)
        .exclude(kind=Conversation.Kind.INTERNAL)
        .exclude(status=Conversation.Status.CLOSED)
        .annotate(_answered_upto=Coalesce(Subquery(answered), 0))
        .annotate(waiting_since=Subquery(first_unanswered))
        .filter(waiting_since__isnull=False)
        .select_related("contact", "deal")
        .order_by("waiting_since", "id")[:limit]
    )


def participants_of(conversation: Conversation) -> list[Participant]:
    return list(
        Participant.objects.filter(conversation=conversation)
        .exclude(role=Participant.Role.VIEWER)
        .select_related("user", "contact")
        .order_by("left_at", "joined_at", "id")
    )


def members_off_work(conversation: Conversation, viewer, now=None) -> list[tuple]:
    """The other active members of an internal conversation who are outside their working hours
    at `now`, each with their next working start (UTC), soonest first: what a message `viewer`
    sends now waits for (accounts.working_hours). One query; none for customer conversations."""
    if not conversation.is_internal:
        return []
    from accounts import working_hours

    now = now or timezone.now()
    members = (
        Participant.objects.filter(
            conversation=conversation,
            user__isnull=False,
            left_at__isnull=True,
            role__in=Participant.GRANTING,
            user__is_active=True,
        )
        .exclude(user_id=viewer.pk)
        .select_related("user")
    )
    found = []
    for member in members:
        start = working_hours.next_working_start(member.user, now)
        if start > now:
            found.append((member.user, start))
    return sorted(found, key=lambda pair: (pair[1], pair[0].pk))


# --- messages ------------------------------------------------------------------------------------


@dataclass
class Page:
    """One page of messages and whether more lie beyond it in the direction read."""

    items: list[Message]
    has_more: bool
    # The viewer's change number of the conversation, read before the rows: every change up to
    # it is in this page or was before it (docs/realtime.md, "Gap-free sync").
    seq: int = 0

    def __iter__(self):
        return iter(self.items)

    def __len__(self):
        return len(self.items)


def page_limit(limit) -> int:
    """A page size the caller asked for, between 1 and MAX_PAGE (50 when not given)."""
    return max(1, min(_int(limit) or DEFAULT_PAGE, MAX_PAGE))


def _checked(value) -> int | None:
    number = _int(value)
    if value not in (None, "") and number is None:
        raise Http404
    return number


def conversation_seq(conversation_id: int, *, customer: bool = False) -> int:
    """The conversation's last change number in the staff (or the customer's) numbering."""
    field = "customer_seq" if customer else "seq"
    return (
        Conversation.objects.filter(pk=conversation_id).values_list(field, flat=True).first() or 0
    )


def _page(
    qs: QuerySet,
    conversation_id: int,
    after,
    before,
    limit,
    *,
    since=None,
    customer: bool = False,
    shown: Q | None = None,
) -> Page:
    """One conversation's messages `qs`. `since`: every message changed after that change
    number (new, edited, retracted), in change order: the catch-up. `after`: oldest first after
    that id; otherwise newest first (before `before` if given); `shown` narrows these two.
    Two queries: the conversation's change number, then the rows, one beyond the page saying
    whether there is more."""
    limit = page_limit(limit)
    since_seq, after_id, before_id = _checked(since), _checked(after), _checked(before)
    seq = conversation_seq(conversation_id, customer=customer)
    if since_seq is not None:
        field = "customer_seq" if customer else "seq"
        rows = list(qs.filter(**{f"{field}__gt": since_seq}).order_by(field)[: limit + 1])
        return Page(rows[:limit], len(rows) > limit, seq)
    if shown is not None:
        qs = qs.filter(shown)
    if after_id is not None:
        rows = list(qs.filter(pk__gt=after_id).order_by("pk")[: limit + 1])
    else:
        if before_id is not None:
            qs = qs.filter(pk__lt=before_id)
        rows = list(qs.order_by("-pk")[: limit + 1])
    return Page(rows[:limit], len(rows) > limit, seq)


def message_page_for(
    user, conversation: Conversation, after=None, before=None, limit=None, since=None
) -> Page:
    """A page of a conversation's messages for a staff viewer (notes included).

    `since`: what changed after that change number (catch-up); `after`: oldest-first after that
    id; otherwise newest-first (before `before` if given). The caller has checked the
    conversation through `conversation_get_for`.
    """
    qs = Message.objects.filter(conversation_id=conversation.pk).select_related(
        "author_user", "author_contact"
    )
    qs = qs.prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("id")))
    return _page(qs, conversation.pk, after, before, limit, since=since)


def message_revisions_for(user, conversation: Conversation, message_id) -> list:
    """Every earlier body of a message: only for those who see everything (admin,
    compliance); others are refused (403) though they may see the message."""
    if not permissions.sees_everything(user):
        raise errors.Forbidden()
    message = Message.objects.filter(pk=_int(message_id), conversation_id=conversation.pk).first()
    if message is None:
        raise Http404
    return list(message.revisions.select_related("editor").order_by("id"))


@dataclass
class Version:
    """One text a message had: who wrote it (the author, then each editor), and when."""

    number: int
    body: str | None  # None: hidden from this viewer
    by: object  # a User, a Contact, or None (the system)
    at: object
    current: bool


@dataclass
class MessageVersions:
    message: Message
    versions: list[Version]  # oldest first; the last is the current text
    attachments: list[Attachment]
    everything: bool  # the viewer reads earlier and retracted text (admin, compliance)


def message_versions_for(user, message_id) -> MessageVersions:
    """A message's every version and its files, for whoever may read its conversation (Http404
    otherwise). Earlier and retracted text, and a retracted message's files, only for those who
    see everything (admin, compliance); others get the versions' authors and times. Three
    queries: the message, its revisions, its files."""
    pk = _int(message_id)
    message = (
        Message.objects.select_related(
            "conversation__contact", "author_user", "author_contact", "retracted_by"
        )
        .filter(pk=pk, conversation__in=permissions.conversation_queryset_for(user))
        .first()
        if pk is not None
        else None
    )
    if message is None:
        raise Http404
    everything = permissions.sees_everything(user)
    revisions = list(message.revisions.select_related("editor").order_by("id"))
    # A revision holds the text replaced by an edit: the first one is the text as sent.
    bodies = [r.body for r in revisions] + [message.body]
    authors = [message.author_user or message.author_contact] + [r.editor for r in revisions]
    times = [message.created_at] + [r.edited_at for r in revisions]
    last = len(bodies) - 1
    versions = []
    for i, body in enumerate(bodies):
        shown = everything or (i == last and not message.retracted)
        versions.append(Version(i + 1, body if shown else None, authors[i], times[i], i == last))
    files = everything or not message.retracted
    attachments = list(message.attachments.order_by("id")) if files else []
    return MessageVersions(message, versions, attachments, everything)


# --- customers -----------------------------------------------------------------------------------


class LinkRefused(Exception):
    """reason: "invalid" (unknown or tampered: 404), "expired" or "revoked" (410)."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


def customer_links_of(conversation: Conversation) -> QuerySet[CustomerLink]:
    """A conversation's customer links, newest first (the caller checked the conversation)."""
    return CustomerLink.objects.filter(conversation_id=conversation.pk).order_by("-id")


def customer_link_get(conversation: Conversation, link_id) -> CustomerLink:
    link = customer_links_of(conversation).filter(pk=_int(link_id)).first()
    if link is None:
        raise Http404
    return link


def customer_link_for_token(token: str) -> CustomerLink:
    """The usable link a customer's token names, with its conversation, contact and assignee."""
    from django.conf import settings

    if not token or len(token) > 400:
        raise LinkRefused("invalid")
    try:
        link_tokens.check(token, max_age=settings.COMMS_CUSTOMER_LINK_SECONDS + 60)
    except signing.SignatureExpired:
        raise LinkRefused("expired") from None
    except signing.BadSignature:
        raise LinkRefused("invalid") from None
    link = (
        CustomerLink.objects.select_related(
            "contact", "conversation", "conversation__assignee", "conversation__company"
        )
        .filter(token_digest=link_tokens.digest(token))
        .first()
    )
    if link is None:
        raise LinkRefused("invalid")
    if link.revoked_at is not None:
        raise LinkRefused("revoked")
    if link.expires_at <= timezone.now():
        raise LinkRefused("expired")
    return link


def customer_read_upto(link: CustomerLink) -> int:
    """The id up to which the customer's messages show as read: what the conversation's assignee
    has read (the same person whose reads reach the customer live, comms.services.reads)."""
    assignee_id = link.conversation.assignee_id
    if assignee_id is None:
        return 0
    found = (
        Participant.objects.filter(conversation_id=link.conversation_id, user_id=assignee_id)
        .values_list("last_read_message_id", flat=True)
        .first()
    )
    return found or 0


def customer_message_page(
    link: CustomerLink, after=None, before=None, limit=None, since=None
) -> Page:
    """What the customer sees: no notes, nothing retracted; the catch-up (`since`, in the
    customer's numbering) includes the retractions, which the customer's page removes."""
    qs = (
        Message.objects.filter(conversation_id=link.conversation_id, customer_seq__isnull=False)
        .select_related("author_user", "author_contact")
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("id")))
    )
    return _page(
        qs,
        link.conversation_id,
        after,
        before,
        limit,
        since=since,
        customer=True,
        shown=Q(retracted=False),
    )


# --- attachments ---------------------------------------------------------------------------------


def attachment_get_for(user, attachment_id) -> Attachment:
    """A file of a visible conversation; a retracted message's files only for compliance/admin."""
    pk = _int(attachment_id)
    attachment = (
        Attachment.objects.select_related("message", "conversation")
        .filter(pk=pk, conversation__in=permissions.conversation_queryset_for(user))
        .first()
        if pk is not None
        else None
    )
    if attachment is None:
        raise Http404
    if (
        attachment.message
        and attachment.message.retracted
        and not permissions.sees_everything(user)
    ):
        raise Http404
    return attachment


def customer_attachment_get(link: CustomerLink, attachment_id) -> Attachment:
    pk = _int(attachment_id)
    attachment = (
        Attachment.objects.select_related("message")
        .filter(
            pk=pk,
            conversation_id=link.conversation_id,
            message__retracted=False,
        )
        .exclude(message__direction=Message.Direction.NOTE)
        .filter(~Q(message__isnull=True))
        .first()
        if pk is not None
        else None
    )
    if attachment is None:
        raise Http404
    return attachment


# --- a contact's whole record (governance's data-subject requests, which authorise first) -----


def conversations_of_contact(contact_id: int) -> QuerySet[Conversation]:
    """Every conversation of the contact, and any other they took part in as the customer.
    Not permission-filtered: for a caller that has authorised its user already (governance)."""
    joined = Participant.objects.filter(contact_id=contact_id).values("conversation_id")
    return Conversation.objects.filter(Q(contact_id=contact_id) | Q(pk__in=joined))


# --- quick replies ------------------------------------------------------------------------------


def quick_replies_usable_by(user) -> QuerySet:
    """The replies this person may pick in a composer: their own, then their team's."""
    return QuickReply.objects.filter(permissions.quick_replies_usable_q(user)).select_related(
        "team"
    )


def quick_replies_kept_by(user) -> QuerySet:
    """The replies this person may change: their own and those of the teams they keep."""
    teams = permissions.quick_reply_teams_managed_by(user)
    return (
        QuickReply.objects.filter(Q(owner_id=user.pk) | Q(team__in=teams))
        .select_related("team")
        .order_by("team__name", "title", "id")
    )


def quick_reply_get_for_change(user, reply_id):
    """One reply the person may change; anything else (another's, missing) is a 404."""
    pk = _int(reply_id)
    reply = QuickReply.objects.select_related("team").filter(pk=pk).first() if pk else None
    if reply is None or not permissions.can_change_quick_reply(user, reply):
        raise Http404
    return reply


def quick_replies_for_conversation(user, conversation_id) -> list[dict]:
    """The replies the person may use, their variables filled in for a conversation they may
    read (404 otherwise): [{id, title, body, team}]. Three queries."""
    from comms import quick_replies

    conversation = conversation_get_for(user, conversation_id)
    if conversation.contact_id:
        # The company's name is one of the variables; the contact came without it.
        from crm.models import Contact

        conversation.contact = (
            Contact.objects.select_related("company").filter(pk=conversation.contact_id).first()
        )
    values = quick_replies.values_for(conversation, user)
    return [
        {
            "id": reply.pk,
            "title": reply.title,
            "body": quick_replies.render(reply.body, values),
            "team": reply.team.name if reply.team_id else None,
        }
        for reply in quick_replies_usable_by(user).order_by("title", "id")
    ]

"""The one write path of messages.

Every message enters Keepline as a `MessageDraft` and is stored by `messages_store`, whatever it
came from: a staff send over the chat socket (through comms.batching, which only queues, answers
and publishes), over the REST API, or as a file upload; a customer's web-chat send; an inbound
message of a channel integration; a message Keepline itself writes into a conversation (system);
the demo seed. For each draft `messages_store`:

1. checks that the author may write here (the write rule `comms.permissions.write_q`, compiled;
   a usable customer link; the socket's session binding) and that this client_id is new for
   this author, and moves the conversation's last message time, which also locks the row: a
   lone draft in ONE conditional UPDATE (`_stamp`); a batch of several in three statements
   whatever its size (lock in id order, one verdict SELECT, one UPDATE; see `_stamp_batch`);
2. inserts every stored row in one statement, and the files of uploads;
3. appends the audit events in one statement (comms.message.sent / .received / .posted, and
   comms.attachment.uploaded);
4. queues the events to publish after commit on the project's event bus (config.events):
   `message.created` per viewer kind, `inbox.changed`, then the notifications. The messages are
   presented (dicts, body_html, encoded frames) by the commit hooks, not inside the transaction.

Notifications (accounts.notifications): a staff message notifies the people it @mentions and,
in an internal conversation, every other member. Outside a recipient's working hours it is held
until their next working start (a row written in the same transaction) unless the sender marked
the message urgent (audited: comms.message.marked_urgent); the SendResult says who waits until
when (`held`), so the sender is told "will be delivered at ...".

A refusal is the ServiceError of that draft only; a repeated client_id answers the stored message.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, OperationalError, connections, router, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

import audit
from accounts import notifications
from accounts import permissions as account_permissions
from accounts.models import User
from comms import (
    assignee_routing,
    channel_registry,
    errors,
    outbound_checks,
    permissions,
    presenters,
    realtime,
)
from comms.models import Attachment, Conversation, CustomerLink, Message, Participant
from comms.services.conversations import join
from comms.services.fanout import broadcast_created, conversation_updated
from comms.services.inputs import clean_body, clean_client_id, clean_id, sha256_text
from comms.services.push import message_push_on_commit
from comms.services.sequence import SEQ_RETURNING, customer_sees, seq_set_sql
from config.bulk import ids_in
from crm import permissions as crm_permissions

MENTION_RE = re.compile(r"(?<![\w@])@([\w.@+-]{1,150})")
Direction = Message.Direction

# Where a draft comes from: who wrote it and what authorises the write.
STAFF = "staff"  # a signed-in person: the conversation write rule
CUSTOMER = "customer"  # web chat: a usable customer link
CHANNEL = "channel"  # WhatsApp/SMS/email inbound: the caller authenticated the channel
SYSTEM = "system"  # Keepline's own words (reassignment notices, the demo seed)
CHANNEL_KINDS = (Conversation.Kind.WHATSAPP, Conversation.Kind.SMS, Conversation.Kind.EMAIL)


@dataclass
class SendResult:
    """A stored message, whether this call created it (False: the client_id was seen before),
    and (`data`) its <message> dict in the form for those who see everything.

    `data` is presented when first read, or by the broadcast after commit, never inside the
    storing transaction: the database thread of a daphne process holds its row locks for the
    statements only."""

    message: Message
    created: bool
    attachments: list | None = field(default=None, repr=False)  # known for a new message
    presented: dict | None = field(default=None, repr=False)
    # New staff message: the people whose notification waits for their working start, with
    # when (soonest first); those reached now although off work because it was urgent.
    held: list = field(default_factory=list, repr=False)
    woke: list = field(default_factory=list, repr=False)

    @property
    def tells_delivery(self) -> bool:
        """A new message the sender is told about: a notification waits, or it was urgent."""
        return self.created and bool(self.held or self.message.urgent)

    def delivery(self, zone=None) -> dict:
        """What the sender is told about the notifications of their message: `deliver_at`, the
        latest time one waits until (null: everyone is told now), in `zone` (the sender's time
        zone) when given, and per person."""

        def at(value):
            return (value.astimezone(zone) if zone is not None else value).isoformat()

        return {
            "urgent": self.message.urgent,
            "deliver_at": at(max(due for _u, due in self.held)) if self.held else None,
            "held": [
                {**presenters.user_actor(user), "deliver_at": at(due)} for user, due in self.held
            ],
        }

    @property
    def data(self) -> dict:
        if self.presented is None:
            self.presented = presenters.message_dict(
                self.message, presenters.EVERYTHING, attachments=self.attachments
            )
        return self.presented


@dataclass
class PendingFile:
    """A checked upload waiting to be stored with its message."""

    upload: Any
    name: str
    content_type: str
    size: int
    sha256: str


@dataclass
class MessageDraft:
    """One checked message waiting to be stored (see the module docstring for `source`)."""

    conversation: Conversation
    body: str
    client_id: uuid.UUID
    source: str = STAFF
    author: User | None = None
    note: bool = False
    link: CustomerLink | None = None
    external_id: str = ""
    reason: str = ""  # system messages: why Keepline wrote it (audited)
    file: PendingFile | None = None
    request: object = None
    # A socket's session and access_version (accounts.permissions.SocketBinding), checked in
    # the same statement as the write.
    binding: object = None
    # Staff sends in WhatsApp/SMS/email conversations: how the channel sends it (a template),
    # opaque to comms; handed to the channel registry's checks and outbound hook.
    channel_options: dict | None = None
    # The author saw the outbound checks' warning and sends anyway (comms.outbound_checks).
    confirmed: bool = False
    # Staff: notify now even those outside their working hours (audited).
    urgent: bool = False

    @property
    def contact(self):
        return self.link.contact if self.link is not None else self.conversation.contact

    def author_key(self) -> tuple:
        if self.source == STAFF:
            return ("author_user_id", self.author.pk)
        if self.source == SYSTEM:
            return ("direction", Direction.SYSTEM.value)
        return ("author_contact_id", self.contact.pk)

    def key(self) -> tuple:
        return (self.conversation.pk, *self.author_key(), self.client_id)


# --- drafts: the input checks a client hears at once ------------------------------------------


def staff_draft(
    *,
    author: User,
    conversation: Conversation,
    body,
    client_id,
    note=False,
    request=None,
    binding=None,
    file: PendingFile | None = None,
    channel_options: dict | None = None,
    confirm_dlp=False,
    urgent=False,
) -> MessageDraft:
    """A staff member's message or internal note (with an optional file). `confirm_dlp`: the
    author saw the outbound checks' warning and sends anyway; `urgent`: its notifications reach
    colleagues now even outside their working hours (audited)."""
    body = clean_body(body, allow_empty=file is not None)
    client_id = clean_client_id(client_id)
    if permissions.is_read_only(author):
        raise errors.Forbidden()
    if not isinstance(note, bool):
        raise errors.Invalid(_("note must be true or false."))
    if not isinstance(confirm_dlp, bool):
        raise errors.Invalid(_("confirm_dlp must be true or false."))
    if not isinstance(urgent, bool):
        raise errors.Invalid(_("urgent must be true or false."))
    return MessageDraft(
        conversation,
        body,
        client_id,
        source=STAFF,
        author=author,
        note=note,
        request=request,
        binding=binding,
        file=file,
        channel_options=channel_options,
        confirmed=confirm_dlp,
        urgent=urgent,
    )


def customer_draft(
    *, link: CustomerLink, body, client_id, request=None, file: PendingFile | None = None
) -> MessageDraft:
    """A customer's web-chat message (with an optional file), written through their link."""
    return MessageDraft(
        link.conversation,
        clean_body(body, allow_empty=file is not None),
        clean_client_id(client_id),
        source=CUSTOMER,
        link=link,
        request=request,
        file=file,
    )


def channel_draft(
    *,
    conversation: Conversation,
    body,
    client_id,
    external_id: str = "",
    file: PendingFile | None = None,
) -> MessageDraft:
    """An inbound message of a channel integration (the caller has authenticated the channel):
    author = the conversation's contact; `file`: a media item it carried (no uploader)."""
    if conversation.is_internal or conversation.contact_id is None:
        raise errors.Invalid(_("Internal conversations have no customer."))
    return MessageDraft(
        conversation,
        clean_body(body, allow_empty=file is not None),
        clean_client_id(client_id),
        source=CHANNEL,
        external_id=str(external_id or "")[:200],
        file=file,
    )


def system_draft(*, conversation: Conversation, body, client_id, reason: str) -> MessageDraft:
    """Keepline's own words in a conversation, e.g. "Ana took over from Bruno"."""
    return MessageDraft(
        conversation, clean_body(body), clean_client_id(client_id), source=SYSTEM, reason=reason
    )


# --- storing ---------------------------------------------------------------------------------


def _write_check(item: MessageDraft, now, alias: str) -> tuple[str, list] | None:
    """The subquery selecting the conversation's id when this draft's author may write to it."""
    if item.source == STAFF:
        check = permissions.write_check_sql(item.author, item.conversation.pk, alias)
        if check is not None and _to_customer(item):
            # In the same statement, so a restriction costs a send no query of its own.
            check = permissions.outreach_check_sql(check)
        return check
    if item.source == CUSTOMER:
        return permissions.link_check_sql(item.link.pk, item.conversation.pk, now, alias)
    return ("%s", [item.conversation.pk])  # channel or system: authorised by the caller


def _direction(item: MessageDraft) -> str:
    if item.source == SYSTEM:
        return Direction.SYSTEM
    if item.source != STAFF:
        return Direction.INBOUND
    return Direction.NOTE if item.note else Direction.OUTBOUND


def _stamp(item: MessageDraft, now, *, only_open: bool = False) -> tuple | None:
    """One conditional UPDATE: the author may write here, this author has not used this
    client_id here before, and the conversation's last message time and change numbers move
    (which also serialises concurrent sends to one conversation on PostgreSQL). The message's
    (seq, customer_seq) when it did, else None. `only_open`: and the conversation is open."""
    connection = connections[router.db_for_write(Message)]
    quote, adapt = connection.ops.quote_name, connection.ops.adapt_datetimefield_value
    conversations, messages = Conversation._meta.db_table, Message._meta.db_table
    check = _write_check(item, now, connection.alias)
    if check is None:
        return False
    condition = f"id IN ({check[0]})"
    params: list = [adapt(now), *check[1]]
    if item.binding is not None:
        bound_sql, bound_params = account_permissions.socket_binding_sql(item.binding, connection)
        condition += f" AND {bound_sql}"
        params += bound_params
    if only_open:
        condition += " AND status = %s"
        params.append(Conversation.Status.OPEN.value)
    author_column, author_value = item.author_key()
    client_id = Message._meta.get_field("client_id").get_db_prep_value(item.client_id, connection)
    params += [item.conversation.pk, author_value, client_id]
    customer = customer_sees(item.conversation, _direction(item))
    sql = (
        f"UPDATE {quote(conversations)} SET last_message_at = %s,"  # noqa: S608
        f" {seq_set_sql(quote, customer)} WHERE {condition}"
        f" AND NOT EXISTS (SELECT 1 FROM {quote(messages)} WHERE conversation_id = %s"
        f" AND {author_column} = %s AND client_id = %s) RETURNING {SEQ_RETURNING}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    return row[0], row[1] if customer else None


def _channel_send(item: MessageDraft) -> bool:
    """A staff message to the customer of a WhatsApp, SMS or email conversation."""
    return item.source == STAFF and not item.note and item.conversation.kind in CHANNEL_KINDS


def _channel_refusal(item: MessageDraft):
    """A staff send the channel refuses (no consent, no active account, WhatsApp's window
    closed): Invalid with the channel's words, or the stored message when this client_id was
    stored before (a resend answers it, whatever changed since). None: not refused."""
    options = {**(item.channel_options or {}), "file": item.file is not None}
    refusal = channel_registry.send_refusal(item.conversation, options)
    if not refusal:
        return None
    existing = _existing(item)
    if existing is not None and permissions.can_send(item.author, item.conversation):
        return _repeat(existing)
    if not permissions.can_send(item.author, item.conversation):
        return _refusal(item)
    return errors.Invalid(refusal, code="channel_refused")


def _to_customer(item: MessageDraft) -> bool:
    """A staff message the customer of the conversation receives (not a note)."""
    return item.source == STAFF and not item.note and not item.conversation.is_internal


def _existing(item: MessageDraft) -> Message | None:
    column, value = item.author_key()
    return (
        Message.objects.select_related("author_user", "author_contact")
        .filter(conversation_id=item.conversation.pk, client_id=item.client_id, **{column: value})
        .prefetch_related("attachments")
        .first()
    )


def _repeat(existing: Message) -> SendResult:
    return SendResult(existing, False)  # attachments prefetched: presented on first read


def _stored_or_refused(item: MessageDraft):
    """The lone stamp refused `item`: the SendResult of the message this client_id already stored
    (created=False), or the ServiceError refusing it."""
    conversation = item.conversation
    if item.binding is not None and not account_permissions.socket_binding_is_live(item.binding):
        return errors.AccessChanged()
    existing = _existing(item)
    if item.source == STAFF:
        if existing is not None and permissions.can_send(item.author, conversation):
            return _repeat(existing)
        return _refusal(item)
    if existing is None:
        return _refusal(item)
    if item.link is not None and not permissions.customer_can_use(item.link):
        return errors.Forbidden()
    return _repeat(existing)


def _new_message(item: MessageDraft, now, numbers: tuple, outcome=None) -> Message:
    common = {
        "conversation_id": item.conversation.pk,
        "body": item.body,
        "client_id": item.client_id,
        "created_at": now,
        "seq": numbers[0],
        "customer_seq": numbers[1],
    }
    if item.source == SYSTEM:
        return Message(**common, direction=Direction.SYSTEM, status=Message.Status.SENT)
    if item.source != STAFF:
        return Message(
            **common,
            author_contact=item.contact,
            direction=Direction.INBOUND,
            status=Message.Status.DELIVERED,
            delivered_at=now,
            external_id=item.external_id,
        )
    direction = Direction.NOTE if item.note else Direction.OUTBOUND
    queued = direction == Direction.OUTBOUND and item.conversation.kind in CHANNEL_KINDS
    return Message(
        **common,
        author_user=item.author,
        direction=direction,
        status=Message.Status.QUEUED if queued else Message.Status.SENT,
        sent_at=None if queued else now,
        customer_body=outcome.customer_body if outcome is not None else None,
        urgent=item.urgent,
    )


def _stored_events(item: MessageDraft, message: Message, attachment, woke=()) -> list[dict]:
    """The audit events of a stored message: comms.message.sent (staff), .received (customer,
    channel) or .posted (system); then comms.attachment.uploaded for its file; then
    comms.message.marked_urgent when the sender marked it urgent, naming whom it reached
    outside their working hours (`woke`)."""
    data = {
        "conversation": item.conversation.pk,
        "client_id": str(message.client_id),
        "length": len(message.body),
        "body_sha256": sha256_text(message.body),
    }
    if item.source == STAFF:
        actor, action = item.author, "comms.message.sent"
        data["direction"] = message.direction
    elif item.source == SYSTEM:
        actor, action = None, "comms.message.posted"
        data["reason"] = item.reason
    else:
        actor, action = item.contact, "comms.message.received"
        data["channel"] = item.conversation.kind
        if item.link is not None:
            data["link"] = item.link.pk
        elif item.external_id:
            data["external_id"] = item.external_id
    events = [
        {"actor": actor, "action": action, "target": message, "data": data, "request": item.request}
    ]
    if attachment is not None:
        events.append(
            {
                "actor": actor,
                "action": "comms.attachment.uploaded",
                "target": attachment,
                "data": {
                    "conversation": item.conversation.pk,
                    "message": message.pk,
                    "name": attachment.name,
                    "content_type": attachment.content_type,
                    "size": attachment.size,
                    "sha256": attachment.sha256,
                },
                "request": item.request,
            }
        )
    if message.urgent:
        events.append(
            {
                "actor": actor,
                "action": "comms.message.marked_urgent",
                "target": message,
                "data": {
                    "conversation": item.conversation.pk,
                    "outside_working_hours": sorted(user.pk for user in woke),
                },
                "request": item.request,
            }
        )
    return events


def _store_file(item: MessageDraft, message: Message, outcome=None) -> Attachment:
    pending = item.file
    attachment = Attachment(
        conversation_id=item.conversation.pk,
        message=message,
        name=pending.name,
        customer_name=outcome.customer_file_name if outcome is not None else None,
        content_type=pending.content_type,
        size=pending.size,
        sha256=pending.sha256,
        uploaded_by=item.author,
    )
    attachment.file.save(pending.name, pending.upload, save=False)
    attachment.save()
    return attachment


WAITING = (Conversation.Status.PENDING, Conversation.Status.CLOSED)


def _reopen_on_reply(inbound: list[MessageDraft], now) -> list[dict]:
    """A customer writing into a pending or closed conversation reopens it, as in any support
    inbox. Only for replies whose open-only stamp missed (their rows are locked by the stamp
    already), so a reply into an open conversation costs nothing more. Returns the audit events
    (comms.conversation.status_changed, actor the contact; see _reopened)."""
    if not inbound:
        return []
    contacts = {item.conversation.pk: item.contact for item in inbound}
    waiting = dict(
        Conversation.objects.filter(pk__in=contacts, status__in=WAITING).values_list("pk", "status")
    )
    if not waiting:
        return []
    Conversation.objects.filter(pk__in=waiting).update(status=Conversation.Status.OPEN)
    return _reopened(waiting, contacts, now)


def _reopened(waiting: dict, contacts: dict, now) -> list[dict]:
    """The conversations `waiting` (id -> the status they had) are open now: routed to whoever
    receives their owner's inbound at `now` (_route_revived), then their conversation.updated
    events, and their audit events with the replying contact as actor."""
    conversations = list(
        Conversation.objects.select_related(
            "contact", "deal", "company", "assignee", "team", "covering_for"
        ).filter(pk__in=waiting)
    )
    routed = _route_revived(conversations, now)
    events = []
    for conversation in conversations:
        conversation_updated(conversation)
        events.append(
            {
                "actor": contacts[conversation.pk],
                "action": "comms.conversation.status_changed",
                "target": conversation,
                "data": {
                    "from": waiting[conversation.pk],
                    "to": Conversation.Status.OPEN,
                    "reason": "customer_reply",
                },
            }
        )
    return events + routed


def _route_revived(conversations: list[Conversation], now) -> list[dict]:
    """Out-of-office cover: a revived conversation goes to whoever receives its owner's inbound
    now (comms.assignee_routing), the delegate marked covering_for the owner while they are
    away, the owner again once the cover is over. One query for all of them when nobody is
    away; writes only for those that move. The new assignee joins as agent and is notified
    after commit; a delegate the conversation leaves stops being an agent of it (the owner who
    is away never does: it is theirs). Returns the audit events (comms.conversation.assigned,
    actor Keepline, reason cover / cover_ended)."""
    owners = {c.pk: assignee_routing.owner_of(c) for c in conversations if not c.is_internal}
    routes = assignee_routing.route_assignees(owners.values(), now)
    moves = []
    for conversation in conversations:
        owner_id = owners.get(conversation.pk)
        if owner_id is None:
            continue
        route = routes[owner_id]
        if route != (conversation.assignee_id, conversation.covering_for_id):
            moves.append((conversation, *route))
    if not moves:
        return []
    people = User.objects.select_related("team").in_bulk(
        {pk for _c, *route in moves for pk in route if pk is not None}
    )
    events = []
    for conversation, assignee_id, covering_id in moves:
        old_id, was_covering = conversation.assignee_id, conversation.covering_for_id
        assignee = people[assignee_id]
        if not assignee.is_active:
            continue  # an owner who has left meanwhile: offboarding hands their book over
        conversation.assignee = assignee
        conversation.covering_for = people.get(covering_id) if covering_id else None
        conversation.team = assignee.team
        conversation.save(update_fields=["assignee", "covering_for", "team"])
        join(conversation, assignee, Participant.Role.AGENT, now)
        if was_covering is not None and old_id not in (None, assignee_id):
            Participant.objects.filter(
                conversation=conversation, user_id=old_id, role=Participant.Role.AGENT
            ).update(left_at=now)
            realtime.recheck_access_on_commit(conversation_ids=[conversation.pk], user_ids=[old_id])
        events.append(
            {
                "actor": None,
                "action": "comms.conversation.assigned",
                "target": conversation,
                "data": {
                    "from": old_id,
                    "to": assignee_id,
                    "covering_for": covering_id,
                    "reason": "cover" if covering_id else "cover_ended",
                },
            }
        )
        notifications.notify(
            assignee,
            {
                "type": "conversation.assigned",
                "conversation_id": conversation.pk,
                "by": presenters.system_actor(),
                "covering_for": presenters.user_actor(conversation.covering_for),
            },
            now=now,
        )
    return events


def _notifies(item: MessageDraft, message: Message) -> bool:
    return item.source == STAFF and (item.conversation.is_internal or "@" in message.body)


def _notices(items: list[MessageDraft], stored: list[tuple[int, Message]], now) -> dict:
    """{draft index: [accounts.notifications.Notice]} for the new staff messages `stored`
    ((index, message)): the active staff members it @mentions ("mention") and, in an internal
    conversation, every other active member ("message"), each now or held until their working
    start (urgent: now). One query for the whole batch (the members, with their working
    hours), none when no message notifies anyone."""
    wanted = [(i, message) for i, message in stored if _notifies(items[i], message)]
    if not wanted:
        return {}
    members: dict[int, list[User]] = {}
    rows = Participant.objects.filter(
        conversation_id__in=ids_in(Conversation, {items[i].conversation.pk for i, _m in wanted}),
        user__isnull=False,
        left_at__isnull=True,
        role__in=Participant.GRANTING,
        user__is_active=True,
    ).select_related("user")
    for participant in rows:
        members.setdefault(participant.conversation_id, []).append(participant.user)
    found = {}
    for i, message in wanted:
        item = items[i]
        names = set(MENTION_RE.findall(message.body)) if "@" in message.body else set()
        base = {
            "conversation_id": item.conversation.pk,
            "message_id": message.pk,
            "by": presenters.user_actor(item.author),
            "excerpt": message.body[:140],
        }
        recipients = []
        for user in members.get(item.conversation.pk, ()):
            if user.pk == item.author.pk:
                continue
            if user.username in names:
                recipients.append((user, {"type": "mention", **base}))
            elif item.conversation.is_internal:
                recipients.append((user, {"type": "message", **base, "urgent": message.urgent}))
        if recipients:
            found[i] = notifications.plan(recipients, urgent=item.urgent, now=now)
    return found


# --- a batch of two or more drafts: a constant number of statements ----------------------------
#
# A lone draft is stamped by one conditional UPDATE (`_stamp`), which checks and locks together.
# A batch would pay that round trip per draft, each one holding the row locks taken before it, so
# a batch of N drafts runs three statements whatever N (then the INSERT and the audit append):
#
# 1. `SELECT ... ORDER BY id FOR UPDATE` locks every conversation of the batch in id order (two
#    processes' batches never wait on each other in a cycle; the audit chain head is locked
#    last, by the append) and reads their current status.
# 2. ONE SELECT computes every draft's verdict: the write check of each distinct (author or
#    link, conversation), each distinct socket binding, and whether each client_id is stored.
#    It runs after the locks are held, and under READ COMMITTED each statement reads what was
#    committed when it starts: a revocation, a signed-out session or another process's send
#    of the same client_id that committed while this batch waited for a row is seen. (The lone
#    stamp checks at its statement's start, before it waits for the row: the batch is at least
#    as strict.) Whatever commits after the verdict has to wait for these row locks only if it
#    writes the same conversations, exactly as with the lone stamp.
# 3. ONE UPDATE moves last_message_at of the conversations with at least one accepted draft,
#    and reopens those a customer or channel reply arrived in while pending or closed. A
#    conversation whose drafts were all refused is locked until commit but left unchanged.
#
# The verdict statement is a UNION ALL of SELECTs (kind, number, value). On PostgreSQL the
# "client_id stored?" lookups are one term per author column over arrays (unnest), so a batch is
# one statement whatever its size (an offboarding posts 2,000 continuity messages at once).
# SQLite allows 500 terms to a compound SELECT and has no arrays: there every draft is a one-row
# term and drafts are judged VERDICT_CHUNK at a time (the batcher never sends more than
# comms.batching.MAX_BATCH = 100, one statement).

VERDICT_CHUNK = 100
_CHECK, _BINDING, _STORED = 0, 1, 2


def _verdicts(items: list[MessageDraft], order: list[int], keys: dict, connection):
    """{check key: allowed}, {binding: live}, {draft index: id of its stored message or None}
    for the drafts `order` (`keys`: their _check_key), in one statement (per VERDICT_CHUNK
    drafts)."""
    quote = connection.ops.quote_name
    messages = quote(Message._meta.db_table)
    checks: dict = {}
    bindings: dict = {}
    stored: dict = {}
    arrays = connection.vendor == "postgresql"
    chunk = max(len(order), 1) if arrays else VERDICT_CHUNK
    for start in range(0, len(order), chunk):
        terms: list[str] = []
        params: list = []
        numbers: dict = {}  # (kind, number) -> key
        lookups: dict = {}  # arrays: (author column, system value) -> [indexes, ids, values, ...]
        for i in order[start : start + chunk]:
            item = items[i]
            key = keys[i]
            if key is not None and key not in checks:
                checks[key] = False  # no row (a check that can never hold): refused
                if key[1] is not None:
                    numbers[(_CHECK, len(numbers))] = key
                    terms.append(
                        f"SELECT {_CHECK}, {len(numbers) - 1},"
                        f" CASE WHEN EXISTS ({key[1]}) THEN 1 ELSE 0 END"
                    )
                    params += key[2]
            if item.binding is not None and item.binding not in bindings:
                bindings[item.binding] = False
                sql, bound = account_permissions.socket_binding_sql(item.binding, connection)
                numbers[(_BINDING, len(numbers))] = item.binding
                terms.append(
                    f"SELECT {_BINDING}, {len(numbers) - 1}, CASE WHEN {sql} THEN 1 ELSE 0 END"
                )
                params += bound
            column, value = item.author_key()
            client_id = Message._meta.get_field("client_id").get_db_prep_value(
                item.client_id, connection
            )
            if arrays:
                # direction = 'system' stays a literal: the partial unique index matches it.
                group = (column, value if column == "direction" else None)
                rows = lookups.setdefault(group, ([], [], [], []))
                for column_values, v in zip(
                    rows, (i, item.conversation.pk, value, client_id), strict=True
                ):
                    column_values.append(v)
                continue
            terms.append(
                f"SELECT {_STORED}, {i}, (SELECT MIN(id) FROM {messages}"  # noqa: S608
                f" WHERE conversation_id = %s AND {column} = %s AND client_id = %s)"
            )
            params += [item.conversation.pk, value, client_id]
        for (column, system), (indexes, ids, values, client_ids) in lookups.items():
            author = "%s" if system is not None else "t.v"
            terms.append(
                f"SELECT {_STORED}, t.i, (SELECT MIN(id) FROM {messages}"  # noqa: S608
                f" WHERE conversation_id = t.c AND {column} = {author} AND client_id = t.k)"
                " FROM unnest(%s::integer[], %s::bigint[], %s::bigint[], %s::uuid[])"
                " AS t(i, c, v, k)"
            )
            if system is not None:
                params.append(system)
                values = [None] * len(values)
            params += [indexes, ids, values, client_ids]
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(terms), params)
            rows = cursor.fetchall()
        for kind, number, value in rows:
            if kind == _STORED:
                stored[number] = value
            elif kind == _CHECK:
                checks[numbers[(kind, number)]] = bool(value)
            else:
                bindings[numbers[(kind, number)]] = bool(value)
    return checks, bindings, stored


def _check_key(item: MessageDraft, now, alias: str) -> tuple | None:
    """(source, compiled check SQL, its params) of a staff or customer draft: drafts with the
    same check share one term of the verdict. None: channel and system drafts (authorised by
    the caller)."""
    if item.source not in (STAFF, CUSTOMER):
        return None
    check = _write_check(item, now, alias)
    if check is None:
        return (item.source, None, (item.author.pk,))
    return (item.source, check[0], tuple(check[1]))


def _stamp_batch(items: list[MessageDraft], order: list[int], now, results: list):
    """Lock, judge and stamp the drafts `order` (distinct sends, in conversation id order) as
    described above. Fills `results` with the refusals and the repeats; returns the indexes
    of the drafts to store and the conversations reopened (id -> the status they had)."""
    connection = connections[router.db_for_write(Message)]
    conversation_ids = sorted({items[i].conversation.pk for i in order})
    locked = (
        Conversation.objects.filter(pk__in=ids_in(Conversation, conversation_ids))
        .order_by("pk")
        .select_for_update()
        .values_list("pk", "status", "seq", "customer_seq")
    )
    status, counters = {}, {}
    for pk, state, seq, customer_seq in locked:
        status[pk], counters[pk] = state, [seq, customer_seq]
    keys = {i: _check_key(items[i], now, connection.alias) for i in order}
    checks, bindings, stored = _verdicts(items, order, keys, connection)
    fresh: list[int] = []
    repeats: dict[int, int] = {}
    reopen: dict = {}
    contacts: dict = {}
    for i in order:
        item = items[i]
        conversation_id = item.conversation.pk
        key = keys[i]
        allowed = conversation_id in status and (key is None or checks[key])
        if item.binding is not None and not bindings[item.binding]:
            results[i] = errors.AccessChanged()
        elif not allowed:
            results[i] = _refusal(item)
        elif stored.get(i) is not None:
            repeats[i] = stored[i]
        else:
            fresh.append(i)
            if item.source in (CUSTOMER, CHANNEL) and status[conversation_id] in WAITING:
                reopen[conversation_id] = status[conversation_id]
                contacts[conversation_id] = item.contact
    if repeats:
        found = (
            Message.objects.select_related("author_user", "author_contact")
            .prefetch_related("attachments")
            .in_bulk(repeats.values())
        )
        for i, message_id in repeats.items():
            results[i] = _repeat(found[message_id])
    numbers: dict[int, tuple] = {}
    for i in fresh:  # in conversation order, arrival order within one
        counter = counters[items[i].conversation.pk]
        counter[0] += 1
        customer = None
        if customer_sees(items[i].conversation, _direction(items[i])):
            counter[1] += 1
            customer = counter[1]
        numbers[i] = (counter[0], customer)
    moved = sorted({items[i].conversation.pk for i in fresh})
    if moved and connection.vendor == "postgresql":
        _stamp_arrays(connection, moved, counters, reopen, now)
    elif moved:
        changes: dict = {
            "last_message_at": now,
            "seq": Case(*(When(pk=pk, then=Value(counters[pk][0])) for pk in moved)),
            "customer_seq": Case(*(When(pk=pk, then=Value(counters[pk][1])) for pk in moved)),
        }
        if reopen:
            changes["status"] = Case(
                When(pk__in=sorted(reopen), then=Value(Conversation.Status.OPEN.value)),
                default=F("status"),
            )
        Conversation.objects.filter(pk__in=moved).update(**changes)
    return fresh, reopen, contacts, numbers


def _stamp_arrays(connection, moved: list[int], counters: dict, reopen: dict, now) -> None:
    """_stamp_batch's UPDATE on PostgreSQL: each conversation joined to its new numbers (one
    hash join) rather than a CASE of one WHEN per conversation, which every row walks (2,000
    conversations: 0.6 s, growing with the square)."""
    quote = connection.ops.quote_name
    table = quote(Conversation._meta.db_table)
    sql = (
        f"UPDATE {table} AS c SET last_message_at = %s, seq = v.seq,"  # noqa: S608
        " customer_seq = v.customer_seq,"
        " status = CASE WHEN v.reopen THEN %s ELSE c.status END"
        " FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::boolean[])"
        " AS v(id, seq, customer_seq, reopen) WHERE c.id = v.id"
    )
    params = [
        connection.ops.adapt_datetimefield_value(now),
        Conversation.Status.OPEN.value,
        moved,
        [counters[pk][0] for pk in moved],
        [counters[pk][1] for pk in moved],
        [pk in reopen for pk in moved],
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _refusal(item: MessageDraft):
    """The error refusing a draft whose author may not write here (see _stored_or_refused)."""
    if item.source == STAFF:
        if not permissions.can_view(item.author, item.conversation):
            return errors.NotFound()
        if _to_customer(item):
            refusal = crm_permissions.outreach_refusal(item.conversation.contact_id)
            if refusal:
                return errors.Invalid(refusal, code="processing_restricted")
        return errors.Forbidden()
    return errors.Forbidden() if item.source == CUSTOMER else errors.NotFound()


def _outgoing(item: MessageDraft) -> outbound_checks.Outgoing:
    return outbound_checks.Outgoing(
        conversation=item.conversation,
        author=item.author,
        body=item.body,
        file_name=item.file.name if item.file is not None else "",
        note=item.note,
        confirmed=item.confirmed,
    )


def _checked(items: list[MessageDraft], indexes: list[int]) -> dict:
    """{draft index: its outbound checks' Outcome} for the staff drafts among `indexes` that a
    check said something about, all checked at once."""
    staff = [i for i in indexes if items[i].source == STAFF]
    found = outbound_checks.outcomes([_outgoing(items[i]) for i in staff])
    return {i: outcome for i, outcome in zip(staff, found, strict=True) if outcome is not None}


def _check_refusal(item: MessageDraft, outcome) -> tuple:
    """(what answers the draft, audit events) for a draft the outbound checks refused: the
    stored message when this client_id was stored before (a resend), else the refusal with the
    checks' events (aimed at the conversation: nothing was stored)."""
    existing = _existing(item)
    if existing is not None and permissions.can_send(item.author, item.conversation):
        return _repeat(existing), []
    if not permissions.can_send(item.author, item.conversation):
        return _refusal(item), []
    return outcome.refusal, outbound_checks.events_for(outcome, item.conversation, item.request)


def _store_batch(items: list[MessageDraft]) -> list:
    now = timezone.now()
    results: list = [None] * len(items)
    first_of: dict = {}
    order: list[int] = []
    refused_events: list[dict] = []
    # Conversation rows are locked in id order, the audit chain head last, so two processes'
    # batches never wait on each other in a cycle. Within a conversation the order is arrival.
    for i in sorted(range(len(items)), key=lambda i: items[i].conversation.pk):
        key = items[i].key()
        if key in first_of:
            continue  # the same send twice in one batch: answered with the first, below
        first_of[key] = i
        # Refused before anything is written: nothing stored, stamped or audited for it.
        refused = _channel_refusal(items[i]) if _channel_send(items[i]) else None
        if refused is not None:
            results[i] = refused
            continue
        order.append(i)
    checked = _checked(items, order)
    for i in [i for i in order if i in checked and checked[i].refusal is not None]:
        results[i], events = _check_refusal(items[i], checked[i])
        refused_events += events
        order.remove(i)
    if not order:
        fresh, reopen_events, numbers = [], [], {}
    elif len(order) == 1:
        fresh, reopen_events, numbers = _stamp_alone(items[order[0]], order[0], now, results)
    else:
        fresh, reopen, contacts, numbers = _stamp_batch(items, order, now, results)
        reopen_events = _reopened(reopen, contacts, now) if reopen else []
    stored = Message.objects.bulk_create(
        [_new_message(items[i], now, numbers[i], checked.get(i)) for i in fresh]
    )
    files = {
        i: _store_file(items[i], message, checked.get(i))
        for i, message in zip(fresh, stored, strict=True)
        if items[i].file is not None
    }
    notices = _notices(items, list(zip(fresh, stored, strict=True)), now)
    events = [
        event
        for i, message in zip(fresh, stored, strict=True)
        for event in _stored_events(
            items[i], message, files.get(i), [n.user for n in notices.get(i, ()) if n.woke]
        )
    ]
    events += reopen_events
    said = [(i, message) for i, message in zip(fresh, stored, strict=True) if i in checked]
    for i, message in said:
        events += outbound_checks.events_for(checked[i], message, items[i].request)
    events += refused_events
    if events:
        audit.record_many(events, returning=False)
    if said:
        outbound_checks.after_stored([(message, checked[i]) for i, message in said])
    queued = [
        (message, items[i].conversation, items[i].channel_options or {})
        for i, message in zip(fresh, stored, strict=True)
        if message.status == Message.Status.QUEUED
    ]
    if queued:
        channel_registry.outbound_stored(queued)  # connectors: delivery rows, send on commit
    # After commit, in this order: each message.created, then the notifications it caused.
    for i, message in zip(fresh, stored, strict=True):
        result = results[i] = SendResult(message, True, [files[i]] if i in files else [])
        broadcast_created(
            items[i].conversation, message, result.attachments, lambda r=result: r.data
        )
    # A customer's new message: a Web Push to the installed app of its staff (when configured).
    message_push_on_commit(
        [m.pk for i, m in zip(fresh, stored, strict=True) if items[i].source in (CUSTOMER, CHANNEL)]
    )
    for i in fresh:
        if i in notices:
            notifications.dispatch(notices[i], now=now)
            results[i].held = sorted(
                ((n.user, n.due_at) for n in notices[i] if n.due_at is not None),
                key=lambda held: (held[1], held[0].pk),
            )
            results[i].woke = [n.user for n in notices[i] if n.woke]
    # A resend of a stored message publishes it again: the process that stored it may have died
    # after commit and before publishing. Members drop what they already hold (by id).
    for i in order:
        result = results[i]
        if isinstance(result, SendResult) and not result.created:
            broadcast_created(
                items[i].conversation, result.message, result.attachments, lambda r=result: r.data
            )
    for i, item in enumerate(items):
        if results[i] is None:
            first = results[first_of[item.key()]]
            results[i] = (
                first
                if isinstance(first, Exception)
                else SendResult(first.message, False, first.attachments, first.presented)
            )
    return results


def _stamp_alone(item: MessageDraft, i: int, now, results: list):
    """A lone draft: one conditional UPDATE checks, locks and stamps (3 statements in all on
    PostgreSQL with the INSERT and the audit append). Returns ([i] or [], reopen events,
    {i: its change numbers})."""
    if item.source in (CUSTOMER, CHANNEL):
        numbers = _stamp(item, now, only_open=True)
        if numbers:
            return [i], [], {i: numbers}  # a customer writing into an open conversation
        numbers = _stamp(item, now)
        if numbers:  # pending or closed: the reply reopens it
            return [i], _reopen_on_reply([item], now), {i: numbers}
    else:
        numbers = _stamp(item, now)
        if numbers:
            return [i], [], {i: numbers}
    results[i] = _stored_or_refused(item)
    return [], [], {}


def messages_store(items: list[MessageDraft]) -> list:
    """Store drafts in one transaction (one commit, one audit append statement on PostgreSQL,
    one INSERT for all rows) and queue their events for after commit. Each result is a
    SendResult (created=False when the author's client_id was stored before) or the
    ServiceError refusing that draft: one refusal never stops the others.

    A lone draft is one conditional UPDATE (permission, idempotency, last message time); two or
    more are three statements together (lock, verdict, stamp); then one INSERT and the audit
    append. Two processes racing on one client_id, or any other
    integrity or lock error, roll the batch back and run it once more, when the stored winner
    answers as a repeat."""
    if not items:
        return []
    try:
        with transaction.atomic():
            return _store_batch(items)
    except (IntegrityError, OperationalError):
        for item in items:
            if item.file is not None:
                item.file.upload.seek(0)
        with transaction.atomic():
            return _store_batch(items)


def message_store(item: MessageDraft) -> SendResult:
    """One draft: its SendResult, or its refusal raised."""
    result = messages_store([item])[0]
    if isinstance(result, Exception):
        raise result
    return result


# --- the named ways in: each builds a draft and stores it ---------------------------------------


def message_send(
    *,
    author: User,
    conversation: Conversation,
    body: str,
    client_id,
    note: bool = False,
    confirm_dlp=False,
    urgent: bool = False,
    request=None,
) -> SendResult:
    """Store a staff message (outbound, or an internal note) once per client_id; after commit,
    broadcast `message.created` (notes to staff only) and notify (see the module docstring;
    `urgent`: now, audited as comms.message.marked_urgent). A repeated client_id returns the
    stored message with created=False and broadcasts nothing. Audited (comms.message.sent). The
    outbound checks (comms.outbound_checks) may refuse it (`confirm_dlp`: send anyway past a
    warning) or give the customer a redacted copy.

    Normal path: 2 queries of its own (conditional stamp, insert) plus the audit append.
    """
    return message_store(
        staff_draft(
            author=author,
            conversation=conversation,
            body=body,
            client_id=client_id,
            note=note,
            urgent=urgent,
            request=request,
            confirm_dlp=confirm_dlp,
        )
    )


def message_receive(*, link: CustomerLink, body: str, client_id, request=None) -> SendResult:
    """Store a customer's web-chat message (inbound, author = the link's contact) once per
    client_id while the link is usable; broadcast after commit. Audited
    (comms.message.received, actor = the contact)."""
    return message_store(customer_draft(link=link, body=body, client_id=client_id, request=request))


def message_inbound_record(
    *,
    conversation: Conversation,
    body: str,
    client_id,
    external_id: str = "",
    file: PendingFile | None = None,
) -> SendResult:
    """An inbound message that arrived through a channel integration (WhatsApp, SMS, email):
    author = the conversation's contact; the caller has authenticated the channel. Same
    idempotency, audit and broadcast as a web-chat message; `file` is stored as its attachment
    (comms.attachment.uploaded, actor the contact)."""
    return message_store(
        channel_draft(
            conversation=conversation,
            body=body,
            client_id=client_id,
            external_id=external_id,
            file=file,
        )
    )


def message_post_system(
    *, conversation: Conversation, body: str, client_id, reason: str
) -> SendResult:
    """Keepline writes into a conversation (no author): shown to staff and customer alike,
    audited as comms.message.posted with the reason."""
    return message_store(
        system_draft(conversation=conversation, body=body, client_id=client_id, reason=reason)
    )


def message_in(conversation: Conversation, message_id, *, lock: bool = False) -> Message:
    qs = Message.objects.filter(pk=clean_id(message_id), conversation_id=conversation.pk)
    if lock:
        qs = qs.select_for_update(of=("self",))
    message = qs.select_related("author_user", "author_contact").first()
    if message is None:
        raise errors.NotFound()
    return message

"""Every write of conversations: messages, edits, retractions, reads, assignment, status, customer
links, membership and attachments.

Each service checks permission (`comms.permissions`), writes, records the audit event as its last
write, and queues its broadcasts with `comms.realtime.broadcast_on_commit` so nobody hears of what
was rolled back. Refusals raise `comms.errors.CommsError` subclasses carrying the protocol's code.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, OperationalError, connections, router, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

import audit
from accounts import permissions as account_permissions
from accounts import realtime as account_realtime
from accounts.models import User
from comms import errors, permissions, presenters, realtime
from comms.models import (
    Attachment,
    Conversation,
    CustomerLink,
    Message,
    MessageRevision,
    Participant,
)
from config.events import send_event_on_commit
from config.ids import MAX_ID
from crm import permissions as crm_permissions

LINK_SALT = "comms.customer-link"
MENTION_RE = re.compile(r"(?<![\w@])@([\w.@+-]{1,150})")
Direction = Message.Direction


@dataclass
class SendResult:
    """A stored message, whether this call created it (False: the client_id was seen before),
    and its privileged <message> dict."""

    message: Message
    created: bool
    data: dict = field(default_factory=dict)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- input checks -------------------------------------------------------------------------------


def clean_body(body, *, allow_empty: bool = False) -> str:
    if not isinstance(body, str):
        raise errors.Invalid(_("The message text is missing."))
    if len(body) > settings.COMMS_MAX_BODY:
        raise errors.TooLong()
    if "\x00" in body:
        raise errors.Invalid(_("The message contains characters that cannot be stored."))
    if not body.strip() and not allow_empty:
        raise errors.Invalid(_("Write something before sending."))
    return body


def clean_client_id(value) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        raise errors.Invalid(_("client_id must be a UUID.")) from None


def clean_id(value, what: str = "message_id") -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise errors.Invalid(_("%(field)s must be a number.") % {"field": what})
    try:
        number = int(value)
    except ValueError:
        raise errors.Invalid(_("%(field)s must be a number.") % {"field": what}) from None
    if number < 0 or number > MAX_ID:
        raise errors.Invalid(_("%(field)s must be a number.") % {"field": what})
    return number


# --- broadcasting -------------------------------------------------------------------------------


def _broadcast_message(kind: str, conversation: Conversation, data: dict) -> None:
    """`data` is the privileged <message>; the event carries its frames already encoded per
    viewer kind (privileged, staff). Customers get their own form (never notes)."""
    send_event_on_commit(
        realtime.staff_group(conversation.pk),
        {"type": kind, "frames": presenters.message_frames(kind, data)},
    )


def _broadcast_customer(kind: str, conversation: Conversation, message: Message, attachments):
    if conversation.is_internal or message.direction == Direction.NOTE:
        return
    data = presenters.message_dict(message, presenters.CUSTOMER, attachments=attachments)
    send_event_on_commit(
        realtime.customer_group(conversation.pk),
        {"type": kind, "frame": presenters.encode({"type": kind, "message": data})},
    )


def _broadcast_created(conversation: Conversation, message: Message, attachments) -> dict:
    data = presenters.message_dict(message, presenters.PRIVILEGED, attachments=attachments)
    _broadcast_message("message.created", conversation, data)
    _broadcast_customer("message.created", conversation, message, attachments)
    realtime.inbox_changed_on_commit(conversation.pk)
    return data


def _conversation_updated(conversation: Conversation) -> None:
    realtime.inbox_changed_on_commit(conversation.pk)
    send_event_on_commit(
        realtime.staff_group(conversation.pk),
        {
            "type": "conversation.updated",
            "conversation": presenters.conversation_dict(conversation),
        },
    )


# --- conversations ------------------------------------------------------------------------------


@transaction.atomic
def conversation_start(
    *,
    actor: User,
    contact,
    deal=None,
    kind: str = Conversation.Kind.WEB,
    subject: str = "",
    request=None,
) -> Conversation:
    """Open a customer conversation assigned to the actor. Audited (comms.conversation.created)."""
    if permissions.is_read_only(actor) or not crm_permissions.can_view(actor, contact):
        raise errors.Forbidden()
    if deal is not None and not crm_permissions.can_view(actor, deal):
        raise errors.Forbidden()
    if kind not in Conversation.Kind.values or kind == Conversation.Kind.INTERNAL:
        raise errors.Invalid(_("Choose the channel of the conversation."))
    now = timezone.now()
    conversation = Conversation.objects.create(
        kind=kind,
        contact=contact,
        deal=deal,
        company_id=contact.company_id or (deal.company_id if deal else None),
        assignee=actor,
        team_id=actor.team_id,
        subject=(subject or "")[:200],
        created_by=actor,
        created_at=now,
        last_message_at=now,
    )
    Participant.objects.bulk_create(
        [
            Participant(conversation=conversation, user=actor, role=Participant.Role.AGENT),
            Participant(conversation=conversation, contact=contact, role=Participant.Role.CUSTOMER),
        ]
    )
    audit.record(
        actor=actor,
        action="comms.conversation.created",
        target=conversation,
        data={"kind": kind, "contact": contact.pk, "deal": deal.pk if deal else None},
        request=request,
    )
    return conversation


@transaction.atomic
def internal_conversation_create(
    *, actor: User, subject: str, members=(), request=None
) -> Conversation:
    """A staff-only conversation owned by the actor, with members. Audited."""
    if permissions.is_read_only(actor) or not actor.is_active:
        raise errors.Forbidden()
    now = timezone.now()
    conversation = Conversation.objects.create(
        kind=Conversation.Kind.INTERNAL,
        assignee=actor,
        team_id=actor.team_id,
        subject=(subject or "")[:200],
        created_by=actor,
        created_at=now,
        last_message_at=now,
    )
    people = {m.pk: m for m in members if m.is_active and m.pk != actor.pk}
    Participant.objects.bulk_create(
        [Participant(conversation=conversation, user=actor, role=Participant.Role.OWNER)]
        + [
            Participant(conversation=conversation, user=m, role=Participant.Role.MEMBER)
            for m in people.values()
        ]
    )
    audit.record(
        actor=actor,
        action="comms.conversation.created",
        target=conversation,
        data={"kind": "internal", "members": sorted(people)},
        request=request,
    )
    return conversation


def _locked(conversation: Conversation) -> Conversation:
    locked = (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("contact", "deal", "company", "assignee", "team")
        .filter(pk=conversation.pk)
        .first()
    )
    if locked is None:
        raise errors.NotFound()
    return locked


@transaction.atomic
def conversation_assign(
    *, actor: User, conversation: Conversation, assignee: User | None, request=None
) -> Conversation:
    """Assign or transfer. The previous assignee stops being an agent of it, and their open
    sockets re-check access after commit. Audited (comms.conversation.assigned)."""
    conversation = _locked(conversation)
    if not permissions.can_view(actor, conversation):
        raise errors.NotFound()
    if not permissions.can_assign(actor, conversation):
        raise errors.Forbidden()
    if assignee is not None and (not assignee.is_active or permissions.is_read_only(assignee)):
        raise errors.Invalid(_("This person cannot take conversations."))
    old_id = conversation.assignee_id
    new_id = assignee.pk if assignee else None
    if old_id == new_id:
        return conversation
    now = timezone.now()
    conversation.assignee = assignee
    if assignee is not None:
        conversation.team_id = assignee.team_id
    conversation.save(update_fields=["assignee", "team"])
    if assignee is not None:
        _join(conversation, assignee, Participant.Role.AGENT, now)
    if old_id is not None:
        Participant.objects.filter(
            conversation=conversation, user_id=old_id, role=Participant.Role.AGENT
        ).update(left_at=now)
        realtime.recheck_access_on_commit(conversation_ids=[conversation.pk], user_ids=[old_id])
    audit.record(
        actor=actor,
        action="comms.conversation.assigned",
        target=conversation,
        data={"from": old_id, "to": new_id},
        request=request,
    )
    _conversation_updated(conversation)
    if assignee is not None and assignee.pk != actor.pk:
        account_realtime.notify_user_on_commit(
            assignee.pk,
            {
                "type": "conversation.assigned",
                "conversation_id": conversation.pk,
                "by": presenters.user_actor(actor),
            },
        )
    return conversation


def _join(conversation, user, role, now) -> None:
    updated = Participant.objects.filter(conversation=conversation, user=user).update(
        role=role, left_at=None
    )
    if not updated:
        Participant.objects.create(conversation=conversation, user=user, role=role, joined_at=now)


@transaction.atomic
def conversation_set_status(
    *, actor: User, conversation: Conversation, status: str, request=None
) -> Conversation:
    """Open, pend, close or reopen. Audited (comms.conversation.status_changed)."""
    if status not in Conversation.Status.values:
        raise errors.Invalid(_("Unknown status."))
    conversation = _locked(conversation)
    if not permissions.can_view(actor, conversation):
        raise errors.NotFound()
    if not permissions.can_set_status(actor, conversation):
        raise errors.Forbidden()
    old = conversation.status
    if old == status:
        return conversation
    conversation.status = status
    conversation.save(update_fields=["status"])
    audit.record(
        actor=actor,
        action="comms.conversation.status_changed",
        target=conversation,
        data={"from": old, "to": status},
        request=request,
    )
    _conversation_updated(conversation)
    return conversation


# --- messages -----------------------------------------------------------------------------------


def _notify_mentions(conversation: Conversation, message: Message, author: User) -> None:
    """@username of an active staff participant: a notification on their user.<id> group."""
    names = set(MENTION_RE.findall(message.body))
    if not names:
        return
    mentioned = (
        Participant.objects.filter(
            conversation_id=conversation.pk,
            user__username__in=names,
            left_at__isnull=True,
            role__in=Participant.GRANTING,
            user__is_active=True,
        )
        .exclude(user_id=author.pk)
        .values_list("user_id", flat=True)
    )
    for user_id in mentioned:
        account_realtime.notify_user_on_commit(
            user_id,
            {
                "type": "mention",
                "conversation_id": conversation.pk,
                "message_id": message.pk,
                "by": presenters.user_actor(author),
                "excerpt": message.body[:140],
            },
        )


def _existing(conversation_id: int, client_id, *, user_id=None, contact_id=None):
    qs = Message.objects.select_related("author_user", "author_contact").filter(
        conversation_id=conversation_id, client_id=client_id
    )
    if user_id is not None:
        qs = qs.filter(author_user_id=user_id)
    else:
        qs = qs.filter(author_contact_id=contact_id)
    return qs.prefetch_related("attachments").first()


@dataclass
class Outgoing:
    """One checked message waiting to be stored: a staff send (`author`), a customer's web-chat
    send (`link`), or an inbound message of a channel integration (neither: the caller has
    authenticated the channel; the author is the conversation's contact)."""

    conversation: Conversation
    body: str
    client_id: uuid.UUID
    author: User | None = None
    note: bool = False
    link: CustomerLink | None = None
    external_id: str = ""
    request: object = None
    # A socket's session and access_version (accounts.permissions.SocketBinding), checked in
    # the same statement as the write.
    binding: object = None

    @property
    def contact(self):
        return self.link.contact if self.link is not None else self.conversation.contact

    def key(self) -> tuple:
        if self.author is not None:
            return (self.conversation.pk, "user", self.author.pk, self.client_id)
        return (self.conversation.pk, "contact", self.contact.pk, self.client_id)


def outgoing_staff(
    *,
    author: User,
    conversation: Conversation,
    body,
    client_id,
    note=False,
    request=None,
    binding=None,
) -> Outgoing:
    """Check a staff send's input (the errors a client gets at once) before it is stored."""
    body = clean_body(body)
    client_id = clean_client_id(client_id)
    if permissions.is_read_only(author):
        raise errors.Forbidden()
    if not isinstance(note, bool):
        raise errors.Invalid(_("note must be true or false."))
    return Outgoing(
        conversation,
        body,
        client_id,
        author=author,
        note=note,
        request=request,
        binding=binding,
    )


def outgoing_customer(*, link: CustomerLink, body, client_id, request=None) -> Outgoing:
    return Outgoing(
        link.conversation, clean_body(body), clean_client_id(client_id), link=link, request=request
    )


def _stamp(item: Outgoing, now, *, only_open: bool = False) -> bool:
    """One conditional UPDATE: the sender may write here (the conversation policy for staff, a
    usable link for a customer), this author has not used this client_id here before, and the
    conversation's last message time moves (which also serialises concurrent sends to one
    conversation on PostgreSQL). True when it did. `only_open`: and the conversation is open."""
    connection = connections[router.db_for_write(Message)]
    quote, adapt = connection.ops.quote_name, connection.ops.adapt_datetimefield_value
    conversations, messages = Conversation._meta.db_table, Message._meta.db_table
    if item.author is not None:
        check = permissions.write_check_sql(item.author, item.conversation.pk, connection.alias)
        author_column, author_id = "author_user_id", item.author.pk
    else:
        if item.link is not None:
            check = permissions.link_check_sql(
                item.link.pk, item.conversation.pk, now, connection.alias
            )
        else:  # a channel integration the caller has authenticated
            check = ("%s", [item.conversation.pk])
        author_column, author_id = "author_contact_id", item.contact.pk
    if check is None:
        return False
    condition = f"id IN ({check[0]})"
    params: list = [adapt(now), *check[1]]
    if item.binding is not None:
        bound_sql, bound_params = account_permissions.socket_binding_sql(item.binding, connection)
        condition += f" AND {bound_sql}"
        params += bound_params
    client_id = Message._meta.get_field("client_id").get_db_prep_value(item.client_id, connection)
    params += [item.conversation.pk, author_id, client_id]
    if only_open:
        condition += " AND status = %s"
        params.insert(-3, Conversation.Status.OPEN.value)
    sql = (
        f"UPDATE {quote(conversations)} SET last_message_at = %s WHERE {condition}"  # noqa: S608
        f" AND NOT EXISTS (SELECT 1 FROM {quote(messages)} WHERE conversation_id = %s"
        f" AND {author_column} = %s AND client_id = %s)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount > 0


def _stored_or_refused(item: Outgoing):
    """The stamp refused `item`: the SendResult of the message this client_id already stored
    (created=False), or the CommsError refusing it."""
    conversation = item.conversation
    if item.binding is not None and not account_permissions.socket_binding_is_live(item.binding):
        return errors.AccessChanged()
    if item.author is not None:
        existing = _existing(conversation.pk, item.client_id, user_id=item.author.pk)
        if existing is not None and permissions.can_send(item.author, conversation):
            return SendResult(
                existing, False, presenters.message_dict(existing, presenters.PRIVILEGED)
            )
        if not permissions.can_view(item.author, conversation):
            return errors.NotFound()
        return errors.Forbidden()
    existing = _existing(conversation.pk, item.client_id, contact_id=item.contact.pk)
    if existing is None:
        return errors.Forbidden()
    if item.link is not None and not permissions.customer_can_use(item.link):
        return errors.Forbidden()
    return SendResult(existing, False, presenters.message_dict(existing, presenters.PRIVILEGED))


def _new_message(item: Outgoing, now) -> Message:
    if item.author is None:
        return Message(
            conversation_id=item.conversation.pk,
            author_contact=item.contact,
            direction=Direction.INBOUND,
            body=item.body,
            client_id=item.client_id,
            created_at=now,
            status=Message.Status.DELIVERED,
            delivered_at=now,
            external_id=item.external_id,
        )
    direction = Direction.NOTE if item.note else Direction.OUTBOUND
    queued = direction == Direction.OUTBOUND and item.conversation.kind in (
        Conversation.Kind.WHATSAPP,
        Conversation.Kind.SMS,
        Conversation.Kind.EMAIL,
    )
    return Message(
        conversation_id=item.conversation.pk,
        author_user=item.author,
        direction=direction,
        body=item.body,
        client_id=item.client_id,
        created_at=now,
        status=Message.Status.QUEUED if queued else Message.Status.SENT,
        sent_at=None if queued else now,
    )


def _stored_event(item: Outgoing, message: Message) -> dict:
    """The audit event of a stored message: comms.message.sent (staff) or .received."""
    data = {
        "conversation": item.conversation.pk,
        "client_id": str(message.client_id),
        "length": len(message.body),
        "body_sha256": sha256_text(message.body),
    }
    if item.author is not None:
        actor, action = item.author, "comms.message.sent"
        data["direction"] = message.direction
    else:
        actor, action = item.contact, "comms.message.received"
        data["channel"] = item.conversation.kind
        if item.link is not None:
            data["link"] = item.link.pk
        elif item.external_id:
            data["external_id"] = item.external_id
    return {
        "actor": actor,
        "action": action,
        "target": message,
        "data": data,
        "request": item.request,
    }


WAITING = (Conversation.Status.PENDING, Conversation.Status.CLOSED)


def _reopen_on_reply(inbound: list[Outgoing]) -> list[dict]:
    """A customer writing into a pending or closed conversation reopens it, as in any support
    inbox. Only for replies whose open-only stamp missed (their rows are locked by the stamp
    already), so a reply into an open conversation costs nothing more. Returns the audit events
    (comms.conversation.status_changed, actor the contact)."""
    if not inbound:
        return []
    contacts = {item.conversation.pk: item.contact for item in inbound}
    waiting = dict(
        Conversation.objects.filter(pk__in=contacts, status__in=WAITING).values_list("pk", "status")
    )
    if not waiting:
        return []
    Conversation.objects.filter(pk__in=waiting).update(status=Conversation.Status.OPEN)
    events = []
    for conversation in Conversation.objects.select_related(
        "contact", "deal", "company", "assignee", "team"
    ).filter(pk__in=waiting):
        _conversation_updated(conversation)
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
    return events


def _store_one(item: Outgoing, now) -> SendResult | errors.CommsError:
    """Inside the caller's transaction: the stamp, then the row (no audit, no broadcast)."""
    if not _stamp(item, now):
        return _stored_or_refused(item)
    message = _new_message(item, now)
    message.save(force_insert=True)
    return SendResult(message, True)


def _store_batch(items: list[Outgoing]) -> list:
    now = timezone.now()
    results: list = [None] * len(items)
    first_of: dict = {}
    fresh: list[int] = []
    waiting: list[Outgoing] = []
    # Conversation rows are locked in id order, the audit chain head last, so two processes'
    # batches never wait on each other in a cycle. Within a conversation the order is arrival.
    for i in sorted(range(len(items)), key=lambda i: items[i].conversation.pk):
        key = items[i].key()
        if key in first_of:
            continue  # the same send twice in one batch: answered with the first, below
        first_of[key] = i
        if items[i].author is None and _stamp(items[i], now, only_open=True):
            fresh.append(i)  # a customer writing into an open conversation: the usual case
        elif _stamp(items[i], now):
            fresh.append(i)
            if items[i].author is None:
                waiting.append(items[i])  # pending or closed: the reply reopens it, below
        else:
            results[i] = _stored_or_refused(items[i])
    stored = Message.objects.bulk_create([_new_message(items[i], now) for i in fresh])
    for i, message in zip(fresh, stored, strict=True):
        if items[i].author is not None and "@" in message.body:
            _notify_mentions(items[i].conversation, message, items[i].author)
    events = [_stored_event(items[i], m) for i, m in zip(fresh, stored, strict=True)]
    events += _reopen_on_reply(waiting)
    audit.record_many(events)
    for i, message in zip(fresh, stored, strict=True):
        results[i] = SendResult(
            message, True, _broadcast_created(items[i].conversation, message, [])
        )
    for i, item in enumerate(items):
        if results[i] is None:
            first = results[first_of[item.key()]]
            results[i] = (
                first
                if isinstance(first, Exception)
                else SendResult(first.message, False, first.data)
            )
    return results


def messages_store(items: list[Outgoing]) -> list:
    """Store a batch of checked messages in one transaction (one commit, one audit append
    statement on PostgreSQL, one INSERT for all rows) and queue their broadcasts for after
    commit. Each result is a SendResult (created=False when the author's client_id was stored
    before) or the CommsError refusing that item: one refusal never stops the others.

    Per send that is one conditional UPDATE (permission, idempotency, last message time); per
    batch one INSERT and the audit append. Two processes racing on one client_id, or any other
    integrity or lock error, roll the batch back and run it once more, when the stored winner
    answers as a repeat."""
    if not items:
        return []
    try:
        with transaction.atomic():
            return _store_batch(items)
    except (IntegrityError, OperationalError):
        with transaction.atomic():
            return _store_batch(items)


def _one(results: list) -> SendResult:
    if isinstance(results[0], Exception):
        raise results[0]
    return results[0]


def message_send(
    *,
    author: User,
    conversation: Conversation,
    body: str,
    client_id,
    note: bool = False,
    request=None,
) -> SendResult:
    """Store a staff message (outbound, or an internal note) once per client_id; after commit,
    broadcast `message.created` (notes to staff only). A repeated client_id returns the stored
    message with created=False and broadcasts nothing. Audited (comms.message.sent).

    Normal path: 2 queries of its own (conditional stamp, insert) plus the audit append.
    """
    item = outgoing_staff(
        author=author,
        conversation=conversation,
        body=body,
        client_id=client_id,
        note=bool(note),
        request=request,
    )
    return _one(messages_store([item]))


def message_receive(*, link: CustomerLink, body: str, client_id) -> SendResult:
    """Store a customer's web-chat message (inbound, author = the link's contact) once per
    client_id while the link is usable; broadcast after commit. Audited
    (comms.message.received, actor = the contact)."""
    return _one(messages_store([outgoing_customer(link=link, body=body, client_id=client_id)]))


def message_inbound_record(
    *, conversation: Conversation, body: str, client_id, external_id: str = ""
) -> SendResult:
    """An inbound message that arrived through a channel integration (WhatsApp, SMS, email, or
    the demo seed): author = the conversation's contact; the caller has authenticated the
    channel. Same idempotency, audit and broadcast as a web-chat message."""
    if conversation.is_internal or conversation.contact_id is None:
        raise errors.Invalid(_("Internal conversations have no customer."))
    item = Outgoing(
        conversation, clean_body(body), clean_client_id(client_id), external_id=external_id
    )
    return _one(messages_store([item]))


def _message_in(conversation: Conversation, message_id, *, lock: bool = False) -> Message:
    qs = Message.objects.filter(pk=clean_id(message_id), conversation_id=conversation.pk)
    if lock:
        qs = qs.select_for_update(of=("self",))
    message = qs.select_related("author_user", "author_contact").first()
    if message is None:
        raise errors.NotFound()
    return message


@transaction.atomic
def message_edit(
    *, editor: User, conversation: Conversation, message_id, body: str, request=None
) -> Message:
    """Replace the body of one's own outbound message or note within the edit window, keeping
    the previous body as a MessageRevision. Audited (comms.message.edited, with the previous
    body's SHA-256, never the body). Broadcasts `message.updated` after commit."""
    body = clean_body(body)
    message = _message_in(conversation, message_id, lock=True)
    if not permissions.can_view(editor, conversation):
        raise errors.NotFound()
    refusal = permissions.edit_refusal(editor, message)
    if refusal:
        raise errors.refusal(refusal)
    if body == message.body:
        return message
    now = timezone.now()
    previous = message.body
    MessageRevision.objects.create(message=message, body=previous, editor=editor, edited_at=now)
    message.body = body
    message.edited_at = now
    message.save(update_fields=["body", "edited_at"])
    audit.record(
        actor=editor,
        action="comms.message.edited",
        target=message,
        data={
            "conversation": conversation.pk,
            "previous_sha256": sha256_text(previous),
            "body_sha256": sha256_text(body),
        },
        request=request,
    )
    attachments = list(message.attachments.all())
    data = presenters.message_dict(message, presenters.PRIVILEGED, attachments=attachments)
    _broadcast_message("message.updated", conversation, data)
    _broadcast_customer("message.updated", conversation, message, attachments)
    return message


@transaction.atomic
def message_retract(
    *, actor: User, conversation: Conversation, message_id, request=None
) -> Message:
    """ "Delete" a message: it stays stored; staff see "message retracted", the customer no
    longer sees it, compliance and admin keep the original. Audited (comms.message.retracted)."""
    message = _message_in(conversation, message_id, lock=True)
    if not permissions.can_view(actor, conversation):
        raise errors.NotFound()
    refusal = permissions.retract_refusal(actor, message)
    if refusal:
        raise errors.refusal(refusal)
    now = timezone.now()
    message.retracted = True
    message.retracted_at = now
    message.retracted_by = actor
    message.save(update_fields=["retracted", "retracted_at", "retracted_by"])
    audit.record(
        actor=actor,
        action="comms.message.retracted",
        target=message,
        data={"conversation": conversation.pk, "body_sha256": sha256_text(message.body)},
        request=request,
    )
    attachments = list(message.attachments.all())
    data = presenters.message_dict(message, presenters.PRIVILEGED, attachments=attachments)
    _broadcast_message("message.retracted", conversation, data)
    _broadcast_customer("message.retracted", conversation, message, [])
    return message


def revisions_for(*, viewer: User, conversation: Conversation, message_id) -> list:
    """Every earlier body of a message: compliance and admin only."""
    if not permissions.sees_originals(viewer):
        raise errors.Forbidden()
    message = _message_in(conversation, message_id)
    return list(message.revisions.select_related("editor").order_by("id"))


@transaction.atomic
def conversation_mark_read(
    *, user: User, conversation: Conversation, message_id, broadcast_to_customer=None
) -> int:
    """Everything up to and including message_id is read by `user`. Not audited (a read is not a
    change of record). Broadcasts `read` to staff, and to the customer when the reader is the
    assignee. A read-only viewer (compliance) reads silently: only their own unread count moves,
    nobody is told, and it never counts as the customer's or the team's read."""
    message_id = clean_id(message_id)
    if not permissions.can_view(user, conversation):
        raise errors.NotFound()
    if not Message.objects.filter(pk=message_id, conversation_id=conversation.pk).exists():
        raise errors.NotFound()
    silent = permissions.is_read_only(user)
    updated = Participant.objects.filter(conversation_id=conversation.pk, user_id=user.pk).update(
        last_read_message_id=Greatest(F("last_read_message_id"), message_id)
    )
    if not updated:
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
    if silent:
        return message_id
    event = {"type": "read", "actor": presenters.user_actor(user), "message_id": message_id}
    send_event_on_commit(realtime.staff_group(conversation.pk), event)
    if broadcast_to_customer is None:
        broadcast_to_customer = conversation.assignee_id == user.pk
    if broadcast_to_customer and not conversation.is_internal:
        send_event_on_commit(realtime.customer_group(conversation.pk), event)
    return message_id


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
        direction=Direction.OUTBOUND,
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


# --- customer links -----------------------------------------------------------------------------


@transaction.atomic
def customer_link_issue(
    *, actor: User, conversation: Conversation, request=None
) -> tuple[CustomerLink, str]:
    """A signed, expiring web-chat link for the conversation's contact. Returns the link and the
    token (shown once; only its SHA-256 is stored). Audited (comms.customer_link.issued)."""
    if not permissions.can_view(actor, conversation):
        raise errors.NotFound()
    if not permissions.can_issue_link(actor, conversation):
        raise errors.Forbidden()
    now = timezone.now()
    token = signing.dumps(
        {"c": conversation.pk, "n": secrets.token_urlsafe(18)}, salt=LINK_SALT, compress=False
    )
    link = CustomerLink.objects.create(
        conversation=conversation,
        contact_id=conversation.contact_id,
        token_digest=token_digest(token),
        created_by=actor,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.COMMS_CUSTOMER_LINK_SECONDS),
    )
    Participant.objects.bulk_create(
        [
            Participant(
                conversation=conversation,
                contact_id=conversation.contact_id,
                role=Participant.Role.CUSTOMER,
            )
        ],
        ignore_conflicts=True,
    )
    audit.record(
        actor=actor,
        action="comms.customer_link.issued",
        target=link,
        data={"conversation": conversation.pk, "expires_at": link.expires_at},
        request=request,
    )
    return link, token


@transaction.atomic
def customer_link_revoke(*, actor: User, link: CustomerLink, request=None) -> CustomerLink:
    """End a customer link now; its open customer sockets close (4403) within seconds. Audited."""
    link = CustomerLink.objects.select_for_update().select_related("conversation").get(pk=link.pk)
    conversation = link.conversation
    if not permissions.can_view(actor, conversation):
        raise errors.NotFound()
    if not permissions.can_issue_link(actor, conversation):
        raise errors.Forbidden()
    if link.revoked_at is not None:
        return link
    link.revoked_at = timezone.now()
    link.revoked_by = actor
    link.save(update_fields=["revoked_at", "revoked_by"])
    audit.record(
        actor=actor,
        action="comms.customer_link.revoked",
        target=link,
        data={"conversation": conversation.pk},
        request=request,
    )
    send_event_on_commit(
        realtime.customer_group(conversation.pk),
        {"type": "access.recheck", "conversation_ids": [conversation.pk]},
    )
    return link


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
    _join(conversation, user, role, timezone.now())
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


# --- attachments --------------------------------------------------------------------------------


def attachment_content_type(name: str, declared: str | None) -> str:
    """The type a file is stored and served with: from its name, else what the client declared;
    refused unless on the allow-list."""
    guessed, _encoding = mimetypes.guess_type(name)
    content_type = (guessed or declared or "application/octet-stream").split(";")[0].strip()
    if content_type.lower() not in settings.COMMS_ATTACHMENT_TYPES:
        raise errors.FileTypeRefused()
    return content_type.lower()


def attachment_name(raw: str) -> str:
    name = os.path.basename((raw or "").replace("\\", "/")).strip().replace("\x00", "")
    return (name or "file")[-255:]


def attachment_upload(
    *,
    actor: User,
    conversation: Conversation,
    upload,
    body: str = "",
    note: bool = False,
    client_id=None,
    request=None,
) -> SendResult:
    """Store a file as a message of its own (with optional text). 413 over the size limit, 415 for
    a refused type; size and SHA-256 stored. Audited (comms.message.sent and
    comms.attachment.uploaded); `message.created` broadcast after commit with the attachment."""
    if upload.size > settings.COMMS_ATTACHMENT_MAX_BYTES:
        raise errors.FileTooLarge()
    name = attachment_name(upload.name)
    content_type = attachment_content_type(name, getattr(upload, "content_type", None))
    body = clean_body(body or "", allow_empty=True)
    client_id = clean_client_id(client_id or uuid.uuid4())
    if permissions.is_read_only(actor):
        raise errors.Forbidden()
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    item = Outgoing(conversation, body, client_id, author=actor, note=bool(note), request=request)
    with transaction.atomic():
        stored = _store_one(item, timezone.now())
        if isinstance(stored, Exception):
            raise stored
        if not stored.created:
            return stored
        message = stored.message
        attachment = Attachment(
            conversation_id=conversation.pk,
            message=message,
            name=name,
            content_type=content_type,
            size=upload.size,
            sha256=digest.hexdigest(),
            uploaded_by=actor,
        )
        attachment.file.save(name, upload, save=False)
        attachment.save()
        audit.record(**_stored_event(item, message))
        audit.record(
            actor=actor,
            action="comms.attachment.uploaded",
            target=attachment,
            data={
                "conversation": conversation.pk,
                "message": message.pk,
                "name": name,
                "content_type": content_type,
                "size": attachment.size,
                "sha256": attachment.sha256,
            },
            request=request,
        )
        data = _broadcast_created(conversation, message, [attachment])
    return SendResult(message, True, data)


@transaction.atomic
def attachment_download_record(*, actor, attachment: Attachment, request=None) -> None:
    """Write who downloaded which file, now (actor: a user, or the customer's contact)."""
    audit.record(
        actor=actor,
        action="comms.attachment.downloaded",
        target=attachment,
        data={
            "conversation": attachment.conversation_id,
            "message": attachment.message_id,
            "sha256": attachment.sha256,
        },
        request=request,
    )

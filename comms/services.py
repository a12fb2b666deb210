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
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

import audit
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
    if number < 0 or number > 2**62:
        raise errors.Invalid(_("%(field)s must be a number.") % {"field": what})
    return number


# --- broadcasting -------------------------------------------------------------------------------


def _broadcast_message(kind: str, conversation: Conversation, data: dict) -> None:
    """`data` is the privileged <message>: staff consumers narrow it per viewer; customers get
    their own form (never notes)."""
    realtime.broadcast_on_commit(
        realtime.staff_group(conversation.pk), {"type": kind, "message": data}
    )


def _broadcast_customer(kind: str, conversation: Conversation, message: Message, attachments):
    if conversation.is_internal or message.direction == Direction.NOTE:
        return
    data = presenters.message_dict(message, presenters.CUSTOMER, attachments=attachments)
    realtime.broadcast_on_commit(
        realtime.customer_group(conversation.pk), {"type": kind, "message": data}
    )


def _broadcast_created(conversation: Conversation, message: Message, attachments) -> dict:
    data = presenters.message_dict(message, presenters.PRIVILEGED, attachments=attachments)
    _broadcast_message("message.created", conversation, data)
    _broadcast_customer("message.created", conversation, message, attachments)
    realtime.inbox_changed_on_commit(conversation.pk)
    return data


def _conversation_updated(conversation: Conversation) -> None:
    realtime.inbox_changed_on_commit(conversation.pk)
    realtime.broadcast_on_commit(
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


def _store_staff_message(*, author, conversation, body, client_id, note) -> tuple[Message, bool]:
    """Inside the caller's transaction: (message, created)."""
    now = timezone.now()
    # One statement checks the author may write here, that this client_id is new, and stamps
    # the conversation (which also serialises concurrent sends to it on PostgreSQL).
    stamped = (
        Conversation.objects.filter(pk=conversation.pk)
        .filter(permissions.write_q(author))
        .exclude(
            Exists(
                Message.objects.filter(
                    conversation_id=OuterRef("pk"), author_user_id=author.pk, client_id=client_id
                )
            )
        )
        .update(last_message_at=now)
    )
    if not stamped:
        existing = _existing(conversation.pk, client_id, user_id=author.pk)
        if existing is not None and permissions.can_send(author, conversation):
            return existing, False
        if not permissions.can_view(author, conversation):
            raise errors.NotFound()
        raise errors.Forbidden()
    external = conversation.kind in (
        Conversation.Kind.WHATSAPP,
        Conversation.Kind.SMS,
        Conversation.Kind.EMAIL,
    )
    direction = Direction.NOTE if note else Direction.OUTBOUND
    queued = external and direction == Direction.OUTBOUND
    message = Message.objects.create(
        conversation_id=conversation.pk,
        author_user=author,
        direction=direction,
        body=body,
        client_id=client_id,
        created_at=now,
        status=Message.Status.QUEUED if queued else Message.Status.SENT,
        sent_at=None if queued else now,
    )
    if "@" in body:
        _notify_mentions(conversation, message, author)
    return message, True


def _record_sent(author, conversation, message, request) -> None:
    audit.record(
        actor=author,
        action="comms.message.sent",
        target=message,
        data={
            "conversation": conversation.pk,
            "direction": message.direction,
            "client_id": str(message.client_id),
            "length": len(message.body),
            "body_sha256": sha256_text(message.body),
        },
        request=request,
    )


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
    body = clean_body(body)
    client_id = clean_client_id(client_id)
    if permissions.is_read_only(author):
        raise errors.Forbidden()
    try:
        with transaction.atomic():
            message, created = _store_staff_message(
                author=author,
                conversation=conversation,
                body=body,
                client_id=client_id,
                note=bool(note),
            )
            if not created:
                data = presenters.message_dict(message, presenters.PRIVILEGED)
                return SendResult(message, False, data)
            message.author_user = author
            _record_sent(author, conversation, message, request)
            data = _broadcast_created(conversation, message, [])
    except IntegrityError:
        # Two sends of one client_id raced; the loser answers with the winner's row.
        existing = _existing(conversation.pk, client_id, user_id=author.pk)
        if existing is None or not permissions.can_send(author, conversation):
            raise
        return SendResult(existing, False, presenters.message_dict(existing, presenters.PRIVILEGED))
    return SendResult(message, True, data)


def _store_inbound(
    *, conversation, contact, body, client_id, condition, actor_data: dict, external_id: str = ""
) -> SendResult:
    try:
        with transaction.atomic():
            now = timezone.now()
            stamped = (
                Conversation.objects.filter(pk=conversation.pk)
                .filter(condition)
                .exclude(
                    Exists(
                        Message.objects.filter(
                            conversation_id=OuterRef("pk"),
                            author_contact_id=contact.pk,
                            client_id=client_id,
                        )
                    )
                )
                .update(last_message_at=now)
            )
            if not stamped:
                existing = _existing(conversation.pk, client_id, contact_id=contact.pk)
                if existing is None:
                    raise errors.Forbidden()
                return SendResult(existing, False, {})
            message = Message.objects.create(
                conversation_id=conversation.pk,
                author_contact=contact,
                direction=Direction.INBOUND,
                body=body,
                client_id=client_id,
                created_at=now,
                status=Message.Status.DELIVERED,
                delivered_at=now,
                external_id=external_id,
            )
            audit.record(
                actor=contact,
                action="comms.message.received",
                target=message,
                data={
                    "conversation": conversation.pk,
                    "channel": conversation.kind,
                    "client_id": str(client_id),
                    "length": len(body),
                    "body_sha256": sha256_text(body),
                    **actor_data,
                },
            )
            data = _broadcast_created(conversation, message, [])
    except IntegrityError:
        existing = _existing(conversation.pk, client_id, contact_id=contact.pk)
        if existing is None:
            raise
        return SendResult(existing, False, {})
    return SendResult(message, True, data)


def message_receive(*, link: CustomerLink, body: str, client_id) -> SendResult:
    """Store a customer's web-chat message (inbound, author = the link's contact) once per
    client_id while the link is usable; broadcast after commit. Audited
    (comms.message.received, actor = the contact)."""
    body = clean_body(body)
    client_id = clean_client_id(client_id)
    result = _store_inbound(
        conversation=link.conversation,
        contact=link.contact,
        body=body,
        client_id=client_id,
        condition=permissions.link_usable_q(link.pk),
        actor_data={"link": link.pk},
    )
    if not result.created and not permissions.customer_can_use(link):
        raise errors.Forbidden()
    return result


def message_inbound_record(
    *, conversation: Conversation, body: str, client_id, external_id: str = ""
) -> SendResult:
    """An inbound message that arrived through a channel integration (WhatsApp, SMS, email, or
    the demo seed): author = the conversation's contact; the caller has authenticated the
    channel. Same idempotency, audit and broadcast as a web-chat message."""
    if conversation.is_internal or conversation.contact_id is None:
        raise errors.Invalid(_("Internal conversations have no customer."))
    body = clean_body(body)
    client_id = clean_client_id(client_id)
    return _store_inbound(
        conversation=conversation,
        contact=conversation.contact,
        body=body,
        client_id=client_id,
        condition=Q(),
        actor_data={"external_id": external_id} if external_id else {},
        external_id=external_id,
    )


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
    assignee."""
    message_id = clean_id(message_id)
    if not permissions.can_view(user, conversation):
        raise errors.NotFound()
    if not Message.objects.filter(pk=message_id, conversation_id=conversation.pk).exists():
        raise errors.NotFound()
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
    event = {"type": "read", "actor": presenters.user_actor(user), "message_id": message_id}
    realtime.broadcast_on_commit(realtime.staff_group(conversation.pk), event)
    if broadcast_to_customer is None:
        broadcast_to_customer = conversation.assignee_id == user.pk
    if broadcast_to_customer and not conversation.is_internal:
        realtime.broadcast_on_commit(realtime.customer_group(conversation.pk), event)
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
    realtime.broadcast_on_commit(
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
    realtime.broadcast_on_commit(
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
    realtime.broadcast_on_commit(
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
    realtime.broadcast_on_commit(
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
    with transaction.atomic():
        message, created = _store_staff_message(
            author=actor, conversation=conversation, body=body, client_id=client_id, note=note
        )
        if not created:
            return SendResult(
                message, False, presenters.message_dict(message, presenters.PRIVILEGED)
            )
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
        message.author_user = actor
        _record_sent(actor, conversation, message, request)
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

"""The protocol's dicts (`docs/realtime.md`): one function per shape, used by the
socket consumers and the REST API alike, so both answer exactly the same <message>."""

from __future__ import annotations

import json

from django.urls import reverse
from django.utils.translation import gettext as _

from comms import thumbnails
from comms.models import Attachment, Conversation, Message
from comms.rendering import body_html

STAFF = "staff"
EVERYTHING = "everything"  # accounts.permissions.sees_everything: admin, compliance
CUSTOMER = "customer"
VIEWERS = (STAFF, EVERYTHING, CUSTOMER)


def iso(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def user_actor(user) -> dict | None:
    if user is None:
        return None
    return {"type": "user", "id": user.pk, "name": user.get_full_name() or user.get_username()}


def contact_actor(contact) -> dict | None:
    if contact is None:
        return None
    return {"type": "contact", "id": contact.pk, "name": contact.name}


def system_actor() -> dict:
    return {"type": "system", "id": None, "name": _("System")}


def message_author(message: Message) -> dict:
    if message.author_user_id is not None:
        return user_actor(message.author_user)
    if message.author_contact_id is not None:
        return contact_actor(message.author_contact)
    return system_actor()


def attachment_dict(attachment: Attachment, viewer: str) -> dict:
    if viewer == CUSTOMER:
        # Relative to the customer page /c/<token>/: the token never goes into a shared broadcast.
        url = f"attachments/{attachment.pk}/"
    else:
        url = reverse("comms:attachment-download", args=[attachment.pk])
    data = {
        "id": attachment.pk,
        "name": attachment.name_for_customer if viewer == CUSTOMER else attachment.name,
        "size": attachment.size,
        "content_type": attachment.content_type,
        "url": url,
    }
    if thumbnails.has_thumbnail(attachment):
        # A preview that is not the file: served without an audit event (comms.thumbnails).
        data["thumbnail_url"] = (
            url + "thumbnail/"
            if viewer == CUSTOMER
            else reverse("comms:attachment-thumbnail", args=[attachment.pk])
        )
    return data


def message_dict(
    message: Message, viewer: str, *, attachments: list[Attachment] | None = None
) -> dict | None:
    """The protocol's <message> for a viewer kind: "staff", "everything" (admin, compliance) or
    "customer". None when the customer must not get it at all (internal notes).

    `attachments`: pass the list when it is known (a new message has none), otherwise the
    prefetched `message.attachments` is used.
    """
    if viewer not in VIEWERS:
        raise ValueError(f"unknown viewer kind {viewer!r}")
    if viewer == CUSTOMER and message.direction == Message.Direction.NOTE:
        return None
    if attachments is None:
        attachments = list(message.attachments.all())
    hidden = message.retracted
    text = message.customer_text if viewer == CUSTOMER else message.body
    data = {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        # The change number in this viewer's numbering (docs/realtime.md, "Gap-free sync").
        "seq": message.customer_seq if viewer == CUSTOMER else message.seq,
        "client_id": str(message.client_id) if message.client_id else None,
        "author": message_author(message),
        "direction": message.direction,
        "body": None if hidden else text,
        "body_html": "" if hidden else body_html(text),
        "created_at": iso(message.created_at),
        "edited_at": None if viewer == CUSTOMER and hidden else iso(message.edited_at),
        "retracted": message.retracted,
        "status": message.status,
        "attachments": []
        if hidden and viewer != EVERYTHING
        else [attachment_dict(a, viewer) for a in attachments],
    }
    if viewer == CUSTOMER and message.author_user_id is None and message.author_contact_id is None:
        data["author"] = system_actor()
    if viewer != CUSTOMER and message.urgent:
        data["urgent"] = True
    if viewer != CUSTOMER and message.failed_reason:
        data["failed_reason"] = message.failed_reason
    if viewer != CUSTOMER and message.customer_body is not None:
        # Staff see the original, marked: the customer got a redacted copy.
        data["redacted_for_customer"] = True
        data["customer_body"] = None if hidden else message.customer_body
    if viewer == EVERYTHING:
        data["original_body"] = message.body if hidden else None
        data["retracted_at"] = iso(message.retracted_at)
    return data


def narrow(data: dict, viewer: str) -> dict:
    """The staff form of a <message> given in its everything form (what a staff broadcast
    carries)."""
    if viewer == EVERYTHING:
        return data
    narrowed = {k: v for k, v in data.items() if k not in ("original_body", "retracted_at")}
    if data.get("retracted"):
        narrowed["attachments"] = []
    return narrowed


def encode(frame: dict) -> str:
    """A socket frame's text (compact JSON), the same for every sender of frames."""
    return json.dumps(frame, separators=(",", ":"))


def message_frames(kind: str, data: dict) -> dict[str, str]:
    """A staff broadcast's frames, encoded once by the publisher, one per viewer kind: each of a
    room's sockets sends the text of its kind instead of narrowing and encoding its own copy."""
    return {
        EVERYTHING: encode({"type": kind, "message": data}),
        STAFF: encode({"type": kind, "message": narrow(data, STAFF)}),
    }


def revision_dict(revision) -> dict:
    return {
        "id": revision.pk,
        "body": revision.body,
        "editor": user_actor(revision.editor),
        "edited_at": iso(revision.edited_at),
    }


def _covering_for(conversation: Conversation) -> dict | None:
    """Out-of-office cover: the person the assignee is covering for, or None."""
    if conversation.covering_for_id is None:
        return None
    person = conversation.covering_for
    return {"id": person.pk, "name": person.get_full_name() or person.get_username()}


def conversation_dict(conversation: Conversation, *, unread: int | None = None) -> dict:
    contact = conversation.contact
    deal = conversation.deal
    company = conversation.company
    team = conversation.team
    data = {
        "id": conversation.pk,
        "kind": conversation.kind,
        "status": conversation.status,
        "subject": conversation.subject,
        "contact": {"id": contact.pk, "name": contact.name} if contact else None,
        "deal": {"id": deal.pk, "title": deal.title} if deal else None,
        "company": {"id": company.pk, "name": company.name} if company else None,
        "assignee": user_actor(conversation.assignee),
        "covering_for": _covering_for(conversation),
        "team": {"id": team.pk, "name": team.name} if team else None,
        "last_message_at": iso(conversation.last_message_at),
        "created_at": iso(conversation.created_at),
    }
    if unread is None:
        unread = getattr(conversation, "unread", None)
    if unread is not None:
        data["unread"] = unread
    if hasattr(conversation, "last_preview"):
        preview = conversation.last_preview
        data["last_message"] = preview[:140] if preview else None
    return data


def unread_dict(unread) -> dict:
    """selectors.Unread for the badge and notifications."""
    return {
        "total": unread.total,
        "conversations": {str(k): v for k, v in unread.counts.items()},
        "recent": [
            {
                "id": c.pk,
                "title": c.contact.name if c.contact_id else str(c),
                "unread": c.unread,
                "message_id": c.latest_id,
                "preview": (c.latest_body or "")[:140],
                "has_files": bool(c.latest_has_files),
                "url": reverse("comms:conversation-detail", args=[c.pk]),
            }
            for c in unread.recent
        ],
    }


def participant_dict(participant) -> dict:
    actor = user_actor(participant.user) if participant.user_id else None
    if actor is None:
        actor = contact_actor(participant.contact)
    return {
        "actor": actor,
        "role": participant.role,
        "joined_at": iso(participant.joined_at),
        "left_at": iso(participant.left_at),
        "last_read_message_id": participant.last_read_message_id,
    }


def link_dict(link, *, url: str | None = None) -> dict:
    data = {
        "id": link.pk,
        "conversation_id": link.conversation_id,
        "contact_id": link.contact_id,
        "created_at": iso(link.created_at),
        "expires_at": iso(link.expires_at),
        "revoked_at": iso(link.revoked_at),
    }
    if url is not None:
        data["url"] = url
    return data

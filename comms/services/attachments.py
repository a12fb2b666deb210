"""Files: stored as messages of their own through the one write path; downloads audited."""

from __future__ import annotations

import hashlib
import mimetypes
import os
import uuid

from django.conf import settings
from django.db import transaction

import audit
from accounts.models import User
from comms import errors
from comms.models import (
    Attachment,
    Conversation,
    CustomerLink,
)
from comms.services.messages import (
    PendingFile,
    SendResult,
    customer_draft,
    message_store,
    staff_draft,
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


def attachment_checked(upload) -> PendingFile:
    """An upload past the size limit (413) and the type allow-list (415), with its SHA-256: the
    same checks for a staff member's and a customer's file."""
    if upload.size > settings.COMMS_ATTACHMENT_MAX_BYTES:
        raise errors.FileTooLarge()
    name = attachment_name(upload.name)
    content_type = attachment_content_type(name, getattr(upload, "content_type", None))
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return PendingFile(upload, name, content_type, upload.size, digest.hexdigest())


def attachment_upload(
    *,
    actor: User,
    conversation: Conversation,
    upload,
    body: str = "",
    note: bool = False,
    client_id=None,
    confirm_dlp=False,
    urgent: bool = False,
    request=None,
) -> SendResult:
    """Store a file as a message of its own (with optional text), through the one write path.
    413 over the size limit, 415 for a refused type; size and SHA-256 stored. Audited
    (comms.message.sent and comms.attachment.uploaded); `message.created` broadcast after commit
    with the attachment. The text and the file's name pass the outbound checks
    (comms.outbound_checks; `confirm_dlp`: send anyway past a warning)."""
    pending = attachment_checked(upload)
    return message_store(
        staff_draft(
            author=actor,
            conversation=conversation,
            body=body or "",
            client_id=client_id or uuid.uuid4(),
            note=bool(note),
            urgent=urgent,
            request=request,
            file=pending,
            confirm_dlp=confirm_dlp,
        )
    )


def attachment_receive(
    *, link: CustomerLink, upload, body: str = "", client_id=None, request=None
) -> SendResult:
    """A customer's file through their web-chat link: the same size and type checks as a staff
    upload, stored through the one write path as an inbound message, authorised by the link in
    the same statement as the write (revoked or expired: refused, nothing stored). Audited
    (comms.message.received and comms.attachment.uploaded, actor the contact); `message.created`
    broadcast after commit. Inbound: the outbound checks (DLP) do not apply."""
    pending = attachment_checked(upload)
    return message_store(
        customer_draft(
            link=link,
            body=body or "",
            client_id=client_id or uuid.uuid4(),
            request=request,
            file=pending,
        )
    )


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

"""Customer web-chat links: issue and revoke."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

import audit
from accounts.models import User
from comms import errors, link_tokens, permissions, realtime
from comms.models import (
    Conversation,
    CustomerLink,
    Participant,
)
from config.events import send_event_on_commit
from crm import permissions as crm_permissions

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
    refusal = crm_permissions.outreach_refusal(conversation.contact_id)
    if refusal:  # restricted processing (a data-subject request): no new way in for them
        raise errors.Invalid(refusal, code="processing_restricted")
    now = timezone.now()
    token = link_tokens.new_token(conversation.pk)
    link = CustomerLink.objects.create(
        conversation=conversation,
        contact_id=conversation.contact_id,
        token_digest=link_tokens.digest(token),
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

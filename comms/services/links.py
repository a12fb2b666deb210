"""Customer web-chat links: issue and revoke."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

import audit
from accounts.models import User
from comms import channel_registry, errors, link_tokens, permissions, realtime
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


def customer_link_send(
    *, actor: User, conversation: Conversation, channel: str, base_url: str, request=None
) -> CustomerLink:
    """Issue a new customer link and send it to the contact by email or SMS through a configured
    channel account (comms.channel_registry; connectors). 404 for whoever may not see the
    conversation, 403 for whoever may not write in it, 400 when the channel cannot carry it
    (no account, no address, no consent) or the provider refused. Runs outside any transaction:
    the link is issued and committed (comms.customer_link.issued), then sent, then
    comms.customer_link.sent is written (channel, address); a send that failed revokes the link
    it issued (comms.customer_link.revoked), so no unseen link stays usable."""
    if not permissions.can_view(actor, conversation):
        raise errors.NotFound()
    if not permissions.can_issue_link(actor, conversation):
        raise errors.Forbidden()
    choices = {o["channel"]: o for o in channel_registry.link_send_options(conversation)}
    option = choices.get(channel)
    if option is None:
        raise errors.Invalid(_("Choose email or SMS."))
    if option["refusal"]:
        raise errors.Invalid(option["refusal"], code="channel_refused")
    link, token = customer_link_issue(actor=actor, conversation=conversation, request=request)
    url = base_url.rstrip("/") + reverse("comms:customer-chat", args=[token])
    try:
        channel_registry.link_deliver(conversation, channel, url, actor)
    except Exception:
        # Not sent (refused, or anything unexpected): the link nobody received must not work.
        customer_link_revoke(actor=actor, link=link, request=request)
        raise
    with transaction.atomic():
        audit.record(
            actor=actor,
            action="comms.customer_link.sent",
            target=link,
            data={"conversation": conversation.pk, "channel": channel, "to": option["to"]},
            request=request,
        )
    return link

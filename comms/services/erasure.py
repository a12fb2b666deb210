"""A contact's erasure, comms's part (a data-subject request decided in governance): their
customer links end and their conversations' subjects are cleared. Message texts and files are
purged by comms.services.purge, which governance calls in the same transaction.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

import audit
from accounts.models import User
from comms import realtime
from comms.models import Conversation, CustomerLink
from comms.selectors import conversations_of_contact
from config.events import send_event_on_commit


@transaction.atomic
def contact_conversations_erase(*, actor: User, contact_id: int, reason: str, request=None) -> dict:
    """End every customer link of the contact and clear the subjects of their conversations.
    The caller authorises the actor (governance's data-subject request policy). Audited: one
    comms.customer_link.revoked per link ended, one comms.conversation.subject_erased per subject
    cleared, each with the reason; the customer sockets on those conversations recheck after
    commit (and close). Returns the counts."""
    now = timezone.now()
    conversations = conversations_of_contact(contact_id)
    links = list(
        CustomerLink.objects.select_for_update()
        .filter(Q(contact_id=contact_id) | Q(conversation__in=conversations.values("pk")))
        .filter(revoked_at__isnull=True)
        .order_by("pk")
    )
    CustomerLink.objects.filter(pk__in=[link.pk for link in links]).update(
        revoked_at=now, revoked_by=actor
    )
    titled = list(conversations.exclude(subject="").order_by("pk"))
    Conversation.objects.filter(pk__in=[c.pk for c in titled]).update(subject="")
    events = [
        {
            "actor": actor,
            "action": "comms.customer_link.revoked",
            "target": link,
            "data": {"conversation": link.conversation_id, "reason": reason},
            "request": request,
        }
        for link in links
    ]
    events += [
        {
            "actor": actor,
            "action": "comms.conversation.subject_erased",
            "target": ("comms.conversation", c.pk, f"#{c.pk}"),
            "data": {"reason": reason},
            "request": request,
        }
        for c in titled
    ]
    audit.record_many(events, returning=False)
    for conversation_id in sorted({link.conversation_id for link in links}):
        send_event_on_commit(
            realtime.customer_group(conversation_id),
            {"type": "access.recheck", "conversation_ids": [conversation_id]},
        )
    return {"links_revoked": len(links), "subjects_cleared": len(titled)}

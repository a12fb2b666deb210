"""Socket groups of conversations and the events comms sends to them, always after commit through
the project's one event bus (config.events)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from accounts.realtime import user_group
from config.events import COALESCED, send_event_on_commit

ALL_STAFF_GROUP = "comms.staff"
INBOX_GROUP = "comms.inbox"
# An inbox only needs to hear "look again" once per conversation per published batch.
COALESCED["inbox.changed"] = "conversation_id"


def staff_group(conversation_id: int) -> str:
    return f"conversation.{conversation_id}.staff"


def customer_group(conversation_id: int) -> str:
    return f"conversation.{conversation_id}.customer"


def recheck_access_on_commit(
    conversation_ids: Iterable[int] | None = None, user_ids: Iterable[int] | None = None
) -> None:
    """After commit, make open staff sockets re-check `can_view` and close (4403) if lost.

    - user_ids only: every conversation socket of those users.
    - conversation_ids only: every staff socket on those conversations (all their viewers).
    - both: those users' sockets on those conversations.
    - neither: every staff conversation socket of the process group (use sparingly).
    Customer sockets on the given conversations re-check their link as well.
    """
    conv = sorted({int(c) for c in conversation_ids}) if conversation_ids is not None else None
    users = sorted({int(u) for u in user_ids}) if user_ids is not None else None
    event = {"type": "access.recheck", "conversation_ids": conv}
    if users is not None:
        for uid in users:
            send_event_on_commit(user_group(uid), event)
        return
    if conv is not None:
        for cid in conv:
            send_event_on_commit(staff_group(cid), event)
            send_event_on_commit(customer_group(cid), event)
        return
    send_event_on_commit(ALL_STAFF_GROUP, event)


def recheck_record_on_commit(record) -> None:
    """After a share is revoked or a record reassigned (crm.signals.record_access_changed), the
    sockets on every conversation of that contact, deal or company re-check. The conversations
    are looked up after commit, so one created meanwhile is included."""
    from comms.models import Conversation

    field = {"contact": "contact_id", "deal": "deal_id", "company": "company_id"}.get(
        record._meta.model_name
    )
    if field is None:
        return
    pk = record.pk

    def fire():
        ids = list(Conversation.objects.filter(**{field: pk}).values_list("pk", flat=True))
        # Outside any transaction now: each event is sent (or collected) at once.
        for cid in ids:
            send_event_on_commit(
                staff_group(cid), {"type": "access.recheck", "conversation_ids": [cid]}
            )

    transaction.on_commit(fire)


def inbox_changed_on_commit(conversation_id: int) -> None:
    """Open inbox pages refresh; each socket forwards only ids its person may see."""
    send_event_on_commit(INBOX_GROUP, {"type": "inbox.changed", "conversation_id": conversation_id})

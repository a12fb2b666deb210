"""Socket groups of conversations and the events sent to them, always after commit.

A consumer that calls a service can `collect()` the broadcasts the service queues and publish them
itself from the event loop: the database thread (one per process, asgiref's thread-sensitive
mode) then never waits on Redis.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from accounts.realtime import user_group

ALL_STAFF_GROUP = "comms.staff"
_local = threading.local()


def staff_group(conversation_id: int) -> str:
    return f"conversation.{conversation_id}.staff"


def customer_group(conversation_id: int) -> str:
    return f"conversation.{conversation_id}.customer"


@contextlib.contextmanager
def collect():
    """Inside this block (same thread), after-commit broadcasts are appended to the yielded list
    as (group, event) instead of being sent."""
    outbox: list[tuple[str, dict]] = []
    previous = getattr(_local, "outbox", None)
    _local.outbox = outbox
    try:
        yield outbox
    finally:
        _local.outbox = previous


def run_collecting(fn, kwargs: dict):
    """(fn(**kwargs), the broadcasts it queued after commit): for callers on a worker thread
    that publish from their event loop themselves."""
    with collect() as outbox:
        result = fn(**kwargs)
    return result, outbox


def _publish(group: str, event: dict) -> None:
    outbox = getattr(_local, "outbox", None)
    if outbox is not None:
        outbox.append((group, event))
        return
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(group, event)


def broadcast_on_commit(group: str, event: dict) -> None:
    """Send to a group once the surrounding transaction commits (never for a rollback)."""
    transaction.on_commit(lambda: _publish(group, event))


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
            broadcast_on_commit(user_group(uid), event)
        return
    if conv is not None:
        for cid in conv:
            broadcast_on_commit(staff_group(cid), event)
            broadcast_on_commit(customer_group(cid), event)
        return
    broadcast_on_commit(ALL_STAFF_GROUP, event)


def recheck_record_on_commit(record) -> None:
    """For CRM services: after a share is revoked or a record reassigned, re-check the sockets on
    every conversation of that contact, deal or company (looked up after commit)."""
    from comms.models import Conversation

    field = {"contact": "contact_id", "deal": "deal_id", "company": "company_id"}.get(
        record._meta.model_name
    )
    if field is None:
        return
    pk = record.pk

    def fire():
        ids = list(Conversation.objects.filter(**{field: pk}).values_list("pk", flat=True))
        for cid in ids:
            _publish(staff_group(cid), {"type": "access.recheck", "conversation_ids": [cid]})

    transaction.on_commit(fire)


INBOX_GROUP = "comms.inbox"
# Events that only say "look again": a batch of sends publishes one per conversation.
COALESCED = frozenset({"inbox.changed"})


def inbox_changed_on_commit(conversation_id: int) -> None:
    """Open inbox pages refresh; each socket forwards only ids its person may see."""
    broadcast_on_commit(INBOX_GROUP, {"type": "inbox.changed", "conversation_id": conversation_id})

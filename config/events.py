"""The project's one event bus: every socket event any app sends goes through here.

- `send_event_on_commit(group, event)`: after the surrounding transaction commits (never for a
  rollback), in the order queued. Services use only this.
- A caller on the event loop that runs a service on the database thread wraps it in
  `run_collecting`: the events the service queued are handed back instead of sent, and the caller
  `await publish(events)` from the loop, so the database thread (one per daphne process) never
  waits on Redis. Everywhere else (a sync view, a Celery task, a shell) they are sent at commit.
- `publish` coalesces events that only say "look again" (`COALESCED`) to one per group and key.
- `send_now(group, event)`: for ephemeral frames that store nothing (typing, presence).

Redis pub/sub is at-most-once and never the record: a failed send is logged and clients catch
up from the database.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)

Event = tuple[str, dict]
FAILURE_LOG_EVERY_S = 5.0  # while Redis is away, one warning per this many seconds, not per event
# Event type -> the field naming what to look at again; one per (group, type, value) per publish.
COALESCED: dict[str, str] = {}  # filled by the apps (comms.realtime)
_local = threading.local()


class _Batch(list):
    """Events queued one after another in the same savepoint: one commit hook sends them all
    in order (an offboarding queues ~16,000; a hook each cost ~0.3 s to register)."""

    started = False  # sent (or being sent): later events need a hook of their own

    def __call__(self) -> None:
        self.started = True
        for group, event in self:
            _emit(group, event)


def send_event_on_commit(group: str, event: dict, *, using: str | None = None) -> None:
    """Send `event` to `group` once the surrounding transaction commits."""
    connection = transaction.get_connection(using)
    if connection.in_atomic_block:
        hooks = connection.run_on_commit
        if hooks:
            savepoints, hook, _robust = hooks[-1]
            # Joined only when it is the last hook (order kept) and was queued in the same
            # savepoint (a savepoint rolled back drops it whole, as it would each event).
            if (
                type(hook) is _Batch
                and not hook.started
                and savepoints == set(connection.savepoint_ids)
            ):
                hook.append((group, event))
                return
        transaction.on_commit(_Batch([(group, event)]), using=using)
        return
    transaction.on_commit(lambda: _emit(group, event), using=using)


def _emit(group: str, event: dict) -> None:
    outbox = getattr(_local, "outbox", None)
    if outbox is not None:
        outbox.append((group, event))
        return
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, event)
    except Exception as exc:  # stored already: clients catch up from the database
        _failed(group, exc)


_failures = {"last": 0.0, "quiet": 0}


def _failed(group: str, exc: Exception) -> None:
    """Log a publish that failed (stored already: pages catch up from the database), once per
    FAILURE_LOG_EVERY_S: a Redis outage must not cost a traceback per event on the loop."""
    now = time.monotonic()
    if now - _failures["last"] < FAILURE_LOG_EVERY_S:
        _failures["quiet"] += 1
        return
    log.warning(
        "event to %s not published (%s: %s); %d more not published since the last warning",
        group,
        type(exc).__name__,
        exc,
        _failures["quiet"],
    )
    _failures["last"], _failures["quiet"] = now, 0


@contextlib.contextmanager
def collect():
    """Inside this block (same thread), events are appended to the yielded list at commit
    instead of being sent."""
    outbox: list[Event] = []
    previous = getattr(_local, "outbox", None)
    _local.outbox = outbox
    try:
        yield outbox
    finally:
        _local.outbox = previous


@contextlib.contextmanager
def published_together():
    """Inside this block (same thread), events are collected at commit and sent when it ends, in
    order and coalesced, from one event loop: one `async_to_sync` for all of them rather than one
    per event, each starting a loop thread (~1 ms: 10 s for the 12,000 events of an offboarding
    with 2,000 open conversations). Inside an outer `collect()` they stay with that collector."""
    if getattr(_local, "outbox", None) is not None:
        yield
        return
    outbox: list[Event] = []
    try:
        with collect() as outbox:
            yield
    finally:
        if outbox:  # what committed inside the block, even if it then raised
            async_to_sync(publish)(outbox)


def run_collecting(fn: Callable, kwargs: dict):
    """(fn(**kwargs), the events it queued for after commit): for a caller on a worker thread
    that publishes them from its event loop."""
    with collect() as outbox:
        result = fn(**kwargs)
    return result, outbox


def coalesced(events: Iterable[Event]) -> list[Event]:
    """The events in order, with repeated "look again" events dropped."""
    seen: set = set()
    kept: list[Event] = []
    for group, event in events:
        key_field = COALESCED.get(event.get("type"))
        if key_field is not None:
            key = (group, event["type"], event.get(key_field))
            if key in seen:
                continue
            seen.add(key)
        kept.append((group, event))
    return kept


async def publish(events: Iterable[Event], layer=None) -> None:
    """Send collected events in order from the running event loop."""
    layer = layer or get_channel_layer()
    if layer is None:
        return
    for group, event in coalesced(events):
        try:
            await layer.group_send(group, event)
        except Exception as exc:  # stored already: clients catch up from the database
            _failed(group, exc)


async def send_now(group: str, event: dict, layer=None) -> None:
    """An ephemeral frame that stores nothing (typing, presence): sent at once."""
    layer = layer or get_channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(group, event)
    except Exception as exc:
        _failed(group, exc)

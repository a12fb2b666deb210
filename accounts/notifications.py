"""Notifications to staff, and the right to disconnect.

A notification (someone mentioned you, a conversation was assigned to you, a colleague wrote to
you in an internal conversation) seeks a person's attention: outside their working hours
(accounts.working_hours) it waits for their next working start. It is then a PendingNotification
row, written in the same transaction as what caused it, so it survives restarts, and the beat
task accounts.tasks.notifications_release sends it once it is due: the row is marked sent in the
transaction that queues its send (after commit), with rows locked SKIP LOCKED on PostgreSQL, so
two runs never send one twice.

Not notifications: live updates of what a person has open (the inbox list, a conversation's
messages). They are sent at once: a customer's message reaches the inbox whenever it comes.

`urgent`: the sender says it cannot wait; sent at once, and the caller audits it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connections, router, transaction
from django.utils import timezone

from accounts import realtime, working_hours
from accounts.models import PendingNotification, User

RELEASE_BATCH = 500


@dataclass(frozen=True)
class Notice:
    """One notification for one person: sent now (`due_at` None) or held until `due_at`."""

    user: User
    payload: dict
    due_at: dt.datetime | None = None
    # Sent now only because it was marked urgent: the person is off work (audited by the caller).
    woke: bool = False


def plan(
    recipients: Iterable[tuple[User, dict]], *, urgent: bool = False, now: dt.datetime | None = None
) -> list[Notice]:
    """Decide, without writing, when each (person, payload) is sent. No query: the people are
    loaded with their working hours."""
    now = now or timezone.now()
    notices = []
    for user, payload in recipients:
        start = working_hours.next_working_start(user, now)
        off_work = start > now
        if off_work and not urgent:
            notices.append(Notice(user, payload, start))
        else:
            notices.append(Notice(user, payload, None, woke=off_work))
    return notices


def dispatch(notices: Iterable[Notice], *, now: dt.datetime | None = None) -> None:
    """Inside the caller's transaction: the held notices become rows (one INSERT), the others
    are sent after commit, in order."""
    now = now or timezone.now()
    held = []
    for notice in notices:
        if notice.due_at is None:
            realtime.notify_user_on_commit(notice.user.pk, notice.payload)
        else:
            held.append(
                PendingNotification(
                    user_id=notice.user.pk,
                    payload={**notice.payload, "held_since": _iso(now)},
                    due_at=notice.due_at,
                    created_at=now,
                )
            )
    if held:
        PendingNotification.objects.bulk_create(held)


def notify(
    user: User, payload: dict, *, urgent: bool = False, now: dt.datetime | None = None
) -> dt.datetime | None:
    """Notify one person, now or at their next working start; returns when it is held until
    (None: sent after commit)."""
    (notice,) = plan([(user, payload)], urgent=urgent, now=now)
    dispatch([notice], now=now)
    return notice.due_at


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


@transaction.atomic
def _release_batch(now: dt.datetime, limit: int) -> int:
    connection = connections[router.db_for_write(PendingNotification)]
    due = PendingNotification.objects.filter(sent_at__isnull=True, due_at__lte=now).order_by(
        "due_at", "id"
    )
    if connection.features.has_select_for_update_skip_locked:
        due = due.select_for_update(skip_locked=True, of=("self",))
    rows = list(due.values_list("pk", "user_id", "payload")[:limit])
    if not rows:
        return 0
    PendingNotification.objects.filter(pk__in=[pk for pk, _u, _p in rows]).update(sent_at=now)
    active = set(
        User.objects.filter(pk__in={u for _pk, u, _p in rows}, is_active=True).values_list(
            "pk", flat=True
        )
    )
    for _pk, user_id, payload in rows:
        if user_id not in active:  # someone who left meanwhile is told nothing
            continue
        if payload.get("type") == "web_push":  # a push held outside working hours
            from accounts import push  # not at the top: push plans with this module

            push.release(user_id, payload)
        else:
            realtime.notify_user_on_commit(user_id, payload)
    return len(rows)


def notifications_release(*, now: dt.datetime | None = None) -> int:
    """Send every held notification whose time has come (each once); returns how many."""
    now = now or timezone.now()
    total = 0
    while True:
        sent = _release_batch(now, RELEASE_BATCH)
        total += sent
        if sent < RELEASE_BATCH:
            return total


def pending_for(user: User):
    """The notifications still held for `user`, soonest first."""
    return PendingNotification.objects.filter(user=user, sent_at__isnull=True).order_by(
        "due_at", "id"
    )

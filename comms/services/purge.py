"""Purging message text and files: the tombstone path (retention, data-subject erasure).

A purged message keeps its row: id, conversation (so its participants), author, direction and
times, and the SHA-256 of its text in `body_sha256`, so the audit events holding that digest
still verify (comms/integrity.py checks a tombstone's kept digest instead of its empty text).
Its text is emptied, its revisions' texts likewise, and its files' stored bytes are deleted after
commit (each file's row stays, with name, size and SHA-256, marked purged). The database guard
(comms/ddl.py) allows exactly this and recomputes the digest; a tombstone is never un-purged.

Legal holds live in a higher app (governance): it registers a hold filter here from its
AppConfig.ready(). The filter runs in the purge's own transaction after the rows are locked,
under `hold_lock(shared=True)`, while placing a hold takes it exclusively: a hold committed
before a purge reads is seen by it, and a purge that already read waits no hold out.

Statements per batch of BATCH ids are constant: lock and read, the hold filter's few, one
UPDATE each for messages, revisions and files.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db import connection, models, transaction
from django.utils import timezone

import audit
from comms import thumbnails
from comms.models import Attachment, Message, MessageRevision

logger = logging.getLogger(__name__)

BATCH = 1000
# pg_advisory_xact_lock key shared by purges and hold placement ("KLHOLD" in ASCII).
HOLD_LOCK_KEY = 0x4B4C484F4C44

# (model, ids) -> the ids on hold; Message or Attachment.
HoldFilter = Callable[[type[models.Model], list[int]], set[int]]
_hold_filters: list[HoldFilter] = []


def register_hold_filter(hold_filter: HoldFilter) -> None:
    if hold_filter not in _hold_filters:
        _hold_filters.append(hold_filter)


def held_ids(model: type[models.Model], ids: list[int]) -> set[int]:
    held: set[int] = set()
    for hold_filter in _hold_filters:
        held |= hold_filter(model, ids)
    return held


def hold_lock(*, shared: bool) -> None:
    """Within a transaction: purges take it shared, placing a hold exclusively (PostgreSQL;
    SQLite runs one writer at a time anyway)."""
    if connection.vendor != "postgresql":
        return
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s)", [HOLD_LOCK_KEY])


class TextSha256(models.Func):
    """The SHA-256 of a text column in lowercase hex, as hashlib's of its UTF-8 (what the guard
    and the audit events compute). Django's SHA256 needs pgcrypto on PostgreSQL."""

    output_field = models.CharField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler,
            connection,
            template="encode(sha256(convert_to(%(expressions)s, 'UTF8')), 'hex')",
            **extra_context,
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, function="SHA256", **extra_context)


@dataclass
class PurgeResult:
    messages: list[int] = field(default_factory=list)  # purged now
    held: list[int] = field(default_factory=list)  # refused: on hold
    files: int = 0  # files whose bytes go after commit
    revisions: int = 0


def _delete_stored(paths: list[str]) -> None:
    storage = Attachment._meta.get_field("file").storage
    for path in paths:
        try:
            storage.delete(path)
            storage.delete(thumbnails.thumbnail_path(path))  # made on first view, if ever
        except OSError:
            # The row is marked purged (committed); a file the storage could not delete now is
            # logged for the operator to remove by hand.
            logger.warning("purged file %s could not be deleted from storage", path)


def _purge_files(queryset, now) -> int:
    rows = list(queryset.filter(purged_at__isnull=True).values_list("pk", "file"))
    if not rows:
        return 0
    Attachment.objects.filter(pk__in=[pk for pk, _ in rows]).update(purged_at=now)
    paths = [path for _, path in rows if path]
    transaction.on_commit(lambda: _delete_stored(paths))
    return len(rows)


def _purge_batch(ids: list[int], now, result: PurgeResult) -> None:
    candidates = list(
        Message.objects.select_for_update()
        .filter(pk__in=ids, purged_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not candidates:
        return
    held = held_ids(Message, candidates)
    purge = [pk for pk in candidates if pk not in held]
    result.held += sorted(held)
    if not purge:
        return
    # One statement each; every SET reads the row's old values, so the digest is the old text's.
    # The customer's redacted copy goes with the text.
    Message.objects.filter(pk__in=purge).update(
        body_sha256=TextSha256("body"), body="", customer_body=None, purged_at=now
    )
    result.revisions += MessageRevision.objects.filter(
        message_id__in=purge, purged_at__isnull=True
    ).update(body_sha256=TextSha256("body"), body="", purged_at=now)
    result.files += _purge_files(Attachment.objects.filter(message_id__in=purge), now)
    result.messages += purge


def messages_purge(*, message_ids: Iterable[int], now=None) -> PurgeResult:
    """Tombstone these messages except those on hold (no audit record: the caller writes one).
    Must run inside the caller's transaction, which holds the rows' locks until it commits."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("messages_purge runs inside a transaction")
    now = now or timezone.now()
    result = PurgeResult()
    ids = sorted({int(pk) for pk in message_ids})
    hold_lock(shared=True)
    for start in range(0, len(ids), BATCH):
        _purge_batch(ids[start : start + BATCH], now, result)
    return result


def files_purge(*, attachment_ids: Iterable[int], now=None) -> tuple[int, list[int]]:
    """Delete the stored bytes of these files (after commit) except those on hold, keeping their
    rows; returns (how many purged, the ids on hold). No audit record: the caller writes one."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("files_purge runs inside a transaction")
    now = now or timezone.now()
    ids = sorted({int(pk) for pk in attachment_ids})
    hold_lock(shared=True)
    purged, held_all = 0, []
    for start in range(0, len(ids), BATCH):
        chunk = list(
            Attachment.objects.select_for_update()
            .filter(pk__in=ids[start : start + BATCH], purged_at__isnull=True)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not chunk:
            continue
        held = held_ids(Attachment, chunk)
        held_all += sorted(held)
        free = [pk for pk in chunk if pk not in held]
        purged += _purge_files(Attachment.objects.filter(pk__in=free), now)
    return purged, held_all


@transaction.atomic
def message_bodies_purge(*, message_ids: list[int], actor, reason: str) -> int:
    """Make these messages tombstones (text emptied, its SHA-256 kept; revisions' texts emptied;
    files' bytes deleted after commit, their rows kept), skipping those on a legal hold, which
    is checked in this transaction with the rows locked. Returns how many were purged now (one
    already a tombstone counts as neither). Audited once (comms.message.purged: the ids purged,
    the ids refused for a hold, the reason)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("a purge needs a reason")
    result = messages_purge(message_ids=message_ids)
    if result.messages or result.held:
        audit.record(
            actor=actor,
            action="comms.message.purged",
            data={
                "reason": reason[:500],
                "messages": result.messages,
                "held": result.held,
                "revisions": result.revisions,
                "files": result.files,
            },
        )
    return len(result.messages)

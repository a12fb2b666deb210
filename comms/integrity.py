"""Messages, their revisions and their files held to the digests their audit events recorded
(audit.record_checks; `verify_audit` runs this once the chain verified).

- A message's text: the SHA-256 of its body equals `body_sha256` of the newest of its events
  that carries one (sent, received or posted; edited; retracted).
- Its revisions: the n-th revision (oldest first) holds the text the n-th edit replaced
  (`previous_sha256` of the n-th comms.message.edited event), and there are as many of each.
- A file: its stored bytes hash to `sha256` of its comms.attachment.uploaded event (and of its
  row).
- A tombstone (comms.services.purge): its text is empty and the digest it kept (`body_sha256`,
  of the message and of each revision) stands for the text; a purged file's bytes are gone and
  only its row's `sha256` is compared.

Streamed in pk order, BATCH messages or files at a time with their events in one query.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterator

from audit.models import AuditEvent
from audit.record_checks import Mismatch, Tally
from comms.models import Attachment, Message, MessageRevision

BATCH = 2000
MESSAGE = "comms.message"
ATTACHMENT = "comms.attachment"
EDITED = "comms.message.edited"
UPLOADED = "comms.attachment.uploaded"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _digest(body: str, purged_at, kept: str) -> str:
    """A text's digest: computed, or for a tombstone the one kept when its text was purged."""
    return kept if purged_at is not None else _sha256(body)


def _events(target_type: str, ids: list[int]) -> dict[int, list[tuple[int, str, dict]]]:
    by_target: dict[int, list[tuple[int, str, dict]]] = defaultdict(list)
    rows = (
        AuditEvent.objects.filter(target_type=target_type, target_id__in=[str(i) for i in ids])
        .order_by("seq")
        .values_list("target_id", "seq", "action", "data")
    )
    for target_id, seq, action, data in rows:
        by_target[int(target_id)].append((seq, action, data or {}))
    return by_target


def _chunks(queryset, fields: tuple[str, ...]):
    last = 0
    while True:
        rows = list(queryset.filter(pk__gt=last).order_by("pk").values_list(*fields)[:BATCH])
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def check_messages(tally: Tally) -> Iterator[Mismatch]:
    for rows in _chunks(Message.objects.all(), ("pk", "body", "purged_at", "body_sha256")):
        ids = [row[0] for row in rows]
        events = _events(MESSAGE, ids)
        revisions: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for pk, message_id, body, purged_at, kept in (
            MessageRevision.objects.filter(message_id__in=ids)
            .order_by("edited_at", "pk")
            .values_list("pk", "message_id", "body", "purged_at", "body_sha256")
        ):
            revisions[message_id].append((pk, _digest(body, purged_at, kept)))
        for pk, body, purged_at, kept in rows:
            tally["messages"] += 1
            mine = events.get(pk, [])
            holding = [(seq, data) for seq, _, data in mine if "body_sha256" in data]
            if not holding:
                yield Mismatch(f"message {pk}", "no audit event records its text's digest")
                return
            seq, data = holding[-1]
            if purged_at is not None and body:
                yield Mismatch(f"message {pk}", "a purged message holds text")
                return
            if _digest(body, purged_at, kept) != data["body_sha256"]:
                what = "its kept digest (purged)" if purged_at is not None else "its text"
                yield Mismatch(
                    f"message {pk}",
                    f"{what} differs from the digest audit event seq {seq} recorded",
                )
                return
            edits = [(seq, data) for seq, action, data in mine if action == EDITED]
            versions = revisions.get(pk, [])
            if len(versions) != len(edits):
                yield Mismatch(
                    f"message {pk}",
                    f"{len(versions)} earlier versions kept, {len(edits)} edits audited",
                )
                return
            for (revision, digest), (seq, data) in zip(versions, edits, strict=True):
                tally["revisions"] += 1
                if digest != data.get("previous_sha256"):
                    yield Mismatch(
                        f"revision {revision} of message {pk}",
                        f"its text differs from the digest audit event seq {seq} recorded",
                    )
                    return


def check_files(tally: Tally) -> Iterator[Mismatch]:
    for rows in _chunks(Attachment.objects.all(), ("pk", "name", "sha256", "file", "purged_at")):
        events = _events(ATTACHMENT, [row[0] for row in rows])
        for pk, name, sha256, path, purged_at in rows:
            tally["files"] += 1
            mine = events.get(pk, [])
            uploaded = [(seq, data) for seq, action, data in mine if action == UPLOADED]
            if not uploaded:
                yield Mismatch(f"file {pk} ({name})", "no audit event records its upload")
                return
            seq, data = uploaded[0]
            if sha256 != data.get("sha256"):
                yield Mismatch(
                    f"file {pk} ({name})",
                    f"its recorded digest differs from audit event seq {seq}",
                )
                return
            if purged_at is not None:
                continue  # its bytes were deleted on purpose; the row's digest was checked
            field = Attachment._meta.get_field("file")
            digest = hashlib.sha256()
            try:
                with field.storage.open(path, "rb") as handle:
                    for chunk in iter(lambda h=handle: h.read(1 << 20), b""):
                        digest.update(chunk)
            except OSError as error:
                yield Mismatch(f"file {pk} ({name})", f"its bytes cannot be read ({error})")
                return
            if digest.hexdigest() != data.get("sha256"):
                yield Mismatch(
                    f"file {pk} ({name})",
                    f"its bytes differ from the digest audit event seq {seq} recorded",
                )
                return

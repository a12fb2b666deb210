"""Exports of what a search found: services, selectors and the writer the Celery task runs.

An export holds every conversation in which the search matched a message, whole (each message
with all its earlier versions, its retraction and its files), plus the audit events about them
and the latest signed audit checkpoint (governance.archive describes the zip). The writer reads
conversations a chunk at a time and messages as an iterator, and streams each file into the zip
on disk: memory stays the same whatever the export's size.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import os
import tempfile
import zipfile
from email import quoprimime
from email.header import Header
from email.utils import format_datetime
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import BigIntegerField, Case, CharField, OuterRef, Q, Subquery, When
from django.db.models.functions import Cast
from django.http import Http404
from django.utils import timezone

import audit
from audit.models import AuditCheckpoint, AuditEvent
from audit.serialization import dumps_data, format_time
from audit.services import checkpoint_create, checkpoint_document
from comms.models import Attachment, Conversation, Message, MessageRevision, Participant
from crm.models import ContactEmail
from governance import archive, permissions, search
from governance.models import ExportJob

log = logging.getLogger(__name__)

CONVERSATION_CHUNK = 200
MESSAGE_CHUNK = 2000
SPOOL_BYTES = 4 << 20  # a transcript larger than this goes to a temporary file, not memory
# SQLite refuses statements with more than 999 bound values on older builds.
IN_CHUNK = 900


def export_dir() -> Path:
    path = Path(settings.GOVERNANCE_EXPORT_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


# --- services and selectors ---------------------------------------------------------------


@transaction.atomic
def export_request(*, requester, criteria: search.Criteria, request=None) -> ExportJob:
    """Queue an export of what `criteria` finds. Audited (governance.export.requested); the
    Celery task is queued after commit."""
    permissions.require_console(requester)
    job = ExportJob.objects.create(requester=requester, params=criteria.params())
    audit.record(
        actor=requester,
        action="governance.export.requested",
        target=job,
        data={"search": job.params},
        request=request,
    )
    from governance import export_tasks

    transaction.on_commit(lambda: export_tasks.export_run.delay(job_id=job.pk))
    return job


def export_list_for(user, *, limit: int = 100) -> list[ExportJob]:
    permissions.require_console(user)
    return list(ExportJob.objects.select_related("requester")[:limit])


def export_get_for(user, job_id: int) -> ExportJob:
    permissions.require_console(user)
    job = ExportJob.objects.select_related("requester").filter(pk=job_id).first()
    if job is None:
        raise Http404
    return job


def export_download(*, user, job_id: int, request=None) -> ExportJob:
    """The job whose file `user` may download now (Http404 otherwise). Audited
    (governance.export.downloaded, with the file's SHA-256)."""
    job = export_get_for(user, job_id)
    if not permissions.can_download_export(user, job) or not Path(job.file_path).is_file():
        raise Http404
    audit.record(
        actor=user,
        action="governance.export.downloaded",
        target=job,
        data={"sha256": job.sha256},
        request=request,
    )
    return job


def export_run(*, job_id: int) -> ExportJob | None:
    """Write the job's zip (the Celery task's body). Idempotent: a finished job is left alone,
    a redelivered one starts over. Audited (governance.export.completed or .failed)."""
    job = ExportJob.objects.select_related("requester").filter(pk=job_id).first()
    if job is None or job.status == ExportJob.Status.DONE:
        return job
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.RUNNING, started_at=timezone.now(), done=0, error=""
    )
    try:
        path, digest, size, counts = write_archive(job)
    except Exception as error:
        log.exception("export %s failed", job.pk)
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportJob.Status.FAILED, error=str(error)[:2000], finished_at=timezone.now()
        )
        audit.record(
            actor=audit.SYSTEM,
            action="governance.export.failed",
            target=job,
            data={"error": str(error)[:500]},
        )
        raise
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.DONE,
        file_path=str(path),
        sha256=digest,
        size=size,
        done=counts["messages"],
        total=counts["messages"],
        conversations=counts["conversations"],
        finished_at=timezone.now(),
    )
    audit.record(
        actor=audit.SYSTEM,
        action="governance.export.completed",
        target=job,
        data={"sha256": digest, "size": size, **counts},
    )
    job.refresh_from_db()
    return job


# --- the writer ---------------------------------------------------------------------------


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _t(value: dt.datetime | None) -> str | None:
    return format_time(value) if value else None


def _person(username, first, last) -> str:
    name = f"{first or ''} {last or ''}".strip()
    return f"{name} ({username})" if name and username else (name or username or "")


_MESSAGE_FIELDS = (
    "id",
    "conversation_id",
    "direction",
    "body",
    "client_id",
    "created_at",
    "status",
    "external_id",
    "edited_at",
    "retracted",
    "retracted_at",
    "author_user_id",
    "author_user__username",
    "author_user__first_name",
    "author_user__last_name",
    "author_user__email",
    "author_contact_id",
    "author_contact__first_name",
    "author_contact__last_name",
    "retracted_by__username",
)


def _conversation_record(
    conversation: Conversation, participants: list[dict], email: str | None
) -> dict:
    contact = conversation.contact
    return {
        "type": "conversation",
        "id": conversation.pk,
        "kind": conversation.kind,
        "status": conversation.status,
        "subject": conversation.subject,
        "created_at": _t(conversation.created_at),
        "contact": {"id": contact.pk, "name": str(contact), "email": email} if contact else None,
        "deal": {"id": conversation.deal_id, "title": conversation.deal.title}
        if conversation.deal_id
        else None,
        "company": {"id": conversation.company_id, "name": str(conversation.company)}
        if conversation.company_id
        else None,
        "assignee": conversation.assignee.get_username() if conversation.assignee_id else None,
        "participants": participants,
    }


def _message_record(row: dict, revisions: list[dict], files: list[dict]) -> dict:
    if row["author_user_id"]:
        author = {
            "user": row["author_user_id"],
            "name": _person(
                row["author_user__username"],
                row["author_user__first_name"],
                row["author_user__last_name"],
            ),
        }
    elif row["author_contact_id"]:
        author = {
            "contact": row["author_contact_id"],
            "name": _person(
                "", row["author_contact__first_name"], row["author_contact__last_name"]
            ),
        }
    else:
        author = None
    return {
        "type": "message",
        "id": row["id"],
        "conversation": row["conversation_id"],
        "direction": row["direction"],
        "author": author,
        "created_at": _t(row["created_at"]),
        "body": row["body"],
        "status": row["status"],
        "external_id": row["external_id"],
        "client_id": str(row["client_id"]) if row["client_id"] else None,
        "edited_at": _t(row["edited_at"]),
        "revisions": revisions,
        "retracted": row["retracted"],
        "retracted_at": _t(row["retracted_at"]),
        "retracted_by": row["retracted_by__username"],
        "attachments": files,
    }


def _html_message(record: dict) -> str:
    e = html.escape
    author = e(record["author"]["name"]) if record["author"] else "—"
    parts = [
        f'<article id="m{record["id"]}" class="{e(record["direction"])}">'
        f"<p><b>{author}</b> <time>{e(record['created_at'] or '')}</time>"
        f" <small>#{record['id']} {e(record['direction'])}</small></p>"
        f"<p>{e(record['body'])}</p>"
    ]
    if record["revisions"]:
        parts.append("<p><small>Earlier versions:</small></p><ol>")
        parts += [
            f"<li><time>{e(r['edited_at'] or '')}</time> ({e(r['editor'] or '')}): "
            f"{e(r['body'])}</li>"
            for r in record["revisions"]
        ]
        parts.append("</ol>")
    if record["retracted"]:
        parts.append(
            f"<p><small>Retracted {e(record['retracted_at'] or '')} by "
            f"{e(record['retracted_by'] or '')}</small></p>"
        )
    for file in record["attachments"]:
        parts.append(f"<p><small>File: {e(file['name'])} ({file['size']} bytes)</small></p>")
    parts.append("</article>\n")
    return "".join(parts)


def _html_head(conversation: Conversation) -> str:
    title = html.escape(f"{conversation} (#{conversation.pk}, {conversation.kind})")
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8">'
        f"<title>{title}</title></head><body><h1>{title}</h1>\n"
    )


def _header(value: str) -> str:
    """A header value: as is when plain ASCII on one line, else RFC 2047 encoded words."""
    value = " ".join(value.split())
    if value.isascii():
        return value
    return Header(value, "utf-8").encode()


def _eml(conversation: Conversation, email: str | None, record: dict, row: dict) -> bytes:
    """The message as RFC 5322 bytes: headers written here (the email package's header objects
    and folding cost ~1 ms a message, a fifth of the export's budget), encoded with its helpers
    (RFC 2047 words, RFC 5322 dates, quoted-printable UTF-8 body)."""
    staff = row["author_user__email"] or f"{row['author_user__username']}@keepline.invalid"
    contact = email or "contact@keepline.invalid"
    if row["direction"] == Message.Direction.INBOUND:
        sender, recipient = contact, "staff@keepline.invalid"
    else:
        sender, recipient = staff, contact
    external = row["external_id"]
    message_id = (
        f"<{external}>"
        if external and "@" in external and external.isascii() and " " not in external
        else f"<keepline-{row['id']}@keepline.invalid>"
    )
    headers = [
        ("From", _header(sender)),
        ("To", _header(recipient)),
        ("Subject", _header(conversation.subject or f"Conversation {conversation.pk}")),
        ("Date", format_datetime(row["created_at"])),
        ("Message-ID", message_id),
        ("X-Keepline-Message", str(row["id"])),
    ]
    if record["retracted"]:
        headers.append(("X-Keepline-Retracted", record["retracted_at"] or "yes"))
    if record["revisions"]:
        headers.append(("X-Keepline-Earlier-Versions", str(len(record["revisions"]))))
    headers += [
        ("MIME-Version", "1.0"),
        ("Content-Type", 'text/plain; charset="utf-8"'),
        ("Content-Transfer-Encoding", "quoted-printable"),
    ]
    # quoprimime encodes characters as bytes: give it the UTF-8 bytes, one character each.
    text = (record["body"] or "").replace("\r\n", "\n").encode().decode("latin-1")
    body = quoprimime.body_encode(text, eol="\r\n")
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    return f"{head}\r\n{body}\r\n".encode("ascii")


def _events(conversation_ids: list[int], file_ids: list[int]):
    """The audit events about these conversations, messages and files, in ledger order."""
    as_text = lambda ids: [str(i) for i in ids]  # noqa: E731
    condition = Q(target_type="comms.conversation", target_id__in=as_text(conversation_ids))
    if file_ids:
        condition |= Q(target_type="comms.attachment", target_id__in=as_text(file_ids))
    messages = (
        Message.objects.filter(conversation_id__in=conversation_ids)
        .annotate(text_id=Cast("id", CharField()))
        .values("text_id")
    )
    condition |= Q(target_type="comms.message", target_id__in=messages)
    # The conversation each event belongs to, so they come grouped by conversation (then in
    # ledger order) and each conversation's file is written as they stream.
    target = Cast(OuterRef("target_id"), BigIntegerField())
    owner = Case(
        When(target_type="comms.conversation", then=Cast("target_id", BigIntegerField())),
        When(
            target_type="comms.message",
            then=Subquery(Message.objects.filter(id=target).values("conversation_id")[:1]),
        ),
        default=Subquery(Attachment.objects.filter(id=target).values("conversation_id")[:1]),
        output_field=BigIntegerField(),
    )
    return (
        AuditEvent.objects.filter(condition)
        .annotate(owner=owner)
        .order_by("owner", "seq")
        .values()
        .iterator(chunk_size=2000)
    )


def _event_record(event: dict) -> dict:
    return {
        "seq": event["seq"],
        "version": event["version"],
        "time": format_time(event["created_at"]),
        "actor_type": event["actor_type"],
        "actor_id": event["actor_id"],
        "actor_label": event["actor_label"],
        "action": event["action"],
        "target_type": event["target_type"],
        "target_id": event["target_id"],
        "target_label": event["target_label"],
        "data": event["data"],
        "data_text": dumps_data(event["data"]),
        "ip": event["ip"],
        "user_agent": event["user_agent"],
        "request_id": event["request_id"],
        "prev_hash": event["prev_hash"],
        "hash": event["hash"],
    }


def _line(record: dict) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def _checkpoint() -> dict | None:
    """A checkpoint signing the ledger as it stands (so it covers every exported event), or the
    latest one when no signing key is configured here."""
    try:
        checkpoint = checkpoint_create()
    except ImproperlyConfigured:
        checkpoint = AuditCheckpoint.objects.order_by("-seq", "-id").first()
    return checkpoint_document(checkpoint) if checkpoint else None


class _Progress:
    def __init__(self, job: ExportJob):
        self.job_id, self.done = job.pk, 0

    def add(self, count: int) -> None:
        self.done += count
        ExportJob.objects.filter(pk=self.job_id).update(done=self.done)


def write_archive(job: ExportJob, *, directory: Path | None = None):
    """Write the job's zip; returns (path, SHA-256 of the zip, size, counts)."""
    criteria = search.Criteria.from_params(job.params)
    conversations = search.conversation_ids(criteria)
    total = sum(
        Message.objects.filter(conversation_id__in=chunk).count()
        for chunk in _chunks(conversations, IN_CHUNK)
    )
    ExportJob.objects.filter(pk=job.pk).update(total=total, conversations=len(conversations))
    directory = directory or export_dir()
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    final = directory / f"keepline-export-{job.pk}-{stamp}.zip"
    partial = final.with_suffix(".zip.part")
    progress = _Progress(job)
    counts = {"conversations": 0, "messages": 0, "revisions": 0, "files": 0, "audit_events": 0}
    with zipfile.ZipFile(partial, "w", allowZip64=True) as zf:
        writer = archive.Writer(zf)
        for chunk in _chunks(conversations, CONVERSATION_CHUNK):
            _write_chunk(writer, chunk, counts, progress)
        writer.finish(
            {
                "format": archive.FORMAT,
                "generated_at": format_time(timezone.now()),
                "export": job.pk,
                "requester": {
                    "id": job.requester_id,
                    "username": job.requester.get_username(),
                    "name": job.requester.get_full_name(),
                },
                "search": job.params,
                "counts": counts,
                "checkpoint": _checkpoint(),
            }
        )
    digest, size = _file_digest(partial)
    os.replace(partial, final)
    return final, digest, size, counts


def _file_digest(path: Path) -> tuple[str, int]:
    import hashlib

    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while block := fh.read(archive.BLOCK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _write_chunk(writer: archive.Writer, chunk: list[int], counts: dict, progress) -> None:
    conversations = {
        c.pk: c
        for c in Conversation.objects.filter(id__in=chunk).select_related(
            "contact", "deal", "company", "assignee"
        )
    }
    contact_of = {c.pk: c.contact_id for c in conversations.values() if c.contact_id}
    primary: dict[int, str] = {}
    for contact_id, address in (
        ContactEmail.objects.filter(contact_id__in=set(contact_of.values()))
        .order_by("contact_id", "-is_primary", "id")
        .values_list("contact_id", "email")
    ):
        primary.setdefault(contact_id, address)
    emails = {pk: primary.get(contact_id) for pk, contact_id in contact_of.items()}
    participants: dict[int, list[dict]] = {}
    for p in Participant.objects.filter(conversation_id__in=chunk).values(
        "conversation_id", "role", "user__username", "contact_id", "joined_at", "left_at"
    ):
        participants.setdefault(p["conversation_id"], []).append(
            {
                "role": p["role"],
                "user": p["user__username"],
                "contact": p["contact_id"],
                "joined_at": _t(p["joined_at"]),
                "left_at": _t(p["left_at"]),
            }
        )
    revisions: dict[int, list[dict]] = {}
    for r in (
        MessageRevision.objects.filter(message__conversation_id__in=chunk)
        .order_by("message_id", "id")
        .values_list("message_id", "body", "editor__username", "edited_at")
    ):
        revisions.setdefault(r[0], []).append({"body": r[1], "editor": r[2], "edited_at": _t(r[3])})
    files: dict[int, list[dict]] = {}
    stored: list[tuple[int, dict, str]] = []
    for a in Attachment.objects.filter(conversation_id__in=chunk).order_by("id").values():
        name = f"attachments/{a['conversation_id']}/{a['id']}-{archive.safe_name(a['name'])}"
        meta = {
            "id": a["id"],
            "name": a["name"],
            "content_type": a["content_type"],
            "size": a["size"],
            "sha256": a["sha256"],
            "uploaded_at": _t(a["created_at"]),
            "path": name,
        }
        files.setdefault(a["message_id"] or 0, []).append(meta)
        stored.append((a["conversation_id"], meta, a["file"]))
    messages = (
        Message.objects.filter(conversation_id__in=chunk)
        .order_by("conversation_id", "id")
        .values(*_MESSAGE_FIELDS)
        .iterator(chunk_size=MESSAGE_CHUNK)
    )
    current: _Transcript | None = None
    pending = 0
    for row in messages:
        if current is None or current.conversation.pk != row["conversation_id"]:
            if current is not None:
                current.close(writer)
            conversation = conversations[row["conversation_id"]]
            current = _Transcript(
                conversation, participants.get(conversation.pk, []), emails.get(conversation.pk)
            )
            counts["conversations"] += 1
        record = _message_record(row, revisions.get(row["id"], []), files.get(row["id"], []))
        current.add(writer, record, row)
        counts["messages"] += 1
        counts["revisions"] += len(record["revisions"])
        pending += 1
        if pending >= MESSAGE_CHUNK:
            progress.add(pending)
            pending = 0
    if current is not None:
        current.close(writer)
    for conversation_id in chunk:  # conversations without messages (a file alone, or none)
        if conversation_id not in writer.seen_conversations:
            _Transcript(
                conversations[conversation_id], participants.get(conversation_id, [])
            ).close(writer)
            counts["conversations"] += 1
    progress.add(pending)
    for _conversation_id, meta, path in stored:
        try:
            with default_storage.open(path, "rb") as fh:
                writer.add(meta["path"], fh, compress=False)
            counts["files"] += 1
        except FileNotFoundError:
            raise RuntimeError(
                f"file {meta['id']} ({meta['name']}) is missing from storage"
            ) from None
    _write_events(writer, chunk, [meta["id"] for _c, meta, _p in stored], counts)


def _write_events(writer: archive.Writer, chunk: list[int], file_ids: list[int], counts) -> None:
    """audit/<id>.jsonl for each conversation of the chunk (empty when none), streamed."""
    order, wanted = sorted(chunk), set(chunk)
    position, current, spool = 0, None, None

    def close():
        spool.seek(0)
        writer.add(f"audit/{current}.jsonl", spool)
        spool.close()

    for event in _events(chunk, file_ids):
        owner = event["owner"]
        if owner is None or owner < (current or 0) or owner not in wanted:
            continue  # not one of these conversations' (cannot happen: the filter says so)
        while current != owner:
            if current is not None:
                close()
            current, position = order[position], position + 1
            spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
        spool.write(_line(_event_record(event)))
        counts["audit_events"] += 1
    if current is not None:
        close()
    for conversation_id in order[position:]:
        writer.add(f"audit/{conversation_id}.jsonl", b"")


class _Transcript:
    """One conversation's JSONL and HTML, spooled (memory, then disk when large) until the
    conversation ends, then copied into the zip; email messages go in as they come."""

    def __init__(self, conversation: Conversation, participants: list[dict], email: str | None):
        self.conversation, self.email = conversation, email
        self.jsonl = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
        self.html = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
        self.jsonl.write(_line(_conversation_record(conversation, participants, email)))
        self.html.write(_html_head(conversation).encode())
        self.emails: list[tuple[str, bytes]] = []

    def add(self, writer: archive.Writer, record: dict, row: dict) -> None:
        self.jsonl.write(_line(record))
        self.html.write(_html_message(record).encode())
        if self.conversation.kind == Conversation.Kind.EMAIL:
            name = f"email/{self.conversation.pk}/{record['id']}.eml"
            writer.add(name, _eml(self.conversation, self.email, record, row))

    def close(self, writer: archive.Writer) -> None:
        pk = self.conversation.pk
        writer.seen_conversations.add(pk)
        self.html.write(b"</body></html>\n")
        for name, spool in (
            (f"conversations/{pk}.jsonl", self.jsonl),
            (f"transcripts/{pk}.html", self.html),
        ):
            spool.seek(0)
            writer.add(name, spool)
            spool.close()

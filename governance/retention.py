"""Retention: what is past its period and not on hold, and the nightly purge of it.

Periods come from RetentionPolicy rows (admins set them); where none exists, messages are kept
six years (DEFAULT_MESSAGE_DAYS) and files, closed conversations and audit events have no period
of their own (files go with their messages). Classes:

- `messages:<channel>`: messages of conversations of that channel, sent before the cut-off;
- `closed_conversations`: every message of a closed conversation whose last message is older;
- `attachments`: files uploaded before the cut-off (their bytes; the message text stays);
- `audit_events`: reported only. The ledger is append-only and hash-chained (audit/ddl.py):
  deleting its rows would break the chain every checkpoint signed, so none is ever deleted.

A purge makes tombstones through comms.services.purge, which re-checks legal holds with the
rows locked, in batches of BATCH ids (one transaction each, constant queries per batch), and
records one audit event per run (governance.retention.purged) with its counts, also when the
run stops early (time budget RETENTION_PURGE_MAX_SECONDS, or an error).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Min, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

import audit
from audit.models import AuditEvent
from comms.models import Attachment, Conversation, Message
from comms.services.purge import BATCH, files_purge, messages_purge
from config.errors import Invalid
from governance import permissions
from governance.holds import active_holds, exclude_held, held_q
from governance.models import LegalHold, RetentionPolicy
from governance.models.retention import DEFAULT_MESSAGE_DAYS

RecordClass = RetentionPolicy.RecordClass
MESSAGE_CLASSES = {f"messages:{kind}": kind for kind in Conversation.Kind.values}
MAX_DAYS = 100 * 366
LEDGER_NOTE = (
    "Audit events are never deleted: the ledger is append-only and hash-chained, so only what"
    " would be past retention is reported."
)


@dataclass
class ClassReport:
    record_class: str
    label: str
    period_days: int | None  # None: no period, kept
    cutoff: datetime | None
    due: int = 0  # past retention and not on hold
    held: int = 0  # past retention but on hold
    oldest: datetime | None = None  # the oldest item due
    purged: int = 0


@dataclass
class RetentionReport:
    now: datetime
    dry_run: bool
    classes: list[ClassReport] = field(default_factory=list)
    files_with_messages: int = 0  # files whose messages were purged
    revisions: int = 0
    refused_held: int = 0  # put on hold between the count and the purge
    complete: bool = True
    note: str = LEDGER_NOTE

    def by_class(self) -> dict[str, ClassReport]:
        return {row.record_class: row for row in self.classes}

    def counts(self) -> dict:
        return {
            "purged": {row.record_class: row.purged for row in self.classes if row.purged},
            "held": {row.record_class: row.held for row in self.classes if row.held},
            "audit_events_past_retention": self.by_class()[RecordClass.AUDIT_EVENTS].due,
            "files_with_messages": self.files_with_messages,
            "revisions": self.revisions,
            "refused_held": self.refused_held,
            "complete": self.complete,
        }


def policy_periods() -> dict[str, int | None]:
    """Each record class's period in days (None: kept), defaults applied. One query."""
    return policy_periods_from({p.record_class: p for p in RetentionPolicy.objects.all()})


def _due(record_class: str, cutoff: datetime) -> QuerySet:
    """The rows of a class past its cut-off and not yet purged (holds not applied)."""
    if record_class in MESSAGE_CLASSES:
        return Message.objects.filter(
            purged_at__isnull=True,
            conversation__kind=MESSAGE_CLASSES[record_class],
            created_at__lt=cutoff,
        )
    if record_class == RecordClass.CLOSED_CONVERSATIONS:
        return Message.objects.filter(
            purged_at__isnull=True,
            conversation__status=Conversation.Status.CLOSED,
            conversation__last_message_at__lt=cutoff,
        )
    if record_class == RecordClass.ATTACHMENTS:
        return Attachment.objects.filter(purged_at__isnull=True, created_at__lt=cutoff)
    return AuditEvent.objects.filter(created_at__lt=cutoff)


def _measure(row: ClassReport, holds: list[LegalHold]) -> None:
    due = _due(row.record_class, row.cutoff)
    if row.record_class == RecordClass.AUDIT_EVENTS or not holds:
        found = due.aggregate(n=Count("pk"), oldest=Min("created_at"))
        row.due, row.oldest = found["n"], found["oldest"]
        return
    free = exclude_held(due, holds).aggregate(n=Count("pk"), oldest=Min("created_at"))
    row.due, row.oldest = free["n"], free["oldest"]
    row.held = due.filter(held_q(due.model, holds)).count()


def retention_report(*, now: datetime | None = None) -> RetentionReport:
    """What a purge would do now: per class, how many items are past retention and not on hold,
    how many are held, and the oldest. Changes nothing. Constant queries (two per class)."""
    now = now or timezone.now()
    report = RetentionReport(now=now, dry_run=True)
    holds = list(active_holds())
    labels = dict(RecordClass.choices)
    for record_class, days in policy_periods().items():
        cutoff = now - timedelta(days=days) if days else None
        row = ClassReport(record_class, str(labels[record_class]), days, cutoff)
        if cutoff is not None:
            _measure(row, holds)
        report.classes.append(row)
    return report


def _purge_class(row: ClassReport, report: RetentionReport, deadline: float) -> None:
    last = 0
    while time.monotonic() < deadline:
        due = exclude_held(_due(row.record_class, row.cutoff))
        ids = list(due.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:BATCH])
        if not ids:
            return
        last = ids[-1]
        with transaction.atomic():
            if row.record_class == RecordClass.ATTACHMENTS:
                purged, held = files_purge(attachment_ids=ids, now=report.now)
                row.purged += purged
                report.refused_held += len(held)
            else:
                result = messages_purge(message_ids=ids, now=report.now)
                row.purged += len(result.messages)
                report.refused_held += len(result.held)
                report.files_with_messages += result.files
                report.revisions += result.revisions
    report.complete = False


def retention_purge(*, now: datetime | None = None, dry_run: bool = False) -> RetentionReport:
    """Purge what is past retention and not on hold (see the module's docstring); with
    `dry_run`, only report it. One audit event per run that purges (governance.retention.purged,
    actor: system), with the counts, whether it completed, and the ledger's note."""
    report = retention_report(now=now)
    if dry_run:
        return report
    report.dry_run = False
    deadline = time.monotonic() + settings.RETENTION_PURGE_MAX_SECONDS
    try:
        for row in report.classes:
            if row.cutoff is None or row.record_class == RecordClass.AUDIT_EVENTS:
                continue
            if row.due:
                _purge_class(row, report, deadline)
    except BaseException:
        report.complete = False
        raise
    finally:
        audit.record(
            actor=audit.SYSTEM,
            action="governance.retention.purged",
            data={**report.counts(), "note": report.note, "at": report.now},
        )
    return report


# --- policies ------------------------------------------------------------------------------


def policy_rows() -> list[dict]:
    """Each record class with its period (or the default) and whether a policy row sets it."""
    rows = {p.record_class: p for p in RetentionPolicy.objects.select_related("updated_by")}
    periods = policy_periods_from(rows)
    return [
        {
            "record_class": value,
            "label": label,
            "period_days": periods[value],
            "policy": rows.get(value),
        }
        for value, label in RecordClass.choices
    ]


def policy_periods_from(rows: dict[str, RetentionPolicy]) -> dict[str, int | None]:
    return {
        value: (
            rows[value].period_days
            if value in rows
            else (DEFAULT_MESSAGE_DAYS if value in MESSAGE_CLASSES else None)
        )
        for value in RecordClass.values
    }


@transaction.atomic
def retention_policy_set(
    *, actor, record_class: str, period_days, request=None
) -> RetentionPolicy | None:
    """Set (a number of days) or clear (None or "": back to the default) one class's period.
    Admins only (others: Http404). Audited (governance.retention.changed, before and after)."""
    permissions.require_set_retention(actor)
    if record_class not in RecordClass.values:
        raise Invalid(fields={"record_class": _("Unknown record class.")})
    if period_days in (None, ""):
        days = None
    else:
        try:
            days = int(period_days)
        except (TypeError, ValueError):
            raise Invalid(fields={"period_days": _("Enter a whole number of days.")}) from None
        if not 1 <= days <= MAX_DAYS:
            raise Invalid(
                fields={"period_days": _("Enter between 1 and %(max)d days.") % {"max": MAX_DAYS}}
            )
    current = RetentionPolicy.objects.select_for_update().filter(record_class=record_class)
    before = current.values_list("period_days", flat=True).first()
    if days == before:
        return current.first()
    if days is None:
        current.delete()
        policy = None
    else:
        policy, _created = RetentionPolicy.objects.update_or_create(
            record_class=record_class,
            defaults={"period_days": days, "updated_by": actor, "updated_at": timezone.now()},
        )
    audit.record(
        actor=actor,
        action="governance.retention.changed",
        target=("governance.retentionpolicy", record_class, record_class),
        data={"record_class": record_class, "before": before, "after": days},
        request=request,
    )
    return policy

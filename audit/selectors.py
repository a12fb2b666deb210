"""Every read of the ledger a person sees, already permission-checked (forbidden: Http404)."""

from collections.abc import Collection

from django.db.models import Model, QuerySet

from audit import permissions
from audit.models import AuditCheckpoint, AuditEvent

PAGE_SIZE = 50


def _filtered(
    qs: QuerySet,
    *,
    actor: str | None = None,
    action: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    since=None,
    until=None,
) -> QuerySet:
    if actor:
        qs = qs.filter(actor_id=int(actor)) if actor.isdigit() else qs.filter(actor_label=actor)
    if action:
        if action.endswith((".", "*")):
            qs = qs.filter(action__startswith=action.rstrip("*"))
        else:
            qs = qs.filter(action=action)
    if target_type:
        qs = qs.filter(target_type=target_type)
    if target_id:
        qs = qs.filter(target_id=target_id)
    if since:
        qs = qs.filter(created_at__gte=since)
    if until:
        qs = qs.filter(created_at__lt=until)
    return qs


def event_list_for(user, **filters) -> QuerySet[AuditEvent]:
    """Newest first. Page it by keyset on seq (seq__lt), never by OFFSET."""
    permissions.require_view_ledger(user)
    return _filtered(AuditEvent.objects.all(), **filters).order_by("-seq")


def event_page_for(user, *, before: int | None = None, size: int = PAGE_SIZE, **filters):
    """(events, next_before): one query; next_before is None on the last page."""
    qs = event_list_for(user, **filters)
    if before:
        qs = qs.filter(seq__lt=before)
    events = list(qs[: size + 1])
    more = len(events) > size
    events = events[:size]
    return events, (events[-1].seq if more else None)


def event_get_for(user, seq: int) -> AuditEvent:
    permissions.require_view_ledger(user)
    from django.shortcuts import get_object_or_404

    return get_object_or_404(AuditEvent, seq=seq)


def events_for_target(
    target: Model, *, exclude_actions: Collection[str] = (), limit: int
) -> list[AuditEvent]:
    """The newest `limit` events recorded about `target` (a model instance), newest first, in one
    query.

    Not permission-checked: for an app showing the history of a record it has already let the
    person see (a deal's timeline), with that app's own rules about which actions to leave out.
    """
    qs = AuditEvent.objects.filter(target_type=target._meta.label_lower, target_id=str(target.pk))
    if exclude_actions:
        qs = qs.exclude(action__in=exclude_actions)
    return list(qs.order_by("-seq")[:limit])


def checkpoint_covering(event: AuditEvent) -> AuditCheckpoint | None:
    """The earliest signed checkpoint at or after the event: it vouches for the event."""
    return AuditCheckpoint.objects.filter(seq__gte=event.seq).order_by("seq", "id").first()

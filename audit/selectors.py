"""Every read of the ledger a person sees, already permission-checked (forbidden: Http404)."""

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from audit import labels, permissions, witness
from audit.models import AuditCheckpoint, AuditEvent, Verification
from audit.services import checkpoint_document
from config.ids import parse_id

PAGE_SIZE = 50

# The ledger knows no other app, so it cannot look a person up by name: the apps that own
# people (accounts: staff, crm: customer contacts) register a finder, text -> [(actor type, id)].
ActorFinder = Callable[[str], Iterable[tuple[str, int]]]
_actor_finders: list[ActorFinder] = []


def register_actor_finder(finder: ActorFinder) -> None:
    if finder not in _actor_finders:
        _actor_finders.append(finder)


def _actor_q(text: str) -> Q:
    """Events by the actor recorded with this label (a username, "system"), or by anyone the
    finders match by name ("Rita Ramos", "rita")."""
    q = Q(actor_label=text)
    found: dict[str, set[int]] = defaultdict(set)
    for finder in _actor_finders:
        for actor_type, pk in finder(text):
            found[actor_type].add(pk)
    for actor_type, ids in found.items():
        q |= Q(actor_type=actor_type, actor_id__in=sorted(ids))
    return q


# ... nor where a record is shown, nor who may open it: the app owning a target type registers a
# linker, (viewer, target ids) -> {target id: URL} for the ids that viewer may open, one query.
TargetLinker = Callable[[object, list[str]], dict[str, str]]
_target_linkers: dict[str, TargetLinker] = {}


def register_target_links(target_type: str, linker: TargetLinker) -> None:
    _target_linkers[target_type] = linker


def target_links_for(user, events: Iterable[AuditEvent]) -> dict[int, str]:
    """seq -> the URL of what the event concerns, for the events whose target `user` may open
    (one query per target type on the page, whatever the page's length)."""
    events = list(events)
    wanted: dict[str, set[str]] = defaultdict(set)
    for event in events:
        if event.target_id and event.target_type in _target_linkers:
            wanted[event.target_type].add(event.target_id)
    urls = {kind: _target_linkers[kind](user, sorted(ids)) for kind, ids in wanted.items()}
    return {
        event.seq: urls[event.target_type][event.target_id]
        for event in events
        if event.target_id in urls.get(event.target_type, {})
    }


def ids_of(target_ids: list[str]) -> list[int]:
    """The numeric ids among a linker's target ids."""
    return [pk for pk in map(parse_id, target_ids) if pk is not None]


def _action_q(text: str) -> Q:
    """An exact action ("comms.message.retracted"), a prefix ending in a dot or "*"
    ("accounts."), or words of what happened ("retracted", "signed in", "retirado", "baixado"),
    matched within the actions' labels in the viewer's language and in English
    (audit.labels) and within the actions' names."""
    if text.endswith((".", "*")):
        return Q(action__startswith=text.rstrip("*"))
    if "." in text:
        return Q(action=text)
    by_name = Q(action__contains="_".join(text.lower().split()))
    codes = labels.codes_matching(text)
    return by_name | Q(action__in=codes) if codes else by_name


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
        actor_id = parse_id(actor)
        qs = qs.filter(actor_id=actor_id) if actor_id is not None else qs.filter(_actor_q(actor))
    if action:
        qs = qs.filter(_action_q(action.strip()))
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


# The nightly verification (audit.tasks.verify_ledger) leaves a day and a half of slack.
VERIFICATION_STALE_AFTER = dt.timedelta(hours=36)


@dataclass
class LedgerStatus:
    last_run: Verification | None  # the newest finished verification
    last_ok: Verification | None  # the newest intact one, when the newest failed
    unfinished: Verification | None  # a run started after it, not (yet) finished
    stale: bool  # no finished verification, or the newest is older than the slack
    checkpoint: AuditCheckpoint | None  # the newest signed checkpoint
    head_seq: int  # the ledger's newest event
    witnesses: list[tuple[Path, bool]] = field(default_factory=list)  # holds the checkpoint?

    @property
    def events_after_checkpoint(self) -> int:
        return self.head_seq - (self.checkpoint.seq if self.checkpoint else 0)

    @property
    def witnessed(self) -> int:
        return sum(held for _, held in self.witnesses)


def ledger_status_for(user) -> LedgerStatus:
    """The ledger's last verification and newest signed checkpoint, with the witness
    directories holding it (compliance console). Five queries at most, at any size."""
    permissions.require_view_ledger(user)
    newest = Verification.objects.first()
    last_run = newest
    if newest is not None and newest.finished_at is None:
        last_run = Verification.objects.filter(finished_at__isnull=False).first()
    last_ok = None
    if last_run is not None and not last_run.ok:
        last_ok = Verification.objects.filter(ok=True).first()
    checkpoint = AuditCheckpoint.objects.order_by("-seq", "-id").first()
    head_seq = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    return LedgerStatus(
        last_run=last_run,
        last_ok=last_ok,
        unfinished=newest if newest is not None and newest.finished_at is None else None,
        stale=last_run is None or last_run.finished_at < timezone.now() - VERIFICATION_STALE_AFTER,
        checkpoint=checkpoint,
        head_seq=head_seq,
        witnesses=witness.holders(checkpoint_document(checkpoint)) if checkpoint else [],
    )

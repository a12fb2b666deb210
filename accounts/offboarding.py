"""Offboarding: a person's whole book moves to their successors in one transaction, and they
are signed out of everything.

`offboarding_plan` checks who may do it and whom the book may go to; `user_offboard` runs every
part of the book (accounts.book: crm's records, comms's conversations) over one Handover, as a
dry run (the preview: counts, and which customers get a continuity message) or for real. For
real, in one transaction: every record's owner moves, conversations are reassigned (successor
in, leaver out, a continuity message to each open customer conversation), the leaver's grants go,
open activities move, the person is deactivated (sessions ended, tokens revoked, sockets closed
after commit), and the ledger gets one summary event and one event per moved record, appended
together. Their messages, files and history stay attributed to them.

Failures: anything raised midway rolls everything back and leaves an Offboarding row "failed"
with the error. A finished offboarding run again returns the same row and changes nothing; two
at once serialise on the person's row and produce one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

import audit
from accounts import book, hierarchy, permissions, realtime
from accounts.models import Offboarding, Team, User
from config import events
from config.errors import Forbidden, Invalid, NotFound, ServiceError

logger = logging.getLogger(__name__)
Mode = Offboarding.Mode


class OffboardingFailed(ServiceError):
    status = 500
    code = "offboarding_failed"

    def __init__(self, offboarding: Offboarding):
        self.offboarding = offboarding
        super().__init__(
            _("Nothing was changed: the offboarding failed (%(error)s).")
            % {"error": offboarding.error}
        )


can_offboard = permissions.can_offboard  # the rule lives in the accounts policy


def offboardable_users_for(actor):
    """People `actor` may offboard (a constant number of queries)."""
    if permissions.is_admin(actor) and permissions.is_active_user(actor):
        return User.objects.exclude(pk=actor.pk)
    if permissions.is_manager(actor) and permissions.is_active_user(actor):
        return User.objects.filter(pk__in=hierarchy.subtree_ids_sql(actor.pk))
    return User.objects.none()


def user_get_for_offboarding(actor, user_id) -> User:
    """The person, if `actor` may offboard them; anyone else is missing (404)."""
    try:
        user = User.objects.select_related("team", "manager").filter(pk=int(user_id)).first()
    except (TypeError, ValueError):
        user = None
    if user is None or not can_offboard(actor, user):
        raise NotFound()
    return user


def _may_receive(actor, leaver, person) -> str | None:
    """Why `person` cannot take the book (None: they can)."""
    if person is None:
        return _("Choose a successor.")
    if person.pk == leaver.pk:
        return _("The successor cannot be the person who leaves.")
    if not person.is_active:
        return _("%(user)s is not an active user.") % {"user": person}
    if permissions.is_read_only(person):
        return _("%(user)s only reads records and cannot take them.") % {"user": person}
    if permissions.is_admin(actor) or person.pk == actor.pk:
        return None
    if actor.pk not in hierarchy.ancestor_ids(person.pk):
        return _("You can only give records to people who report to you.")
    return None


def _person(value) -> User | None:
    if isinstance(value, User):
        return value
    try:
        return User.objects.select_related("team").filter(pk=int(value)).first()
    except (TypeError, ValueError):
        return None


def _ids(mapping, field: str) -> dict[int, int]:
    try:
        return {int(k): int(v) for k, v in (mapping or {}).items() if v not in (None, "")}
    except (TypeError, ValueError, AttributeError):
        raise Invalid(fields={field: _("Name a successor id for each record id.")}) from None


def offboarding_plan(
    *,
    actor: User,
    leaver: User,
    mode: str = Mode.ONE,
    successor=None,
    team=None,
    split: dict | None = None,
    request=None,
) -> book.Handover:
    """Check the choice and turn it into a Handover (not yet run). Refusals: NotFound for a
    person the actor may not offboard, Invalid for a successor or team that cannot take it."""
    if not can_offboard(actor, leaver):
        raise NotFound()
    if mode not in Mode.values:
        raise Invalid(fields={"mode": _("Choose how the book is shared out.")})
    successor = _person(successor) if successor not in (None, "") else None
    if team not in (None, "") and not isinstance(team, Team):
        try:
            team = Team.objects.filter(pk=int(team), archived_at__isnull=True).first()
        except (TypeError, ValueError):
            team = None
        if team is None:
            raise Invalid(fields={"team": _("Choose a team.")})
    split = split or {}
    clean_split = {
        "companies": _ids(split.get("companies"), "split"),
        "deals": _ids(split.get("deals"), "split"),
    }
    successors: list[User] = []
    queue_owner = None
    if mode == Mode.ROUND_ROBIN:
        if team is None:
            raise Invalid(fields={"team": _("Choose the team to share the book across.")})
        members = [
            person
            for person in User.objects.select_related("team")
            .filter(team=team, is_active=True)
            .exclude(pk=leaver.pk)
            .order_by("pk")
            if _may_receive(actor, leaver, person) is None
        ]
        if not members:
            raise Invalid(fields={"team": _("Nobody in this team can take the book.")})
        successors = members
    elif mode == Mode.QUEUE:
        team = team or leaver.team
        if team is None:
            raise Invalid(fields={"team": _("%(user)s is in no team.") % {"user": leaver}})
        lead = team.lead if team.lead_id else None
        queue_owner = lead if lead and _may_receive(actor, leaver, lead) is None else actor
    else:
        refusal = _may_receive(actor, leaver, successor)
        if refusal:
            raise Invalid(fields={"successor": refusal})
        successors = [successor]
    named = set(clean_split["companies"].values()) | set(clean_split["deals"].values())
    if named:
        if mode not in (Mode.BY_COMPANY, Mode.BY_DEAL):
            raise Invalid(fields={"split": _("Only a split names successors per record.")})
        people = {u.pk: u for u in User.objects.select_related("team").filter(pk__in=named)}
        for pk in named:
            refusal = _may_receive(actor, leaver, people.get(pk))
            if refusal:
                raise Invalid(fields={"split": refusal})
        successors += [people[pk] for pk in sorted(named) if pk != successors[0].pk]
    return book.Handover(
        actor=actor,
        leaver=leaver,
        mode=mode,
        successors=successors,
        split=clean_split,
        team=team,
        queue_owner=queue_owner,
        request=request,
    )


COUNT_LABELS = {
    "companies": gettext_lazy("Companies"),
    "contacts": gettext_lazy("Contacts"),
    "deals_open": gettext_lazy("Deals (open)"),
    "deals_closed": gettext_lazy("Deals (closed)"),
    "conversations_open": gettext_lazy("Open conversations"),
    "activities_open": gettext_lazy("Open activities"),
    "grants": gettext_lazy("Records shared with them (grants removed)"),
    "customer_links": gettext_lazy("Customer chat links (they keep working)"),
    "continuity_messages": gettext_lazy("Customers told who continues"),
}


def count_rows(counts: dict) -> list[tuple[str, str, int]]:
    return [(key, str(COUNT_LABELS.get(key, key)), value) for key, value in counts.items()]


@dataclass
class Preview:
    counts: dict
    continuity: list
    successors: list

    @property
    def rows(self) -> list[tuple[str, str, int]]:
        return count_rows(self.counts)


def _run_parts(handover: book.Handover) -> None:
    for part in book.parts():
        part.hand_over(handover)


def user_offboard_preview(handover: book.Handover) -> Preview:
    """What would move, changing nothing: the same parts, in a dry run."""
    handover.dry_run = True
    _run_parts(handover)
    return Preview(
        counts=dict(handover.counts),
        continuity=handover.details.get("continuity", []),
        successors=list(handover.successors),
    )


def _finished(leaver: User) -> Offboarding | None:
    return (
        Offboarding.objects.filter(user=leaver, status=Offboarding.Status.DONE)
        .order_by("-finished_at", "-pk")
        .first()
    )


def user_offboard(handover: book.Handover) -> Offboarding:
    """Run the handover for real (see the module's docstring). Returns the finished
    Offboarding; a person already offboarded (and not reactivated since) gets theirs back.

    The socket events it queues (about six per open conversation) go out together after
    commit, from one event loop (config.events.published_together)."""
    with events.published_together():
        return _offboard(handover)


def _offboard(handover: book.Handover) -> Offboarding:
    try:
        with transaction.atomic():
            return _execute(handover)
    except ServiceError:
        raise
    except Exception as exc:  # noqa: BLE001  (any failure: recorded, then raised)
        logger.exception("offboarding of user %s failed", handover.leaver.pk)
        failed = Offboarding.objects.create(
            user=handover.leaver,
            actor=handover.actor,
            mode=handover.mode,
            successor=handover.successors[0] if handover.successors else None,
            team=handover.team,
            split=_split_json(handover),
            successors=[u.pk for u in handover.successors],
            status=Offboarding.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        raise OffboardingFailed(failed) from exc


def _split_json(handover: book.Handover) -> dict:
    return {
        kind: {str(k): v for k, v in mapping.items()}
        for kind, mapping in handover.split.items()
        if mapping
    }


def _execute(handover: book.Handover) -> Offboarding:
    from accounts import services

    leaver = User.objects.select_for_update().filter(pk=handover.leaver.pk).first()
    if leaver is None:
        raise NotFound()
    if not leaver.is_active and (done := _finished(leaver)) is not None:
        return done  # already offboarded: changes nothing
    if not can_offboard(handover.actor, leaver):
        raise Forbidden()
    handover.leaver = leaver
    handover.dry_run = False
    now = timezone.now()
    offboarding = Offboarding.objects.create(
        user=leaver,
        actor=handover.actor,
        mode=handover.mode,
        successor=handover.successors[0] if handover.successors else None,
        team=handover.team,
        split=_split_json(handover),
        successors=[u.pk for u in handover.successors],
        status=Offboarding.Status.DONE,
        created_at=now,
    )
    handover.offboarding_id = offboarding.pk
    _run_parts(handover)
    was_active = leaver.is_active
    # One statement deactivates the leaver and moves everyone's access_version (the leaver's
    # and the successors': no open socket writes on the role facts it loaded before).
    User.objects.filter(pk__in={leaver.pk, *(u.pk for u in handover.successors)}).update(
        access_version=F("access_version") + 1,
        is_active=Case(When(pk=leaver.pk, then=Value(False)), default=F("is_active")),
    )
    leaver.is_active = False
    offboarding.counts = handover.counts
    offboarding.finished_at = timezone.now()
    offboarding.save(update_fields=["counts", "finished_at"])
    chain = (
        [leaver.manager_id, *hierarchy.ancestor_ids(leaver.manager_id)]
        if (leaver.manager_id)
        else []
    )
    # Sessions end, sockets close, tokens are revoked (after commit, within the layer's reach).
    ended: list[dict] = []
    services.access_end(actor=handover.actor, user=leaver, request=handover.request, events=ended)
    realtime.recheck_users_on_commit(
        {leaver.pk, *(u.pk for u in handover.successors), *chain}, "offboarded"
    )
    summary = {
        "actor": handover.actor,
        "action": "accounts.user.offboarded",
        "target": leaver,
        "data": {
            "offboarding": offboarding.pk,
            "mode": handover.mode,
            "successors": [u.pk for u in handover.successors],
            "team": handover.team.pk if handover.team else None,
            "counts": handover.counts,
        },
        "request": handover.request,
    }
    deactivated = (
        [
            {
                "actor": handover.actor,
                "action": "accounts.user.deactivated",
                "target": leaver,
                "data": {"reason": "offboarding"},
                "request": handover.request,
            }
        ]
        if was_active
        else []
    )
    audit.record_many([summary, *deactivated, *ended, *handover.events], returning=False)
    return offboarding


def holdings_refusal(user: User) -> str | None:
    """Why `user` may not simply be deactivated: they still hold records (None: they hold
    nothing, or the apps that hold records are not installed)."""
    held = [h for h in book.holdings(user) if h.count and h.key != "grants"]
    if not held:
        return None
    summary = ", ".join(f"{h.label}: {h.count}" for h in held)
    return _(
        "%(user)s still holds records (%(summary)s). Offboard them instead: name a successor "
        "or send the book to the team's unassigned queue."
    ) % {"user": user, "summary": summary}


def offboarding_list_for(actor):
    """Offboardings `actor` may see: an admin's all, a manager's those of their subtree."""
    qs = Offboarding.objects.select_related("user", "actor", "successor", "team")
    if permissions.is_admin(actor):
        return qs
    if permissions.is_manager(actor):
        return qs.filter(Q(user_id__in=hierarchy.subtree_ids_sql(actor.pk)) | Q(actor=actor))
    return qs.none()


def _leaver_for_picker(actor, target: str) -> User:
    try:
        return user_get_for_offboarding(actor, target)
    except NotFound:
        raise Http404 from None


def successor_candidates(actor, target: str) -> QuerySet[User]:
    """The offboarding page's successor pickers (accounts.people_search "successor"; target: the
    leaver's id): successor_choices, for an actor who may offboard that person."""
    return successor_choices(actor, _leaver_for_picker(actor, target))


def team_candidates(actor, target: str) -> QuerySet[Team]:
    """The offboarding page's team picker ("offboard-team"): every team not archived."""
    _leaver_for_picker(actor, target)
    return Team.objects.filter(archived_at__isnull=True)


def successor_choices(actor, leaver):
    """People `actor` may give `leaver`'s book to (one query): active, not the leaver, not a
    compliance officer who only reads, and for a manager, themselves or their subtree."""
    from accounts import roles

    qs = User.objects.filter(is_active=True).exclude(pk=leaver.pk)
    if not permissions.is_admin(actor):
        qs = qs.filter(Q(pk__in=hierarchy.subtree_ids_sql(actor.pk)) | Q(pk=actor.pk))
    readers = (
        User.objects.filter(groups__name=roles.COMPLIANCE)
        .exclude(groups__name=roles.ADMIN)
        .exclude(is_superuser=True)
    )
    return qs.exclude(pk__in=readers.values("pk")).select_related("team")

"""Out-of-office cover: between two instants a delegate receives a person's new inbound
conversations. Nothing is scheduled: routing asks `delegate_for(user, at)` when a customer writes
in, so a cover takes effect and ends by itself.

Who may set or cancel a person's cover: the person, anyone above them in the reporting line, an
admin. The delegate is an active person who takes conversations (not a compliance officer only).
A person's covers never overlap (cancelled ones aside), so at any instant at most one applies.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

import audit
from accounts import hierarchy, permissions, roles, selectors
from accounts.models import Cover, User
from config.errors import Forbidden, Invalid, NotFound

# A delegate who is away too hands on to their own delegate, this many hops at most.
MAX_HOPS = 3


# --- policy ---------------------------------------------------------------------------------


# The rules are the accounts policy's (accounts.permissions).
can_manage_cover = permissions.can_manage_cover
takes_conversations = permissions.takes_records


# --- reads ----------------------------------------------------------------------------------


def _live(at: dt.datetime) -> Q:
    return Q(starts_at__lte=at, ends_at__gt=at, cancelled_at__isnull=True)


def delegates_for(user_ids, at: dt.datetime | None = None) -> dict[int, int]:
    """{user id: who receives their new inbound at `at`} for those of `user_ids` under a live
    cover (absent: nobody covers them). A delegate covered at that instant too hands on, at most
    MAX_HOPS hops and never back round a loop (the chain stops at the last person not yet seen).

    One query when nobody is covered; one more per hop only while delegates are away too."""
    at = at or timezone.now()
    wanted = {int(u) for u in user_ids if u is not None}
    if not wanted:
        return {}
    hop: dict[int, int] = {}  # user -> direct live delegate
    asked: set[int] = set()
    frontier = wanted
    for _hop in range(MAX_HOPS):
        found = dict(
            Cover.objects.filter(_live(at), user_id__in=frontier, delegate__is_active=True)
            .order_by()
            .values_list("user_id", "delegate_id")
        )
        hop.update(found)
        asked |= frontier
        frontier = set(found.values()) - asked
        if not frontier:
            break
    routed: dict[int, int] = {}
    for user_id in wanted:
        seen = {user_id}
        current = user_id
        for _step in range(MAX_HOPS):
            following = hop.get(current)
            if following is None or following in seen:
                break
            seen.add(following)
            current = following
        if current != user_id:
            routed[user_id] = current
    return routed


def delegate_for(user_id: int | None, at: dt.datetime | None = None) -> int | None:
    """Who receives `user_id`'s new inbound at `at` (default now): the delegate of their live
    cover (starts_at <= at < ends_at, not cancelled), followed a few hops; None when not away."""
    if user_id is None:
        return None
    return delegates_for([user_id], at).get(int(user_id))


def cover_list_for(user: User, *, at: dt.datetime | None = None) -> QuerySet[Cover]:
    """Current and upcoming covers (not cancelled, not ended) that concern `user`: their own,
    those where they are the delegate, and those of everyone below them in the reporting line
    (admins: everyone's). Soonest first."""
    at = at or timezone.now()
    qs = Cover.objects.filter(cancelled_at__isnull=True, ends_at__gt=at)
    if not permissions.is_admin(user):
        qs = qs.filter(
            Q(user_id=user.pk)
            | Q(delegate_id=user.pk)
            | Q(user_id__in=hierarchy.subtree_ids_sql(user.pk))
        )
    return qs.select_related("user", "delegate", "created_by").order_by("starts_at", "id")


def cover_rows_for(user: User, *, at: dt.datetime | None = None) -> list[tuple[Cover, bool]]:
    """cover_list_for with, for each cover, whether `user` may cancel it (two queries)."""
    covers = list(cover_list_for(user, at=at))
    if permissions.is_admin(user):
        return [(cover, True) for cover in covers]
    below = set(
        User.objects.filter(id__in=hierarchy.subtree_ids_sql(user.pk)).values_list("pk", flat=True)
    )
    below.add(user.pk)
    return [(cover, cover.user_id in below) for cover in covers]


def cover_get_for(user: User, cover_id) -> Cover:
    """A cover `user` may manage (cancel); anyone else's is NotFound, as a missing one."""
    try:
        cover = Cover.objects.select_related("user", "delegate").filter(pk=int(cover_id)).first()
    except (TypeError, ValueError):
        cover = None
    if cover is None or not can_manage_cover(user, cover.user_id):
        raise NotFound()
    return cover


def delegate_choices(user: User) -> QuerySet[User]:
    """Who `user` may choose to cover them: active people who take conversations, not
    themselves."""
    compliance_only = User.objects.filter(
        groups__name=roles.COMPLIANCE, is_superuser=False
    ).exclude(groups__name=roles.ADMIN)
    return (
        selectors.active_user_list()
        .exclude(pk=user.pk)
        .exclude(pk__in=compliance_only.values("pk"))
    )


def delegate_candidates(user: User, target: str = "") -> QuerySet[User]:
    """The cover page's delegate picker (accounts.people_search "cover"): delegate_choices."""
    return delegate_choices(user)


# --- writes ---------------------------------------------------------------------------------


def _require_aware(value, field: str) -> dt.datetime:
    if not isinstance(value, dt.datetime) or timezone.is_naive(value):
        raise Invalid(fields={field: _("Enter a date and time.")})
    return value


@transaction.atomic
def cover_set(
    *,
    actor: User,
    user: User,
    delegate: User | None,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    request=None,
) -> Cover:
    """`delegate` receives `user`'s new inbound conversations from starts_at until ends_at.

    A cover starts no earlier than now (routing already done is never redone, so an earlier
    start would only blur the record). Refused: someone neither the person, above them nor an
    admin (Forbidden); a delegate who is the person, inactive or a compliance officer only; an
    end not after the start or already past; a period overlapping another live cover of the
    person (Invalid). Audited (accounts.cover.set)."""
    if not can_manage_cover(actor, user.pk):
        raise Forbidden(_("You may set out-of-office cover only for yourself or your reports."))
    starts_at = _require_aware(starts_at, "starts_at")
    ends_at = _require_aware(ends_at, "ends_at")
    if delegate is None:
        raise Invalid(fields={"delegate": _("Choose who covers.")})
    if delegate.pk == user.pk:
        raise Invalid(fields={"delegate": _("A person cannot cover for themselves.")})
    if not takes_conversations(delegate):
        raise Invalid(fields={"delegate": _("This person cannot take conversations.")})
    now = timezone.now()
    starts_at = max(starts_at, now)
    if ends_at <= starts_at:
        raise Invalid(fields={"ends_at": _("The end must be after the start, and in the future.")})
    # Two covers of one person set at once must not both pass the overlap check.
    User.objects.select_for_update().filter(pk=user.pk).first()
    clash = (
        Cover.objects.filter(
            user_id=user.pk,
            cancelled_at__isnull=True,
            starts_at__lt=ends_at,
            ends_at__gt=starts_at,
        )
        .select_related("delegate")
        .first()
    )
    if clash is not None:
        raise Invalid(
            _(
                "%(user)s already has cover by %(delegate)s from %(start)s until %(end)s: "
                "cancel it first or choose another period."
            )
            % {
                "user": user,
                "delegate": clash.delegate,
                "start": timezone.localtime(clash.starts_at).strftime("%Y-%m-%d %H:%M"),
                "end": timezone.localtime(clash.ends_at).strftime("%Y-%m-%d %H:%M"),
            },
            code="cover_overlaps",
        )
    cover = Cover.objects.create(
        user=user,
        delegate=delegate,
        starts_at=starts_at,
        ends_at=ends_at,
        created_by=actor,
        created_at=now,
    )
    audit.record(
        actor=actor,
        action="accounts.cover.set",
        target=cover,
        data={
            "user": user.pk,
            "delegate": delegate.pk,
            "starts_at": starts_at,
            "ends_at": ends_at,
        },
        request=request,
    )
    return cover


@transaction.atomic
def cover_cancel(*, actor: User, cover: Cover, request=None) -> Cover:
    """End a cover now (or drop an upcoming one): new inbound goes to the person again.
    Conversations already routed to the delegate stay with them. Cancelling a cancelled cover
    changes nothing; an ended one is Invalid. Audited (accounts.cover.cancelled)."""
    if not can_manage_cover(actor, cover.user_id):
        raise Forbidden(_("You may cancel out-of-office cover only for yourself or your reports."))
    cover = Cover.objects.select_for_update().get(pk=cover.pk)
    if cover.cancelled_at is not None:
        return cover
    now = timezone.now()
    if cover.ends_at <= now:
        raise Invalid(_("This cover has already ended."))
    cover.cancelled_at = now
    cover.save(update_fields=["cancelled_at"])
    audit.record(
        actor=actor,
        action="accounts.cover.cancelled",
        target=cover,
        data={
            "user": cover.user_id,
            "delegate": cover.delegate_id,
            "started": cover.starts_at <= now,
        },
        request=request,
    )
    return cover

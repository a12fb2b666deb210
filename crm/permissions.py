"""Who sees and changes which CRM record: the one policy pages, API, search, CSV export and
WebSockets use.

- Admin and Compliance officer see everything (Compliance only reads; archived records too).
- Everyone sees what they own, what is shared with them, and what is shared with their team
  (django-guardian object permissions "view_<model>" or "change_<model>", direct FK tables).
- A Manager also sees what anyone in their reporting subtree owns, at any depth.
- Changing needs ownership, a place above the owner in the reporting line (Manager), a "change"
  share, or the Admin role. Archiving is for Admins only. Sharing is for the owner, anyone above
  the owner in the reporting line, and Admins.

Every rule is a SQL condition (`visible_q`): owner equality, a recursive-CTE subquery for the
subtree, and EXISTS probes on the direct permission tables. Nothing is filtered in Python, so a
list costs the same number of queries at any size.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from django.db.models import Exists, Model, OuterRef, Q, QuerySet, Subquery
from django.utils.translation import gettext as _

from accounts import hierarchy
from accounts import permissions as account_permissions
from config.errors import Forbidden, NotFound
from crm.models import (
    Activity,
    Company,
    CompanyGroupObjectPermission,
    CompanyUserObjectPermission,
    Contact,
    ContactGroupObjectPermission,
    ContactUserObjectPermission,
    Deal,
    DealGroupObjectPermission,
    DealUserObjectPermission,
)

Level = Literal["view", "change"]
VIEW: Level = "view"
CHANGE: Level = "change"

SHAREABLE: tuple[type[Model], ...] = (Company, Contact, Deal)
PERMISSION_TABLES: dict[type[Model], tuple[type[Model], type[Model]]] = {
    Company: (CompanyUserObjectPermission, CompanyGroupObjectPermission),
    Contact: (ContactUserObjectPermission, ContactGroupObjectPermission),
    Deal: (DealUserObjectPermission, DealGroupObjectPermission),
}
NOTHING = Q(pk__in=[])


# Role facts come from the accounts policy; this module adds what records they reach.
_active = account_permissions.is_active_user
sees_everything = account_permissions.sees_everything
is_manager = account_permissions.is_manager


def is_admin(user) -> bool:
    return _active(user) and account_permissions.is_admin(user)


def codenames(model: type[Model], level: Level) -> list[str]:
    """A "change" share implies "view"."""
    name = model._meta.model_name
    return [f"change_{name}"] if level == CHANGE else [f"view_{name}", f"change_{name}"]


def permission_tables(model: type[Model]) -> tuple[type[Model], type[Model]]:
    return PERMISSION_TABLES[model]


_PERMISSION_IDS: dict[tuple[str, str], list[int]] = {}


def permission_ids(model: type[Model], level: Level) -> list[int]:
    """Ids of the view/change permissions, read once per process (cleared after migrate/flush).

    Constants in the EXISTS probes keep auth_permission out of every visibility query: joined in,
    it made the planner loop over it per row when statistics were stale."""
    key = (model._meta.model_name, level)
    ids = _PERMISSION_IDS.get(key)
    if ids is None:
        from django.contrib.auth.models import Permission

        ids = sorted(
            Permission.objects.filter(
                content_type__app_label=model._meta.app_label,
                content_type__model=model._meta.model_name,
                codename__in=codenames(model, level),
            ).values_list("id", flat=True)
        )
        if ids:
            _PERMISSION_IDS[key] = ids
    return ids


def forget_permission_ids(**kwargs) -> None:
    _PERMISSION_IDS.clear()


def _team_group_id_subquery(user) -> Subquery:
    from accounts.models import Team

    # An archived team's shares stay stored (restoring brings them back) but grant nothing.
    live = Team.objects.filter(pk=user.team_id, archived_at__isnull=True)
    return Subquery(live.order_by().values("group_id")[:1])


def shared_q(user, model: type[Model], level: Level = VIEW, *, outer: str = "pk") -> Q:
    """EXISTS probes: shared with the user, or with the user's own team, at `level` or above."""
    user_table, group_table = PERMISSION_TABLES[model]
    perm_ids = permission_ids(model, level)
    condition = Q(
        Exists(
            user_table.objects.filter(
                user_id=user.pk, content_object_id=OuterRef(outer), permission_id__in=perm_ids
            )
        )
    )
    if user.team_id is not None:
        condition |= Q(
            Exists(
                group_table.objects.filter(
                    group_id=_team_group_id_subquery(user),
                    content_object_id=OuterRef(outer),
                    permission_id__in=perm_ids,
                )
            )
        )
    return condition


def remembered(user, key: tuple, build):
    """build() once per user object: a request's, or a socket's until its next access recheck,
    which reads the person afresh (comms.consumers). What is kept is SQL built from the role
    facts and team already cached on that same object (accounts.permissions.role_names), so it
    goes stale no sooner than they do; the conditions themselves run in the database each time.
    The deal and contact pages built the same conditions six or seven times a request before."""
    memo = getattr(user, "_keepline_access", None)
    if memo is None or memo[0] != (user.pk, user.team_id, user.is_active):
        memo = ((user.pk, user.team_id, user.is_active), {})
        user._keepline_access = memo
    found = memo[1].get(key)
    if found is None:
        found = memo[1][key] = build()
    return found


def visible_q(user, model: type[Model], level: Level = VIEW) -> Q:
    """The SQL condition selecting the records of `model` (Company, Contact, Deal) user may see
    (level="view") or change (level="change"). Archived records are not excluded here."""
    if model not in PERMISSION_TABLES:
        raise ValueError(f"{model!r} is not a shareable CRM record")
    if not _active(user):
        return NOTHING
    return remembered(user, ("crm.visible_q", model, level), lambda: _visible_q(user, model, level))


def _visible_q(user, model: type[Model], level: Level) -> Q:
    if is_admin(user):
        return Q()
    if account_permissions.is_compliance(user):
        return Q() if level == VIEW else NOTHING
    condition = Q(owner_id=user.pk)
    if is_manager(user):
        condition |= Q(owner_id__in=hierarchy.subtree_ids_sql(user.pk))
    return condition | shared_q(user, model, level)


def _live(user, qs: QuerySet) -> QuerySet:
    """Archived records are hidden from everyone but those who see everything."""
    return qs if sees_everything(user) else qs.filter(archived_at__isnull=True)


def _queryset_for(user, model: type[Model], level: Level) -> QuerySet:
    """The records of `model` user may see or change, built once per user object (`remembered`)
    and handed out as a fresh clone each time, so no caller shares another's results."""
    if not _active(user):
        return model.objects.none()
    return remembered(
        user,
        ("crm.queryset_for", model, level),
        lambda: _live(user, model.objects.filter(visible_q(user, model, level))),
    ).all()


def company_queryset_for(user, level: Level = VIEW) -> QuerySet[Company]:
    return _queryset_for(user, Company, level)


def contact_queryset_for(user, level: Level = VIEW) -> QuerySet[Contact]:
    return _queryset_for(user, Contact, level)


def deal_queryset_for(user, level: Level = VIEW) -> QuerySet[Deal]:
    return _queryset_for(user, Deal, level)


QUERYSETS = {Company: company_queryset_for, Contact: contact_queryset_for, Deal: deal_queryset_for}


def activity_queryset_for(user, *, on_visible: Model | None = None) -> QuerySet[Activity]:
    """Activities on a record the user can see. `on_visible`: a company, contact or deal the
    caller read through the user's visibility filter just now; every live activity on it is
    visible (an activity is visible when its record is), so the filter is not built again."""
    qs = Activity.objects.filter(archived_at__isnull=True)
    if on_visible is not None:
        if type(on_visible) not in PERMISSION_TABLES:
            raise ValueError(f"{on_visible!r} is not a shareable CRM record")
        return qs.filter(**{type(on_visible)._meta.model_name: on_visible})
    if sees_everything(user):
        return qs
    if not _active(user):
        return qs.none()
    return qs.filter(
        Q(deal_id__in=deal_queryset_for(user).values("pk"))
        | Q(contact_id__in=contact_queryset_for(user).values("pk"))
        | Q(company_id__in=company_queryset_for(user).values("pk"))
    )


def _check(user, obj: Model, level: Level) -> bool:
    model = type(obj)
    if not _active(user):
        return False
    if obj.archived_at is not None and not sees_everything(user):
        return False
    if is_admin(user):
        return True
    if account_permissions.is_compliance(user):
        return level == VIEW
    if obj.owner_id == user.pk:
        return True
    return model.objects.filter(pk=obj.pk).filter(visible_q(user, model, level)).exists()


def can_view(user, obj: Model) -> bool:
    if isinstance(obj, Activity):
        subject = obj.deal or obj.contact or obj.company
        return subject is not None and can_view(user, subject)
    return _check(user, obj, VIEW)


def can_change(user, obj: Model) -> bool:
    if isinstance(obj, Activity):
        if obj.author_id == user.pk and can_view(user, obj):
            return True
        subject = obj.deal or obj.contact or obj.company
        return subject is not None and can_change(user, subject)
    return _check(user, obj, CHANGE)


def can_create(user, model: type[Model]) -> bool:
    """The role's add permission (Compliance holds none: it only reads)."""
    perm = f"crm.add_{model._meta.model_name}"
    return _active(user) and perm in account_permissions.model_permissions(user)


def can_add_activity(user, record: Model, *, visible: bool = False) -> bool:
    """Log an activity (note, call, meeting, task) on a company, contact or deal: the add
    permission, a record the user sees, and a live one (archived records take nothing new).
    `visible`: the caller read the record through the user's visibility filter just now (a
    page offering the form), so that check is not run twice."""
    return (
        can_create(user, Activity)
        and record.archived_at is None
        and type(record) in PERMISSION_TABLES
        and (visible or can_view(user, record))
    )


def can_archive(user, obj: Model) -> bool:
    return is_admin(user)


def is_above(user, owner_id: int) -> bool:
    """user stands above owner_id in the reporting line, at any distance."""
    return user.pk in hierarchy.ancestor_ids(owner_id)


def can_share(user, obj: Model) -> bool:
    if not _active(user) or type(obj) not in PERMISSION_TABLES or obj.archived_at is not None:
        return False
    if is_admin(user) or obj.owner_id == user.pk:
        return True
    return is_above(user, obj.owner_id)


def can_reassign(user, obj: Model) -> bool:
    """Give a record to another owner: someone above the owner in the reporting line, or an
    Admin. (A rep does not give records away; their manager does.)"""
    if not _active(user) or type(obj) not in PERMISSION_TABLES or obj.archived_at is not None:
        return False
    return is_admin(user) or is_above(user, obj.owner_id)


def require_view(user, obj: Model) -> None:
    if not can_view(user, obj):
        raise NotFound


def require_change(user, obj: Model) -> None:
    """A record the user cannot see is missing (404); one they see but may not change is 403."""
    require_view(user, obj)
    if not can_change(user, obj):
        raise Forbidden(_("You may look at this record but not change it."))


def require_create(user, model: type[Model]) -> None:
    if not can_create(user, model):
        raise Forbidden(_("You may not create this kind of record."))


def require_add_activity(user, record: Model) -> None:
    """A record the user cannot see is missing (404); otherwise no add permission or an archived
    record is 403."""
    require_view(user, record)
    if not can_add_activity(user, record):
        if record.archived_at is not None:
            raise Forbidden(_("This record is archived: it takes no new activities."))
        raise Forbidden(_("You may not log activities."))


def require_share(user, obj: Model) -> None:
    require_view(user, obj)
    if not can_share(user, obj):
        raise Forbidden(_("Only the owner or someone above them shares this record."))


def require_archive(user, obj: Model) -> None:
    require_view(user, obj)
    if not can_archive(user, obj):
        raise Forbidden(_("Only an admin archives records."))


# --- restriction of processing (a data-subject request) -------------------------------------


def restricted_contact_ids(contact_ids: Iterable[int | None]) -> set[int]:
    """Those of these contacts whose processing is restricted (Contact.processing_restricted):
    nothing may be sent to them. One query, none for no ids."""
    wanted = {pk for pk in contact_ids if pk is not None}
    if not wanted:
        return set()
    return set(
        Contact.objects.filter(pk__in=wanted, processing_restricted=True).values_list(
            "pk", flat=True
        )
    )


def outreach_refused_words() -> str:
    return _(
        "Processing of this contact's data is restricted after a data-subject request: nothing "
        "can be sent to them. Ask your compliance officer."
    )


def outreach_refusal(contact_id: int | None) -> str | None:
    """Why nothing may be sent to this contact now (its processing is restricted), or None."""
    if contact_id is not None and restricted_contact_ids([contact_id]):
        return outreach_refused_words()
    return None

"""Whom the CRM's people pickers offer (registered with accounts.people_search in CrmConfig.ready):
one selector per purpose, used by the search endpoint and by the forms that accept the choice."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from accounts.models import Team, User
from config.ids import parse_id
from crm import permissions, selectors

RECORD_GETTERS = {
    "companies": selectors.company_get_for,
    "contacts": selectors.contact_get_for,
    "deals": selectors.deal_get_for,
}


def owner_choices(viewer: User, target: str = "") -> QuerySet[User]:
    """An owner field (company, contact, deal forms) and the lists' owner filters: every active
    person (one organisation per deployment)."""
    return User.objects.filter(is_active=True)


def record_target(record) -> str:
    """The share picker's target for a record: "<kind>:<id>"."""
    kinds = {getter.__name__.split("_")[0]: kind for kind, getter in RECORD_GETTERS.items()}
    return f"{kinds[type(record).__name__.lower()]}:{record.pk}"


def share_record_get(viewer: User, target: str):
    """The record named by "<kind>:<id>" whose sharing `viewer` manages, else Http404."""
    kind, _sep, raw = (target or "").partition(":")
    pk = parse_id(raw)
    if kind not in RECORD_GETTERS or pk is None:
        raise Http404
    record = RECORD_GETTERS[kind](viewer, pk)
    if not permissions.can_share(viewer, record):
        raise Http404
    return record


def share_people(viewer: User, target: str) -> QuerySet[User]:
    """People a record may be shared with: every active person, for who manages its sharing."""
    share_record_get(viewer, target)
    return User.objects.filter(is_active=True)


def share_teams(viewer: User, target: str) -> QuerySet[Team]:
    """Teams a record may be shared with: every team not archived."""
    share_record_get(viewer, target)
    return Team.objects.filter(archived_at__isnull=True)


def register() -> None:
    from accounts import people_search

    people_search.register("owner", people=owner_choices)
    people_search.register("share", people=share_people, teams=share_teams)

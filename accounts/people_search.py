"""People and team pickers: who a picker may offer, per purpose, and the search over them.

Each purpose ("share", "owner", "assign", ...) belongs to the app whose form accepts the choice;
that app registers ONE selector per purpose here (from its AppConfig.ready(), so accounts imports
no higher app). The same selector feeds the search endpoint (/api/v1/people/) and validates what
the form receives, so the picker can never offer someone the form would refuse, or the reverse.

A selector takes (viewer, target) - target is the purpose's context as the page sends it (a
record "deals:12", a conversation id, a leaver id), or "" - and returns the candidates as a
queryset. It raises Http404 when the viewer may not pick anyone there (the page would not have
shown the field), so the endpoint cannot be used to list people a page would not have offered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.http import Http404

from accounts.models import Team, User
from config.ids import parse_id

LIMIT = 20
MIN_TERM = 1
KINDS = ("person", "team", "any")

PeopleSelector = Callable[[User, str], QuerySet[User]]
TeamSelector = Callable[[User, str], QuerySet[Team]]


@dataclass(frozen=True)
class Purpose:
    people: PeopleSelector | None = None
    teams: TeamSelector | None = None


_PURPOSES: dict[str, Purpose] = {}


def register(name: str, *, people: PeopleSelector | None = None, teams: TeamSelector | None = None):
    """Called by the owning app's AppConfig.ready(); registering a name twice replaces it."""
    _PURPOSES[name] = Purpose(people=people, teams=teams)


def purpose_get(name: str) -> Purpose | None:
    return _PURPOSES.get(name)


def purpose_names() -> list[str]:
    return sorted(_PURPOSES)


def _person_q(term: str) -> Q:
    q = Q()
    for word in term.split()[:4]:
        q &= (
            Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(username__icontains=word)
            | Q(email__icontains=word)
            | Q(team__name__icontains=word)
        )
    return q


def person_label(user: User) -> str:
    return user.get_full_name() or user.username


def person_row(user: User) -> dict:
    secondary = f"@{user.username}"
    if user.team_id is not None:
        secondary = f"{user.team.name} · {secondary}"
    return {
        "id": user.pk,
        "value": f"user:{user.pk}",
        "label": person_label(user),
        "kind": "person",
        "secondary": secondary,
    }


def team_row(team: Team) -> dict:
    return {
        "id": team.pk,
        "value": f"team:{team.pk}",
        "label": team.name,
        "kind": "team",
        "secondary": "",
    }


def search(viewer: User, purpose: Purpose, *, term: str, kind: str, target: str) -> list[dict]:
    """At most LIMIT matches, teams first when both kinds are asked for: one query per kind
    (plus whatever the purpose's selector needs to check the target), whatever the headcount."""
    rows: list[dict] = []
    if kind in ("team", "any") and purpose.teams is not None:
        teams = purpose.teams(viewer, target).filter(name__icontains=term.strip())
        rows += [team_row(t) for t in teams.order_by("name", "pk")[:LIMIT]]
    if kind in ("person", "any") and purpose.people is not None and len(rows) < LIMIT:
        people = (
            purpose.people(viewer, target)
            .filter(_person_q(term))
            .select_related("team")
            .order_by("first_name", "last_name", "username", "pk")
            .distinct()
        )
        rows += [person_row(u) for u in people[: LIMIT - len(rows)]]
    return rows


def resolve_person(viewer: User, purpose: Purpose, raw, target: str = "") -> User | None:
    """The person a form received (an id, "user:<id>", or without JavaScript a username or
    email typed in), only if the purpose's selector offers them; else None."""
    if purpose.people is None:
        return None
    text = str(raw or "").strip()
    if text.startswith("user:"):
        text = text[5:]
    try:
        candidates = purpose.people(viewer, target)
    except Http404:
        return None
    if text.isascii() and text.isdigit():  # an id (one past 64 bits names nobody)
        pk = parse_id(text)
        return None if pk is None else candidates.filter(pk=pk).select_related("team").first()
    if not text:
        return None
    found = list(
        candidates.filter(Q(username__iexact=text) | Q(email__iexact=text)).select_related("team")[
            :2
        ]
    )
    return found[0] if len(found) == 1 else None


def resolve_team(viewer: User, purpose: Purpose, raw, target: str = "") -> Team | None:
    """The team a form received ("team:<id>", an id, or a team name typed in), if offered."""
    if purpose.teams is None:
        return None
    text = str(raw or "").strip()
    if text.startswith("team:"):
        text = text[5:]
    try:
        candidates = purpose.teams(viewer, target)
    except Http404:
        return None
    if text.isascii() and text.isdigit():
        pk = parse_id(text)
        return None if pk is None else candidates.filter(pk=pk).first()
    if not text:
        return None
    return candidates.filter(name__iexact=text).first()


def resolve_any(viewer: User, purpose: Purpose, raw, target: str = "") -> dict | None:
    """A share-style value: {"user": ...} or {"team": ...}, or None when not offered."""
    text = str(raw or "").strip()
    if text.startswith("team:"):
        team = resolve_team(viewer, purpose, text, target)
        return {"team": team} if team else None
    person = resolve_person(viewer, purpose, text, target)
    if person is not None:
        return {"user": person}
    if text.startswith("user:") or (text.isascii() and text.isdigit()):
        return None
    team = resolve_team(viewer, purpose, text, target)
    return {"team": team} if team else None


def chosen(viewer: User, purpose_name: str, value, *, kind: str = "person", target: str = ""):
    """(value, label) to show for an already-chosen value (a form's initial, a re-posted value,
    a filter from the query string): only when the purpose offers it, else ("", "") - so a
    hand-edited URL cannot reveal a name the picker would not have offered."""
    purpose = purpose_get(purpose_name)
    if purpose is None or value in (None, ""):
        return "", ""
    if isinstance(value, User):
        value = value.pk
    elif isinstance(value, Team):
        value = f"team:{value.pk}"
    if kind == "any":
        found = resolve_any(viewer, purpose, value, target)
        if not found:
            return "", ""
        if "team" in found:
            return f"team:{found['team'].pk}", found["team"].name
        return f"user:{found['user'].pk}", person_label(found["user"])
    if kind == "team":
        team = resolve_team(viewer, purpose, value, target)
        return (str(team.pk), team.name) if team else ("", "")
    person = resolve_person(viewer, purpose, value, target)
    return (str(person.pk), person_label(person)) if person else ("", "")

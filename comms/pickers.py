"""Whom the conversation page's people pickers offer (registered with accounts.people_search in
CommsConfig.ready): one selector per purpose, used by the search endpoint and by the
conversation actions that accept the choice."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from accounts.models import User
from comms import permissions, selectors


def assign_choices(viewer: User, target: str) -> QuerySet[User]:
    """Whom a conversation (target: its id) may be assigned or transferred to: every active
    person, for someone who may assign it."""
    conversation = selectors.conversation_get_for(viewer, target)
    if not permissions.can_assign(viewer, conversation):
        raise Http404
    return User.objects.filter(is_active=True)


def member_choices(viewer: User, target: str) -> QuerySet[User]:
    """Whom an internal conversation (target: its id) may add as a member: every active person,
    for someone who manages its members."""
    conversation = selectors.conversation_get_for(viewer, target)
    if not permissions.can_manage_members(viewer, conversation):
        raise Http404
    return User.objects.filter(is_active=True)


def register() -> None:
    from accounts import people_search

    people_search.register("assign", people=assign_choices)
    people_search.register("member", people=member_choices)

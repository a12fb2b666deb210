"""Who receives a customer's inbound conversation: the person it belongs to or, while they are
away (out-of-office cover, accounts.cover), their delegate, marked as covering for them.

Asked when a customer starts a conversation or revives a waiting one by writing in; nothing is
scheduled, so routing reverts by itself when a cover ends. (Not `comms.routing`: that module is
the WebSocket URL routing.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from accounts import cover

Route = tuple[int | None, int | None]  # (assignee id, covering_for id or None)


def route_assignee(owner_id: int | None, at: dt.datetime | None = None) -> Route:
    """(assignee, covering_for) for a conversation of `owner_id` arriving at `at`: the owner
    and None, or their delegate and the owner while a cover is live. Nobody: (None, None)."""
    if owner_id is None:
        return None, None
    delegate_id = cover.delegate_for(owner_id, at)
    return (delegate_id, owner_id) if delegate_id is not None else (owner_id, None)


def route_assignees(owner_ids: Iterable[int | None], at: dt.datetime | None = None) -> dict:
    """route_assignee for several owners at once ({owner id: route}), in one query when nobody
    is away."""
    owners = {int(o) for o in owner_ids if o is not None}
    delegates = cover.delegates_for(owners, at)
    return {o: (delegates[o], o) if o in delegates else (o, None) for o in owners}


def owner_of(conversation) -> int | None:
    """The person a customer conversation belongs to: whoever its delegate is covering for,
    else its assignee; if that person has left (closed conversations stay with who held them),
    the contact's owner, who took their book. Expects covering_for, assignee and contact
    loaded with the conversation."""
    person = conversation.covering_for if conversation.covering_for_id else conversation.assignee
    if person is not None and not person.is_active and conversation.contact_id is not None:
        return conversation.contact.owner_id
    return person.pk if person is not None else None

"""Who takes a customer's inbound conversation when it is new.

The conversation's assignee when it has one (an existing conversation keeps its person; its
out-of-office cover is comms' own rule, comms.assignee_routing); else the contact's owner; else
round-robin among the active members of the channel account's team. comms applies the
out-of-office delegate to whoever is chosen (conversation_open_inbound).
"""

from __future__ import annotations

from django.db.models import F, Max, Q

from accounts import permissions as account_permissions
from accounts import roles
from accounts.models import User
from connectors.models import ChannelAccount


def round_robin_member(account: ChannelAccount) -> User | None:
    """The active member of the account's team who was given an inbound conversation longest
    ago (never: first), ties by id. The caller holds the account's row lock, so two conversations
    arriving together go to two people."""
    if account.team_id is None:
        return None
    members = (
        User.objects.filter(team_id=account.team_id, is_active=True)
        .annotate(
            last_inbound=Max(
                "assigned_conversations__created_at",
                filter=Q(assigned_conversations__created_by__isnull=True),
            )
        )
        # Never given one first, then the longest ago.
        .order_by(F("last_inbound").asc(nulls_first=True), "id")
    )
    for member in members:
        if account_permissions.takes_records(member):
            return member
    return None


def inbound_owner(account: ChannelAccount, contact) -> User | None:
    """The person a new inbound conversation of `contact` goes to (before cover): the contact's
    owner while they take records, else the team's round-robin pick."""
    owner = contact.owner
    if account_permissions.takes_records(owner):
        return owner
    return round_robin_member(account)


def new_contact_owner(account: ChannelAccount) -> User | None:
    """Who owns a contact created for an unknown sender: the team's round-robin pick, else the
    team lead, else the first active admin (a contact must have an owner)."""
    member = round_robin_member(account)
    if member is not None:
        return member
    lead = account.team.lead if account.team_id else None
    if account_permissions.takes_records(lead):
        return lead
    return User.objects.filter(is_active=True, groups__name=roles.ADMIN).order_by("id").first()

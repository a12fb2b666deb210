"""comms's part of a person's book (accounts.book): the conversations they are assigned.

A conversation follows its deal, else its contact, else its company to whoever crm gave it
(`handover.moved`), else the rotation. Moving is one UPDATE per successor; the leaver leaves
every conversation, each successor joins the open ones, and each open customer conversation gets
a continuity message ("Ana Lima will continue this conversation") through the one message path,
in one batch. The customer's page shows the new name at once (agent.changed).
"""

from __future__ import annotations

import uuid
from collections import defaultdict

from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.book import Handover, Holding
from accounts.models import User
from comms.models import Conversation, CustomerLink, Participant
from comms.services import fanout
from comms.services.messages import messages_store, system_draft
from config.bulk import ids_in

OPEN = (Conversation.Status.OPEN, Conversation.Status.PENDING)
CONTINUITY = uuid.UUID("6f1d3c52-5b7e-4d3c-9a51-2f0c8e4b7a10")


def _name(user: User | None) -> str:
    return (user.get_full_name() or user.get_username()) if user else ""


def continuity_text(successor: User | None, team) -> str:
    if successor is not None:
        return _("%(name)s will continue this conversation.") % {"name": _name(successor)}
    if team is not None:
        return _("The %(team)s team will continue this conversation.") % {"team": team.name}
    return _("Our team will continue this conversation.")


def _live_links():
    """How many usable customer links a conversation (OuterRef) has: one correlated count."""
    return (
        CustomerLink.objects.filter(
            conversation_id=OuterRef("pk"), revoked_at__isnull=True, expires_at__gt=timezone.now()
        )
        .order_by()
        .values("conversation_id")
        .annotate(n=Count("pk"))
        .values("n")
    )


class CommsBook:
    key = "comms"

    def holdings(self, user) -> list[Holding]:
        mine = Conversation.objects.filter(assignee=user)
        open_count = mine.filter(status__in=OPEN).count()
        return [
            Holding(
                "conversations_open",
                _("Open conversations"),
                open_count,
                reverse("comms:inbox") + "?box=mine",
            ),
        ]

    def hand_over(self, handover: Handover) -> None:
        leaver = handover.leaver
        whole = handover.scope is None
        moved = handover.moved
        # Open conversations move; closed ones stay with who held them (their history), and a
        # customer reviving one reaches the contact's owner (comms.assignee_routing.owner_of).
        qs = Conversation.objects.filter(assignee=leaver, status__in=OPEN)
        if not whole:
            # A conversation is its deal's or its contact's: a company moved alone takes none.
            qs = qs.filter(
                Q(deal_id__in=list(moved.get("deal", {})))
                | Q(contact_id__in=list(moved.get("contact", {}))),
                status__in=OPEN,
            ).exclude(kind=Conversation.Kind.INTERNAL)
        rows = list(qs.values_list("pk", "kind", "status", "deal_id", "contact_id", "company_id"))
        assignment: dict[int, int | None] = {}
        for pk, _kind, _status, deal_id, contact_id, company_id in rows:
            if handover.to_queue:
                assignment[pk] = None
                continue
            assignment[pk] = (
                moved.get("deal", {}).get(deal_id)
                or moved.get("contact", {}).get(contact_id)
                or moved.get("company", {}).get(company_id)
                or handover.successor_for("conversation", pk)
            )
        open_ids = [pk for pk, _k, status, *_r in rows if status in OPEN]
        customer_open = [
            pk for pk, kind, status, *_r in rows if status in OPEN and kind != "internal"
        ]
        counts = handover.counts
        counts["conversations_open"] = len(open_ids)
        people = {u.pk: u for u in handover.successors}
        if handover.queue_owner is not None:
            people.setdefault(handover.queue_owner.pk, handover.queue_owner)
        conversations = (
            {
                c.pk: c
                for c in Conversation.objects.filter(pk__in=ids_in(Conversation, customer_open))
                .select_related("contact", "deal", "company", "team")
                .annotate(live_links=Coalesce(Subquery(_live_links()), 0))
            }
            if customer_open
            else {}
        )
        # The customers' chat links keep working: the conversation is the same.
        counts["customer_links"] = sum(c.live_links for c in conversations.values())
        handover.details["continuity"] = [
            {
                "conversation": pk,
                "customer": conversations[pk].contact.name if conversations[pk].contact else "",
                "successor": _name(people.get(assignment[pk])) if assignment[pk] else "",
            }
            for pk in customer_open
        ]
        counts["continuity_messages"] = len(customer_open)
        if handover.dry_run or not rows:
            return
        now = timezone.now()
        groups: dict[int | None, list[int]] = defaultdict(list)
        for pk, successor in assignment.items():
            groups[successor].append(pk)
        for successor, ids in groups.items():
            if successor is None:
                team_id = handover.team.pk if handover.team else None
            else:
                team_id = people[successor].team_id
            Conversation.objects.filter(pk__in=ids_in(Conversation, ids)).update(
                assignee_id=successor, team_id=team_id, covering_for=None
            )
        leaving = Participant.objects.filter(user=leaver, left_at__isnull=True)
        if not whole:
            leaving = leaving.filter(conversation_id__in=ids_in(Participant, assignment))
        leaving.update(left_at=now)
        self._join(rows, assignment, open_ids, now)
        # One data dict per successor, shared by their events: the ledger serialises it once.
        data = {
            successor: {
                "from": leaver.pk,
                "to": successor,
                "reason": "offboarding" if whole else "record_reassigned",
                **({"offboarding": handover.offboarding_id} if handover.offboarding_id else {}),
            }
            for successor in set(assignment.values())
        }
        handover.events += [
            {
                "actor": handover.actor,
                "action": "comms.conversation.assigned",
                "target": ("comms.conversation", pk, ""),
                "data": data[assignment[pk]],
                "request": handover.request,
            }
            for pk in assignment
        ]
        for pk, conversation in conversations.items():
            successor = people.get(assignment[pk])
            conversation.assignee = successor
            conversation.assignee_id = successor.pk if successor else None
            if successor is None and handover.team is not None:
                conversation.team = handover.team
            elif successor is not None:
                # The object, not only its id: the events below present the team, and a bare
                # id would load it once per conversation.
                conversation.team = successor.team
        if whole:
            key = f"offboarding:{handover.offboarding_id}"
            drafts = [
                system_draft(
                    conversation=conversations[pk],
                    body=continuity_text(people.get(assignment[pk]), handover.team),
                    client_id=uuid.uuid5(CONTINUITY, f"{key}:{pk}"),
                    reason="offboarding",
                )
                for pk in customer_open
            ]
            for result in messages_store(drafts):
                if isinstance(result, Exception):
                    raise result
        for pk in open_ids:
            conversation = conversations.get(pk)
            if conversation is not None:
                fanout.conversation_updated(conversation)
                fanout.assignee_changed(conversation)
            else:
                fanout.inbox_changed(pk)

    @staticmethod
    def _join(rows, assignment, open_ids, now) -> None:
        """Each successor becomes the agent (owner, of an internal one) of the open
        conversations they took: rows they already had are revived, the others created."""
        internal = {pk for pk, kind, *_r in rows if kind == Conversation.Kind.INTERNAL}
        wanted = {pk: assignment[pk] for pk in open_ids if assignment[pk] is not None}
        if not wanted:
            return
        existing = set(
            Participant.objects.filter(
                conversation_id__in=ids_in(Participant, wanted), user_id__in=set(wanted.values())
            ).values_list("conversation_id", "user_id")
        )
        by_role: dict[tuple, list[int]] = defaultdict(list)
        for pk, user_id in wanted.items():
            if (pk, user_id) in existing:
                role = Participant.Role.OWNER if pk in internal else Participant.Role.AGENT
                by_role[(user_id, role)].append(pk)
        for (user_id, role), ids in by_role.items():
            Participant.objects.filter(
                conversation_id__in=ids_in(Participant, ids), user_id=user_id
            ).update(role=role, left_at=None)
        Participant.objects.bulk_create(
            [
                Participant(
                    conversation_id=pk,
                    user_id=user_id,
                    role=Participant.Role.OWNER if pk in internal else Participant.Role.AGENT,
                    joined_at=now,
                )
                for pk, user_id in wanted.items()
                if (pk, user_id) not in existing
            ]
        )

"""Conversations: start, internal create, assignment and status."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

import audit
from accounts import notifications
from accounts.models import User
from comms import channel_registry, errors, permissions, presenters, realtime
from comms.models import (
    Conversation,
    Participant,
)
from comms.services.fanout import assignee_changed, conversation_updated
from crm import permissions as crm_permissions

# --- conversations ------------------------------------------------------------------------------


@transaction.atomic
def conversation_start(
    *,
    actor: User,
    contact,
    deal=None,
    kind: str = Conversation.Kind.WEB,
    subject: str = "",
    request=None,
) -> Conversation:
    """Open a customer conversation assigned to the actor, in a kind the product offers
    (comms.channel_registry: web chat, or a channel with a configured account). Audited
    (comms.conversation.created)."""
    if permissions.is_read_only(actor) or not crm_permissions.can_view(actor, contact):
        raise errors.Forbidden()
    if deal is not None and not crm_permissions.can_view(actor, deal):
        raise errors.Forbidden()
    if kind not in Conversation.Kind.values or kind == Conversation.Kind.INTERNAL:
        raise errors.Invalid(_("Choose the channel of the conversation."))
    refusal = crm_permissions.outreach_refusal(contact.pk)
    if refusal:  # restricted processing (a data-subject request): nothing new reaches them
        raise errors.Invalid(refusal, code="processing_restricted")
    if not channel_registry.is_available(kind):
        # Until a channel account is configured nothing could carry the messages.
        raise errors.Invalid(
            _("%(channel)s is not set up: an administrator must configure its account first.")
            % {"channel": Conversation.Kind(kind).label}
        )
    now = timezone.now()
    conversation = Conversation.objects.create(
        kind=kind,
        contact=contact,
        deal=deal,
        company_id=contact.company_id or (deal.company_id if deal else None),
        assignee=actor,
        team_id=actor.team_id,
        subject=(subject or "")[:200],
        created_by=actor,
        created_at=now,
        last_message_at=now,
    )
    Participant.objects.bulk_create(
        [
            Participant(conversation=conversation, user=actor, role=Participant.Role.AGENT),
            Participant(conversation=conversation, contact=contact, role=Participant.Role.CUSTOMER),
        ]
    )
    audit.record(
        actor=actor,
        action="comms.conversation.created",
        target=conversation,
        data={"kind": kind, "contact": contact.pk, "deal": deal.pk if deal else None},
        request=request,
    )
    return conversation


@transaction.atomic
def internal_conversation_create(
    *, actor: User, subject: str, members=(), request=None
) -> Conversation:
    """A staff-only conversation owned by the actor, with members. Audited."""
    if permissions.is_read_only(actor) or not actor.is_active:
        raise errors.Forbidden()
    now = timezone.now()
    conversation = Conversation.objects.create(
        kind=Conversation.Kind.INTERNAL,
        assignee=actor,
        team_id=actor.team_id,
        subject=(subject or "")[:200],
        created_by=actor,
        created_at=now,
        last_message_at=now,
    )
    people = {m.pk: m for m in members if m.is_active and m.pk != actor.pk}
    Participant.objects.bulk_create(
        [Participant(conversation=conversation, user=actor, role=Participant.Role.OWNER)]
        + [
            Participant(conversation=conversation, user=m, role=Participant.Role.MEMBER)
            for m in people.values()
        ]
    )
    audit.record(
        actor=actor,
        action="comms.conversation.created",
        target=conversation,
        data={"kind": "internal", "members": sorted(people)},
        request=request,
    )
    return conversation


def _locked(conversation: Conversation) -> Conversation:
    locked = (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("contact", "deal", "company", "assignee", "team")
        .filter(pk=conversation.pk)
        .first()
    )
    if locked is None:
        raise errors.NotFound()
    return locked


@transaction.atomic
def conversation_assign(
    *, actor: User, conversation: Conversation, assignee: User | None, request=None
) -> Conversation:
    """Assign or transfer. The previous assignee stops being an agent of it, and their open
    sockets re-check access after commit. Audited (comms.conversation.assigned)."""
    conversation = _locked(conversation)
    if not permissions.can_view(actor, conversation):
        raise errors.NotFound()
    if not permissions.can_assign(actor, conversation):
        raise errors.Forbidden()
    if assignee is not None and (not assignee.is_active or permissions.is_read_only(assignee)):
        raise errors.Invalid(_("This person cannot take conversations."))
    old_id = conversation.assignee_id
    new_id = assignee.pk if assignee else None
    if old_id == new_id:
        return conversation
    now = timezone.now()
    conversation.assignee = assignee
    # An explicit assignment ends any cover: the new assignee holds it in their own right.
    conversation.covering_for = None
    if assignee is not None:
        conversation.team_id = assignee.team_id
    conversation.save(update_fields=["assignee", "team", "covering_for"])
    if assignee is not None:
        join(conversation, assignee, Participant.Role.AGENT, now)
    if old_id is not None:
        Participant.objects.filter(
            conversation=conversation, user_id=old_id, role=Participant.Role.AGENT
        ).update(left_at=now)
        realtime.recheck_access_on_commit(conversation_ids=[conversation.pk], user_ids=[old_id])
    audit.record(
        actor=actor,
        action="comms.conversation.assigned",
        target=conversation,
        data={"from": old_id, "to": new_id},
        request=request,
    )
    conversation_updated(conversation)
    assignee_changed(conversation)
    if assignee is not None and assignee.pk != actor.pk:
        # Outside the assignee's working hours it waits for their next start (right to
        # disconnect); the inbox itself shows the conversation at once.
        notifications.notify(
            assignee,
            {
                "type": "conversation.assigned",
                "conversation_id": conversation.pk,
                "by": presenters.user_actor(actor),
            },
            now=now,
        )
    return conversation


def join(conversation, user, role, now) -> None:
    updated = Participant.objects.filter(conversation=conversation, user=user).update(
        role=role, left_at=None
    )
    if not updated:
        Participant.objects.create(conversation=conversation, user=user, role=role, joined_at=now)


@transaction.atomic
def conversation_set_status(
    *, actor: User, conversation: Conversation, status: str, request=None
) -> Conversation:
    """Open, pend, close or reopen. Audited (comms.conversation.status_changed)."""
    if status not in Conversation.Status.values:
        raise errors.Invalid(_("Unknown status."))
    conversation = _locked(conversation)
    if not permissions.can_view(actor, conversation):
        raise errors.NotFound()
    if not permissions.can_set_status(actor, conversation):
        raise errors.Forbidden()
    old = conversation.status
    if old == status:
        return conversation
    conversation.status = status
    conversation.save(update_fields=["status"])
    audit.record(
        actor=actor,
        action="comms.conversation.status_changed",
        target=conversation,
        data={"from": old, "to": status},
        request=request,
    )
    conversation_updated(conversation)
    return conversation


@transaction.atomic
def conversation_open_inbound(
    *, contact, kind: str, deal=None, subject: str = "", owner: User | None = None
) -> Conversation:
    """A conversation a customer starts by writing in (WhatsApp, SMS, email, web chat; the
    caller has authenticated the channel): assigned to `owner` (default: the contact's owner)
    or, while they are away, to their out-of-office delegate, marked covering_for them
    (comms.assignee_routing). An owner who is no longer active leaves it unassigned.

    Side effects: the assignee joins as agent; audited (comms.conversation.created, actor the
    contact); after commit, open inboxes refresh and the assignee is notified."""
    # Imported here so this function is the whole of cover's change to this module.
    from comms import assignee_routing

    if kind not in Conversation.Kind.values or kind == Conversation.Kind.INTERNAL:
        raise errors.Invalid(_("Choose the channel of the conversation."))
    now = timezone.now()
    owner_id = owner.pk if owner is not None else contact.owner_id
    assignee_id, covering_id = assignee_routing.route_assignee(owner_id, now)
    people = User.objects.select_related("team").in_bulk(
        [pk for pk in (assignee_id, covering_id) if pk is not None]
    )
    assignee = people.get(assignee_id)
    if assignee is None or not assignee.is_active:
        assignee, covering_id = None, None
    conversation = Conversation.objects.create(
        kind=kind,
        contact=contact,
        deal=deal,
        company_id=contact.company_id or (deal.company_id if deal else None),
        assignee=assignee,
        covering_for=people.get(covering_id) if covering_id else None,
        team=assignee.team if assignee else None,
        subject=(subject or "")[:200],
        created_at=now,
        last_message_at=now,
    )
    members = [
        Participant(conversation=conversation, contact=contact, role=Participant.Role.CUSTOMER)
    ]
    if assignee is not None:
        members.append(
            Participant(conversation=conversation, user=assignee, role=Participant.Role.AGENT)
        )
    Participant.objects.bulk_create(members)
    audit.record(
        actor=contact,
        action="comms.conversation.created",
        target=conversation,
        data={
            "kind": kind,
            "contact": contact.pk,
            "deal": deal.pk if deal else None,
            "inbound": True,
            "assignee": assignee.pk if assignee else None,
            "covering_for": covering_id,
        },
    )
    realtime.inbox_changed_on_commit(conversation.pk)
    if assignee is not None:
        notifications.notify(
            assignee,
            {
                "type": "conversation.assigned",
                "conversation_id": conversation.pk,
                "by": presenters.contact_actor(contact),
                "covering_for": presenters.user_actor(conversation.covering_for),
            },
            now=now,
        )
    return conversation

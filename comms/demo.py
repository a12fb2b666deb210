"""Demo data for seed_demo (idempotent): conversations with history on a dozen demo deals, an
internal conversation, and one fresh customer link printed for trying the customer page."""

from __future__ import annotations

import os
import uuid

from django.db import transaction

from comms import services
from comms.models import Conversation, CustomerLink, Message, QuickReply

NAMESPACE = uuid.UUID("6f1c1f2e-5b8e-4c55-9d0e-2f3d7f1f6c11")
DEMO_DEALS = 12
# `make run` serves on PORT (default 8000); the printed link must open there.
BASE_URL = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"

SCRIPT = [
    ("out", "Hi {first}, thanks for your interest in {deal}. Shall we go through the proposal?"),
    ("in", "Hello! Yes please. Could you send the pricing again? https://example.com/pricing"),
    ("out", "Of course: the annual plan is in the attached quote. Any questions, just ask here."),
    ("note", "Customer is price sensitive; approve up to 10% discount with @manager."),
    ("in", "Looks good. Can we start next month?"),
]


# A word no other demo message holds: search for it in the compliance console.
RETRACTED_DEMO_WORD = "kickback"
RETRACTED_DEMO_TEXT = "Off the record: we could arrange a kickback for your buyer (wrong chat)"


def _client_id(*parts) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, "/".join(str(p) for p in parts))


def _demo_deals(people: dict, stdout) -> list:
    """The crm demo's deals if it made any; otherwise a few minimal ones of our own."""
    from crm.models import Contact, Deal, Pipeline

    deals = list(
        Deal.objects.filter(archived_at__isnull=True, primary_contact__isnull=False)
        .select_related("primary_contact", "owner")
        .order_by("pk")[:DEMO_DEALS]
    )
    if deals:
        return deals
    pipeline = Pipeline.objects.filter(is_default=True).first()
    reps = [people[name] for name in ("rep1", "rep2", "rep3", "rep4") if name in people]
    if pipeline is None or not reps:
        stdout.write("comms demo: no deals and no pipeline; skipped.")
        return []
    stage = pipeline.stages.order_by("position").first()
    for n in range(4):
        owner = reps[n % len(reps)]
        contact, _ = Contact.objects.get_or_create(
            first_name=f"Demo{n + 1}", last_name="Customer", defaults={"owner": owner}
        )
        deal, _ = Deal.objects.get_or_create(
            title=f"Demo chat deal {n + 1}",
            defaults={
                "owner": contact.owner,
                "pipeline": pipeline,
                "stage": stage,
                "primary_contact": contact,
                "amount": 1000 * (n + 1),
            },
        )
        deal.contacts.add(contact)
    return list(
        Deal.objects.filter(title__startswith="Demo chat deal")
        .select_related("primary_contact", "owner")
        .order_by("pk")
    )


def _conversation_for(deal) -> Conversation:
    conversation = Conversation.objects.filter(
        deal=deal, kind=Conversation.Kind.WEB, subject__startswith="Chat:"
    ).first()
    if conversation is None:
        conversation = services.conversation_start(
            actor=deal.owner,
            contact=deal.primary_contact,
            deal=deal,
            subject=f"Chat: {deal.title}"[:200],
        )
    return conversation


def _history(conversation: Conversation, deal, index: int) -> None:
    contact = deal.primary_contact
    for step, (kind, text) in enumerate(SCRIPT[: 3 + index % 3]):
        body = text.format(first=contact.first_name, deal=deal.title)
        client_id = _client_id(conversation.pk, step)
        if kind == "in":
            services.message_inbound_record(
                conversation=conversation, body=body, client_id=client_id
            )
        else:
            services.message_send(
                author=deal.owner,
                conversation=conversation,
                body=body,
                client_id=client_id,
                note=kind == "note",
            )
    if index == 0:
        # One edited and one retracted message, to show both on every side.
        fixed = services.message_send(
            author=deal.owner,
            conversation=conversation,
            body="Our office opens at 9.",
            client_id=_client_id(conversation.pk, "edit"),
        ).message
        if fixed.edited_at is None:
            services.message_edit(
                editor=deal.owner,
                conversation=conversation,
                message_id=fixed.pk,
                body="Our office opens at 8:30.",
            )
        # Retracted, yet the compliance officer finds it by a word it held (governance.search).
        oops = services.message_send(
            author=deal.owner,
            conversation=conversation,
            body=RETRACTED_DEMO_TEXT,
            client_id=_client_id(conversation.pk, "retract"),
        ).message
        if not oops.retracted:
            services.message_retract(
                actor=deal.owner, conversation=conversation, message_id=oops.pk
            )


# Quick replies: rep1's own, and the Field sales team's (kept by its lead, manager). Typed as
# `/hello` in a composer. (team name or None for the keeper's own, keeper, shortcut, text)
QUICK_REPLIES = [
    (None, "rep1", "hello", "Hi {first_name}, this is {my_name}. How can I help?"),
    (
        None,
        "rep1",
        "followup",
        "Hi {first_name}, just following up on {deal}. Did you have a chance to look at it?",
    ),
    (
        "Field sales",
        "manager",
        "pricing",
        "Thanks {first_name}! Our pricing is in the attached quote. Any questions, just ask"
        " here. {my_name}",
    ),
]


def _quick_replies(people: dict) -> None:
    from accounts.models import Team

    for team_name, keeper, title, body in QUICK_REPLIES:
        actor = people.get(keeper)
        team = Team.objects.filter(name=team_name).first() if team_name else None
        if actor is None or (team_name and team is None):
            continue
        kept = QuickReply.objects.filter(title=title)
        if (kept.filter(team=team) if team else kept.filter(owner=actor)).exists():
            continue
        services.quick_reply_create(actor=actor, title=title, body=body, team=team)


def _internal(people: dict) -> None:
    owner = people.get("manager")
    if (
        owner is None
        or Conversation.objects.filter(
            kind=Conversation.Kind.INTERNAL, subject="Deal desk"
        ).exists()
    ):
        return
    members = [people[name] for name in ("rep1", "rep2", "director") if name in people]
    conversation = services.internal_conversation_create(
        actor=owner, subject="Deal desk", members=members
    )
    services.message_send(
        author=owner,
        conversation=conversation,
        body="Welcome to the deal desk: ask here for discounts and approvals. @rep1 @rep2",
        client_id=_client_id("desk", 0),
    )


@transaction.atomic
def seed(people: dict, stdout) -> None:
    """people maps demo usernames to users."""
    deals = _demo_deals(people, stdout)
    conversations = []
    for index, deal in enumerate(deals):
        if not deal.owner.is_active:
            continue
        conversation = _conversation_for(deal)
        _history(conversation, deal, index)
        conversations.append(conversation)
    _internal(people)
    _quick_replies(people)
    if not conversations:
        return
    first = conversations[0]
    owner = first.assignee or deals[0].owner
    # Only the token's digest is stored, so each run issues a fresh link and withdraws the last.
    for old in CustomerLink.objects.filter(conversation=first, revoked_at__isnull=True):
        services.customer_link_revoke(actor=owner, link=old)
    _link, token = services.customer_link_issue(actor=owner, conversation=first)
    total = Message.objects.filter(conversation__in=conversations).count()
    stdout.write(f"Conversations: {len(conversations)} with {total} messages.")
    stdout.write(f"Customer chat link (as {first.contact}): {BASE_URL}/c/{token}/")

"""A realistic organisation for page query counts: what a rep and their manager hold, grown
through the services and factories (issue 16)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils import timezone

from accounts import roles
from comms import services as comms
from crm import services as crm
from crm.models import Contact, Deal
from tests.comms.conftest import cid, ensure_default_pipeline
from tests.crm.factories import ContactFactory, DealFactory
from tests.factories import make_user


@dataclass
class World:
    rep: object
    manager: object
    deal: Deal
    contact: Contact
    people: list = field(default_factory=list)


def start(rep, manager) -> World:
    """The deal and contact whose pages are measured, owned by the rep."""
    ensure_default_pipeline()
    contact = ContactFactory(owner=rep, first_name="Measured", email="m@x.example")
    deal = DealFactory(owner=rep, title="Measured deal", primary_contact=contact)
    deal.contacts.add(contact)
    return World(rep=rep, manager=manager, deal=deal, contact=contact)


def grow(world: World, n: int) -> None:
    """n more of everything a page lists: contacts and deals (the rep's and the manager's),
    activities and conversations with messages on the measured deal and contact, people in the
    team with shares of the measured records, and internal conversations."""
    rep, manager, deal, contact = world.rep, world.manager, world.deal, world.contact
    now = timezone.now()
    base = len(world.people)
    stages = list(deal.pipeline.stages.all())
    for i in range(n):
        k = base + i
        person = make_user(roles.REP, username=f"p{k}", team=rep.team, manager=manager)
        world.people.append(person)
        other = ContactFactory(owner=rep, first_name=f"Given{k}", email=f"g{k}@x.example")
        related = DealFactory(owner=rep, title=f"Deal {k}", stage=stages[k % len(stages)])
        related.contacts.add(contact, other)
        DealFactory(owner=manager, title=f"Manager deal {k}", stage=stages[k % len(stages)])
        crm.activity_create(actor=rep, kind="note", subject=f"On deal {k}", deal=deal)
        crm.activity_create(
            actor=rep, kind="task", subject=f"On contact {k}", contact=contact, due_at=now
        )
        crm.record_share(actor=rep, record=deal, level="view", user=person)
        crm.record_share(actor=rep, record=contact, level="view", user=person)
        crm.deal_update(actor=rep, deal=deal, amount=100 + k)
        conversation = comms.conversation_start(actor=rep, contact=contact, deal=deal)
        link, _token = comms.customer_link_issue(actor=rep, conversation=conversation)
        comms.message_receive(link=link, body=f"hello {k}", client_id=cid())
        elsewhere = comms.conversation_start(actor=rep, contact=other)
        link, _token = comms.customer_link_issue(actor=rep, conversation=elsewhere)
        comms.message_receive(link=link, body=f"hi {k}", client_id=cid())
        comms.internal_conversation_create(
            actor=manager, subject=f"Team {k}", members=[rep, person]
        )

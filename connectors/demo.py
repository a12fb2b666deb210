"""Demo channels for `make run` (idempotent): a WhatsApp account pointing at the provider
simulator on loopback (`python manage.py channel_simulator`, port 8900, its default fake
secrets), and the simulator's customer as a contact of rep1 with a deal whose WhatsApp
conversation receives what they type there."""

from __future__ import annotations

from django.db import transaction

from comms import services as comms_services
from comms.models import Conversation
from connectors import services
from connectors.models import ChannelAccount, ChannelKind
from connectors.simulator import SimulatorSettings

SIMULATOR_URL = "http://127.0.0.1:8900"
DEAL_TITLE = "WhatsApp demo: Casey's order"


def _account(sim: SimulatorSettings) -> ChannelAccount:
    account = ChannelAccount.objects.filter(
        kind=ChannelKind.WHATSAPP, settings__phone_number_id=sim.phone_number_id
    ).first()
    if account is not None:
        return account
    return services.channel_account_save(
        actor=None,
        account=ChannelAccount(
            kind=ChannelKind.WHATSAPP,
            name="Demo WhatsApp (simulator)",
            settings={
                "phone_number_id": sim.phone_number_id,
                "business_account_id": sim.business_account_id,
                "api_base_url": SIMULATOR_URL,
                "api_version": sim.api_version,
            },
        ),
        secrets={
            "access_token": sim.access_token,
            "app_secret": sim.app_secret,
            "verify_token": sim.verify_token,
        },
    )


@transaction.atomic
def seed(people: dict, stdout) -> None:
    """people maps demo usernames to users (accounts.demo.seed)."""
    from crm.models import Contact, ContactPhone, Deal, Pipeline

    rep = people.get("rep1")
    pipeline = Pipeline.objects.filter(is_default=True).first()
    if rep is None or not rep.is_active or pipeline is None:
        stdout.write("connectors demo: no active rep1 or no pipeline; skipped.")
        return
    sim = SimulatorSettings()
    _account(sim)
    contact = Contact.objects.filter(phones__number=sim.customer_number).order_by("pk").first()
    if contact is None:
        first, _, last = sim.customer_name.partition(" ")
        contact = Contact.objects.create(first_name=first, last_name=last, owner=rep)
        ContactPhone.objects.create(contact=contact, number=sim.customer_number, is_primary=True)
    deal = Deal.objects.filter(title=DEAL_TITLE).first()
    if deal is None:
        deal = Deal.objects.create(
            title=DEAL_TITLE,
            owner=contact.owner,
            pipeline=pipeline,
            stage=pipeline.stages.order_by("position").first(),
            primary_contact=contact,
            amount=2400,
        )
        deal.contacts.add(contact)
    if not Conversation.objects.filter(contact=contact, kind=ChannelKind.WHATSAPP).exists():
        comms_services.conversation_start(
            actor=deal.owner,
            contact=contact,
            deal=deal,
            kind=ChannelKind.WHATSAPP,
            subject=f"WhatsApp: {contact}"[:200],
        )
    stdout.write(
        f"WhatsApp demo: deal “{DEAL_TITLE}” ({deal.owner.username}); run "
        "`python manage.py channel_simulator` and type as the customer."
    )

import uuid

import pytest

from comms import services
from tests.crm.factories import DealFactory


def ensure_default_pipeline():
    """Transactional tests flush the tables the data migration filled: fill them again."""
    import importlib

    from django.apps import apps

    module = importlib.import_module("crm.migrations.0002_default_pipeline")
    module.create_default_pipeline(apps, None)


@pytest.fixture
def deal(db, rep, customer_contact):
    ensure_default_pipeline()
    deal = DealFactory(title="Fleet renewal", owner=rep, primary_contact=customer_contact)
    deal.contacts.add(customer_contact)
    return deal


@pytest.fixture
def conversation(db, rep, customer_contact, deal):
    return services.conversation_start(
        actor=rep, contact=customer_contact, deal=deal, subject="Renewal chat"
    )


@pytest.fixture
def link_and_token(db, rep, conversation):
    return services.customer_link_issue(actor=rep, conversation=conversation)


def cid() -> str:
    return str(uuid.uuid4())

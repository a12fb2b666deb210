"""Fixtures of the DLP and review tests: a rep's web-chat conversation with a customer link, an
internal conversation, and helpers to set the policy."""

import uuid

import pytest

from comms import services
from governance.services import dlp as dlp_services
from tests.comms.conftest import ensure_default_pipeline
from tests.crm.factories import DealFactory


@pytest.fixture
def conversation(db, rep, customer_contact):
    ensure_default_pipeline()
    deal = DealFactory(title="Fleet renewal", owner=rep, primary_contact=customer_contact)
    deal.contacts.add(customer_contact)
    return services.conversation_start(
        actor=rep, contact=customer_contact, deal=deal, subject="Renewal chat"
    )


@pytest.fixture
def link_and_token(db, rep, conversation):
    return services.customer_link_issue(actor=rep, conversation=conversation)


@pytest.fixture
def internal(db, rep, manager):
    return services.internal_conversation_create(actor=rep, subject="Team", members=[manager])


def cid() -> str:
    return str(uuid.uuid4())


def set_action(admin, detector: str, channel: str, action: str) -> None:
    dlp_services.dlp_policy_set(actor=admin, actions={(detector, channel): action})

"""audit knows no other app: who reads the ledger and which models act as contacts are
registered by the apps that know (accounts and crm, in their AppConfig.ready())."""

import pytest
from django.contrib.auth.models import AnonymousUser

import audit
from audit import permissions, services
from audit.models import AuditEvent
from tests.crm.factories import DealFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("who", "reads"),
    [
        ("admin_user", True),
        ("compliance", True),
        ("manager", False),
        ("rep", False),
        ("other_rep", False),
    ],
)
def test_ledger_readers_are_admins_and_compliance(request, who, reads):
    user = request.getfixturevalue(who)
    assert permissions.can_view_ledger(user) is reads
    user.is_active = False
    assert permissions.can_view_ledger(user) is False


def test_anonymous_and_unregistered_read_nothing(monkeypatch, admin_user):
    assert permissions.can_view_ledger(AnonymousUser()) is False
    monkeypatch.setattr(permissions, "_reader_tests", [])
    assert permissions.can_view_ledger(admin_user) is False  # fails closed


def test_a_customer_contact_acts_as_a_contact(customer_contact, rep):
    event = audit.record(actor=customer_contact, action="comms.message.received")
    stored = AuditEvent.objects.get(seq=event.seq)
    assert (stored.actor_type, stored.actor_id, stored.actor_label) == (
        "contact",
        customer_contact.pk,
        str(customer_contact),
    )
    # Any other model instance acts as a user, labelled by its username (or str).
    deal = DealFactory(owner=rep, title="Big deal")
    assert audit.record(actor=deal, action="crm.deal.touched").actor_type == "user"


def test_actor_types_are_checked_when_registered(customer_contact):
    from crm.models import Contact, Deal

    services.register_actor_type(Contact, AuditEvent.ActorType.CONTACT)  # again: no change
    with pytest.raises(ValueError, match="unknown"):
        services.register_actor_type(Deal, "robot")
    with pytest.raises(ValueError, match="already"):
        services.register_actor_type(Contact, AuditEvent.ActorType.USER)

"""Coherent ownership: what follows a reassigned company, contact or deal (crm/book.py)."""

import pytest

from audit.models import AuditEvent
from comms import services as comms
from comms.models import Conversation, Participant
from crm import services
from crm.models import Contact, Deal
from tests.comms.conftest import ensure_default_pipeline
from tests.crm.factories import CompanyFactory, ContactFactory, DealFactory
from tests.factories import ROLE, make_user


@pytest.fixture
def ana(db, manager, team):
    return make_user(
        ROLE.REP, username="ana", first_name="Ana", last_name="Lima", manager=manager, team=team
    )


@pytest.fixture
def acme(db, rep, other_rep, customer_contact):
    ensure_default_pipeline()
    company = CompanyFactory(name="Acme", owner=rep)
    customer_contact.company = company
    customer_contact.save()
    theirs = ContactFactory(first_name="Held", owner=other_rep, company=company)
    open_deal = DealFactory(
        title="Fleet", owner=rep, company=company, primary_contact=customer_contact
    )
    won = DealFactory(title="Won", owner=rep, company=company, status=Deal.Status.WON)
    chat = comms.conversation_start(actor=rep, contact=customer_contact, deal=open_deal)
    return {
        "company": company,
        "contact": customer_contact,
        "theirs": theirs,
        "open_deal": open_deal,
        "won": won,
        "chat": chat,
    }


def test_a_company_takes_its_contacts_open_deals_and_their_conversations(
    manager, rep, other_rep, ana, acme
):
    preview = services.record_reassign_preview(actor=manager, record=acme["company"], owner=ana)
    assert preview["contacts"] == 1 and preview["deals_open"] == 1
    assert preview["conversations_open"] == 1
    assert Contact.objects.get(pk=acme["contact"].pk).owner_id == rep.pk  # a preview only

    services.company_update(actor=manager, company=acme["company"], owner=ana)

    assert Contact.objects.get(pk=acme["contact"].pk).owner_id == ana.pk
    assert Contact.objects.get(pk=acme["theirs"].pk).owner_id == other_rep.pk  # not rep's
    assert Deal.objects.get(pk=acme["open_deal"].pk).owner_id == ana.pk
    assert Deal.objects.get(pk=acme["won"].pk).owner_id == rep.pk  # closed deals stay
    chat = Conversation.objects.get(pk=acme["chat"].pk)
    assert chat.assignee_id == ana.pk
    assert Participant.objects.filter(conversation=chat, user=ana, left_at__isnull=True).exists()
    assert not Participant.objects.filter(
        conversation=chat, user=rep, left_at__isnull=True
    ).exists()
    # the old rep no longer reaches the conversation through anything
    from comms import permissions as comms_permissions

    assert not comms_permissions.can_view(rep, chat)
    assert AuditEvent.objects.filter(action="crm.contact.reassigned").count() == 1
    assert AuditEvent.objects.filter(action="comms.conversation.assigned").count() == 1


def test_a_company_alone_when_the_manager_says_so(manager, rep, ana, acme):
    services.company_update(actor=manager, company=acme["company"], owner=ana, cascade=())
    assert Contact.objects.get(pk=acme["contact"].pk).owner_id == rep.pk
    assert Deal.objects.get(pk=acme["open_deal"].pk).owner_id == rep.pk
    assert Conversation.objects.get(pk=acme["chat"].pk).assignee_id == rep.pk


def test_a_deal_takes_its_open_conversations(manager, rep, ana, acme):
    services.deal_update(actor=manager, deal=acme["open_deal"], owner=ana)
    assert Conversation.objects.get(pk=acme["chat"].pk).assignee_id == ana.pk
    assert Contact.objects.get(pk=acme["contact"].pk).owner_id == rep.pk


def test_a_contact_takes_its_open_conversations_but_not_closed_ones(manager, rep, ana, acme):
    closed = comms.conversation_start(actor=rep, contact=acme["contact"])
    comms.conversation_set_status(actor=rep, conversation=closed, status="closed")
    services.contact_update(actor=manager, contact=acme["contact"], owner=ana)
    assert Conversation.objects.get(pk=acme["chat"].pk).assignee_id == ana.pk
    assert Conversation.objects.get(pk=closed.pk).assignee_id == rep.pk


def test_a_transfer_ends_the_old_assignees_access_unless_another_claim_remains(
    manager, rep, ana, acme
):
    from comms import permissions as comms_permissions

    comms.conversation_assign(actor=manager, conversation=acme["chat"], assignee=ana)
    # rep still owns the contact and the deal: that claim remains
    assert comms_permissions.can_view(rep, acme["chat"])
    services.deal_update(actor=manager, deal=acme["open_deal"], owner=ana)
    services.contact_update(actor=manager, contact=acme["contact"], owner=ana)
    assert not comms_permissions.can_view(rep, Conversation.objects.get(pk=acme["chat"].pk))


def test_the_edit_page_previews_what_moves_before_moving_it(client, manager, rep, ana, acme):
    client.force_login(manager)
    url = f"/companies/{acme['company'].pk}/edit/"
    data = {"name": "Acme", "owner": ana.pk, "move_contacts": "on", "move_deals": "on", "tags": ""}
    first = client.post(url, data)
    body = first.content.decode()
    assert first.status_code == 200 and 'data-testid="reassign-preview"' in body
    assert Contact.objects.get(pk=acme["contact"].pk).owner_id == rep.pk
    saved = client.post(url, {**data, "confirm_reassign": "on"})
    assert saved.status_code == 302
    assert Contact.objects.get(pk=acme["contact"].pk).owner_id == ana.pk
    assert Conversation.objects.get(pk=acme["chat"].pk).assignee_id == ana.pk


def test_the_api_moves_a_company_with_or_without_what_follows(client, manager, rep, ana, acme):
    client.force_login(manager)
    url = f"/api/v1/companies/{acme['company'].pk}/"
    alone = client.patch(url, {"owner": ana.pk, "cascade": []}, content_type="application/json")
    assert alone.status_code == 200
    assert Contact.objects.get(pk=acme["contact"].pk).owner_id == rep.pk
    back = client.patch(url, {"owner": rep.pk}, content_type="application/json")
    assert back.status_code == 200
    again = client.patch(url, {"owner": ana.pk}, content_type="application/json")
    assert again.status_code == 200
    assert Contact.objects.get(pk=acme["contact"].pk).owner_id == ana.pk
    assert Conversation.objects.get(pk=acme["chat"].pk).assignee_id == ana.pk
    bad = client.patch(url, {"owner": rep.pk, "cascade": ["nope"]}, content_type="application/json")
    assert bad.status_code == 400

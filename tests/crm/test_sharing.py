"""Sharing: the owner or anyone above them shares with a person or a team and takes it back;
both are audited; nobody else can."""

import pytest

from audit.models import AuditEvent
from config.errors import Forbidden, NotFound
from crm import permissions, services
from tests.crm.factories import ContactFactory, DealFactory


def test_share_with_a_person_then_unshare(rep, outsider):
    deal = DealFactory(owner=rep)
    assert not permissions.can_view(outsider, deal)
    services.record_share(actor=rep, record=deal, user=outsider, level="view")
    assert permissions.can_view(outsider, deal) and not permissions.can_change(outsider, deal)
    services.record_share(actor=rep, record=deal, user=outsider, level="change")
    assert permissions.can_change(outsider, deal)
    services.record_unshare(actor=rep, record=deal, user=outsider)
    assert not permissions.can_view(outsider, deal)
    actions = list(
        AuditEvent.objects.filter(target_type="crm.deal", target_id=str(deal.pk)).values_list(
            "action", "data"
        )
    )
    assert [a for a, _d in actions] == ["crm.deal.shared", "crm.deal.shared", "crm.deal.unshared"]
    assert actions[0][1]["with"] == f"user:{outsider.pk}" and actions[0][1]["level"] == "view"


def test_share_with_a_team(rep, outsider):
    contact = ContactFactory(owner=rep)
    team = outsider.team
    services.record_share(actor=rep, record=contact, team=team, level="view")
    assert permissions.can_view(outsider, contact)
    event = AuditEvent.objects.get(action="crm.contact.shared")
    assert event.data["with"] == f"team:{team.pk}"
    services.record_unshare(actor=rep, record=contact, team=team)
    assert not permissions.can_view(outsider, contact)
    assert AuditEvent.objects.filter(action="crm.contact.unshared").exists()


def test_managers_above_the_owner_share(rep, manager, director, outsider):
    deal = DealFactory(owner=rep)
    services.record_share(actor=director, record=deal, user=outsider, level="view")
    assert permissions.can_view(outsider, deal)


def test_others_cannot_share_and_nothing_changes(rep, other_rep, outsider):
    deal = DealFactory(owner=rep)
    before = AuditEvent.objects.count()
    with pytest.raises(NotFound):
        services.record_share(actor=other_rep, record=deal, user=outsider, level="view")
    # A person a record is shared with (even to change) cannot pass it on.
    services.record_share(actor=rep, record=deal, user=other_rep, level="change")
    with pytest.raises(Forbidden):
        services.record_share(actor=other_rep, record=deal, user=outsider, level="view")
    assert not permissions.can_view(outsider, deal)
    assert AuditEvent.objects.count() == before + 1


def test_share_page_flow(client, rep, outsider):
    deal = DealFactory(owner=rep)
    client.force_login(rep)
    page = client.get(deal.get_absolute_url())
    assert b'data-testid="share-panel"' in page.content
    response = client.post(
        f"/deals/{deal.pk}/share/", {"who": f"user:{outsider.pk}", "level": "change"}
    )
    assert response.status_code == 302
    page = client.get(deal.get_absolute_url())
    assert page.content.count(b'data-testid="share-row"') == 1
    client.post(f"/deals/{deal.pk}/unshare/", {"who": f"user:{outsider.pk}"})
    assert not permissions.can_view(outsider, deal)
    timeline = client.get(deal.get_absolute_url()).content.decode()
    assert "shared the deal with" in timeline and "stopped sharing the deal with" in timeline


def test_share_panel_hidden_from_those_who_cannot_share(client, rep, other_rep, team):
    deal = DealFactory(owner=rep)
    services.record_share(actor=rep, record=deal, team=team, level="change")
    client.force_login(other_rep)
    page = client.get(deal.get_absolute_url())
    assert page.status_code == 200
    assert b'data-testid="share-panel"' not in page.content


def test_an_admin_restores_an_archived_deal_from_its_page(client, rep, admin_user):
    deal = DealFactory(owner=rep, title="Mothballed renewal")
    services.record_archive(actor=admin_user, record=deal)
    client.force_login(admin_user)
    page = client.get(deal.get_absolute_url()).content.decode()
    assert 'data-testid="restore"' in page and ">Archive<" not in page
    response = client.post(f"/deals/{deal.pk}/restore/")
    assert response.status_code == 302 and response["Location"] == deal.get_absolute_url()
    client.force_login(rep)
    assert client.get(deal.get_absolute_url()).status_code == 200
    assert "Mothballed renewal" in client.get("/deals/").content.decode()
    assert client.post(f"/deals/{deal.pk}/restore/").status_code == 403  # only an admin

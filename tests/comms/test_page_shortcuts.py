"""Issue 16: the record pages and the inbox ask less of the database where the answer is already
known, and still show exactly what the full visibility rule shows.

- A deal's or contact's page read the record through the viewer's visibility filter, so its
  customer conversations and its activities are visible without asking again
  (`comms.permissions.on_visible_record_q`, `crm.permissions.activity_queryset_for`).
- The inbox's "Mine" box lists what the person holds, which is one of the ways of seeing
  (`comms.permissions.held_queryset_for`).
- Permission and visibility answers are kept per user object, and a new team on that object is
  seen at once (`crm.permissions.remembered`).
- Model permissions come in one query (`accounts.permissions.model_permissions`).
"""

import pytest
from django.contrib.auth.models import Group, Permission

from accounts import permissions as account_permissions
from accounts import roles
from comms import selectors, services
from comms.models import Conversation
from crm import permissions as crm_permissions
from crm import selectors as crm_selectors
from crm import services as crm_services
from crm.models import Company
from tests.crm.factories import ContactFactory
from tests.factories import TeamFactory, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def floor(rep, other_rep, manager, compliance, customer_contact, deal):
    """The rep's deal with a customer conversation, a staff-only one linked to the same deal
    that only the rep is in, a colleague's customer conversation on it, and a share of the deal
    with a rep from another team."""
    outsider = make_user(roles.REP, username="outsider", team=TeamFactory(name="Inside sales"))
    customer = services.conversation_start(
        actor=rep, contact=customer_contact, deal=deal, subject="Customer chat"
    )
    internal = services.internal_conversation_create(actor=rep, subject="Private desk talk")
    Conversation.objects.filter(pk=internal.pk).update(deal=deal, contact=customer_contact)
    crm_services.record_share(actor=rep, record=deal, level="view", user=other_rep)
    crm_services.record_share(actor=rep, record=customer_contact, level="view", user=other_rep)
    colleague = services.conversation_start(
        actor=other_rep, contact=customer_contact, deal=deal, subject="Colleague chat"
    )
    crm_services.record_share(actor=rep, record=deal, level="view", user=outsider)
    return {
        "deal": deal,
        "contact": customer_contact,
        "customer": customer,
        "internal": internal,
        "colleague": colleague,
        "viewers": [rep, other_rep, manager, compliance, outsider],
    }


def _ids(qs) -> set[int]:
    return {c.pk for c in qs}


def test_record_pages_list_what_the_full_rule_lists(floor):
    for viewer in floor["viewers"]:
        for record, listed in (
            (floor["deal"], selectors.conversations_for_deal),
            (floor["contact"], selectors.conversations_for_contact),
        ):
            if not crm_permissions.can_view(viewer, record):
                continue
            assert _ids(listed(viewer, record, visible=True)) == _ids(
                listed(viewer, record, visible=False)
            ), (viewer.username, record)
    outsider = floor["viewers"][-1]
    shown = _ids(selectors.conversations_for_deal(outsider, floor["deal"], visible=True))
    assert shown == {floor["customer"].pk, floor["colleague"].pk}


def test_a_shared_deal_page_shows_its_customer_chats_but_no_one_elses_staff_talk(client, floor):
    def tabs(person) -> set[int]:
        client.force_login(person)
        page = client.get(floor["deal"].get_absolute_url()).content.decode()
        return {c.pk for c in Conversation.objects.all() if f"?conversation={c.pk}#" in page}

    outsider, rep = floor["viewers"][-1], floor["viewers"][0]
    assert tabs(outsider) == {floor["customer"].pk, floor["colleague"].pk}
    assert tabs(rep) == {floor["customer"].pk, floor["colleague"].pk, floor["internal"].pk}


def test_record_pages_list_every_activity_the_full_rule_lists(floor, rep, other_rep, manager):
    deal, contact = floor["deal"], floor["contact"]
    crm_services.activity_create(actor=rep, kind="note", subject="Rep's note", deal=deal)
    crm_services.activity_create(actor=manager, kind="call", subject="Manager's call", deal=deal)
    crm_services.activity_create(actor=rep, kind="note", subject="On the contact", contact=contact)
    for viewer in (rep, other_rep, manager):
        full = {a.pk for a in crm_selectors.deal_activities_for(viewer, deal)}
        assert len(full) == 2
        assert {a.pk for a in crm_selectors.deal_activities_for(viewer, deal, visible=True)} == full
        related = crm_selectors.contact_related_for(viewer, contact, visible=True)["activities"]
        assert [a.subject for a in related] == ["On the contact"]


def test_mine_lists_what_the_person_holds_and_all_lists_the_rest(floor, rep, other_rep):
    mine = _ids(selectors.conversation_list_for(other_rep, {"mine": "1"}))
    assert mine == {floor["colleague"].pk}
    everything = _ids(selectors.conversation_list_for(other_rep, {}))
    assert everything == {floor["colleague"].pk, floor["customer"].pk}
    rows = {c.pk: c for c in selectors.conversation_list_for(rep, {"mine": "1"})}
    assert set(rows) == {floor["customer"].pk, floor["internal"].pk}
    assert rows[floor["customer"].pk].deal == floor["deal"]


def test_a_new_team_on_the_same_person_object_is_seen_at_once(rep):
    owner = make_user(roles.REP, username="owner_elsewhere")
    contact = ContactFactory(owner=owner, first_name="Teamshared")
    other_team = TeamFactory(name="Key accounts")
    crm_services.record_share(actor=owner, record=contact, level="view", team=other_team)
    assert not crm_permissions.contact_queryset_for(rep).filter(pk=contact.pk).exists()
    rep.team = other_team
    rep.save(update_fields=["team"])
    assert crm_permissions.contact_queryset_for(rep).filter(pk=contact.pk).exists()


def test_handed_out_querysets_do_not_share_results(rep, customer_contact):
    first = crm_permissions.contact_queryset_for(rep)
    assert [c.pk for c in first] == [customer_contact.pk]
    ContactFactory(owner=rep, first_name="Later")
    assert crm_permissions.contact_queryset_for(rep).count() == 2
    assert len(first) == 1  # the first caller's results stay its own


def test_model_permissions_are_djangos_in_one_query(
    rep, manager, compliance, admin_user, django_assert_num_queries
):
    from django.contrib.auth.backends import ModelBackend

    superuser = make_user(None, username="root", is_superuser=True)
    for person in (rep, manager, compliance, admin_user, superuser):
        fresh = type(person).objects.get(pk=person.pk)
        with django_assert_num_queries(1):
            ours = account_permissions.model_permissions(fresh)
        expected = ModelBackend().get_all_permissions(type(person).objects.get(pk=person.pk))
        assert ours == expected and ours, person.username
    add_company = Permission.objects.get(codename="add_company")
    assert "crm.add_company" in account_permissions.model_permissions(rep)
    Group.objects.get(name=roles.REP).permissions.remove(add_company)
    assert "crm.add_company" in account_permissions.model_permissions(rep)  # this request's
    assert not crm_permissions.can_create(type(rep).objects.get(pk=rep.pk), Company)

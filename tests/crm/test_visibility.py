"""The visibility matrix at model level: who sees and changes which record, in SQL."""

import pytest
from django.http import Http404
from guardian.shortcuts import assign_perm

from accounts import roles
from crm import permissions, selectors
from crm.models import Company, Contact, Deal
from tests.crm.factories import ActivityFactory, CompanyFactory, ContactFactory, DealFactory
from tests.factories import TeamFactory, make_user

FACTORIES = {Company: CompanyFactory, Contact: ContactFactory, Deal: DealFactory}
LIST = {
    Company: selectors.company_list_for,
    Contact: selectors.contact_list_for,
    Deal: selectors.deal_list_for,
}
GET = {
    Company: selectors.company_get_for,
    Contact: selectors.contact_get_for,
    Deal: selectors.deal_get_for,
}

# actor -> the records (own, shared, team_shared, foreign) it sees
EXPECTED_VIEW = {
    "rep": {"own", "shared", "team_shared"},
    "other_rep": {"team_shared"},
    "manager": {"own", "team_shared"},
    "director": {"own"},
    "compliance": {"own", "shared", "team_shared", "foreign"},
    "admin_user": {"own", "shared", "team_shared", "foreign"},
}
EXPECTED_CHANGE = {
    "rep": {"own"},
    "other_rep": set(),
    "manager": {"own"},
    "director": {"own"},
    "compliance": set(),
    "admin_user": {"own", "shared", "team_shared", "foreign"},
}


@pytest.fixture
def outsider(db):
    return make_user(roles.REP, username="outsider", team=TeamFactory(name="Elsewhere"))


@pytest.fixture
def actors(rep, other_rep, manager, director, compliance, admin_user):
    director.team = None
    director.save(update_fields=["team"])
    return {
        "rep": rep,
        "other_rep": other_rep,
        "manager": manager,
        "director": director,
        "compliance": compliance,
        "admin_user": admin_user,
    }


def make_records(model, rep, team, outsider):
    factory = FACTORIES[model]
    name = model._meta.model_name
    records = {
        "own": factory(owner=rep),
        "shared": factory(owner=outsider),
        "team_shared": factory(owner=outsider),
        "foreign": factory(owner=outsider),
    }
    assign_perm(f"crm.view_{name}", rep, records["shared"])
    assign_perm(f"crm.view_{name}", team.group, records["team_shared"])
    return records


@pytest.mark.parametrize("model", [Company, Contact, Deal], ids=lambda m: m.__name__)
@pytest.mark.parametrize("actor", list(EXPECTED_VIEW))
def test_visibility_matrix(model, actor, actors, rep, team, outsider):
    records = make_records(model, rep, team, outsider)
    user = actors[actor]
    visible_ids = set(LIST[model](user).values_list("pk", flat=True))
    expected = {records[key].pk for key in EXPECTED_VIEW[actor]}
    assert visible_ids == expected
    for key, record in records.items():
        assert permissions.can_view(user, record) is (key in EXPECTED_VIEW[actor])
        assert permissions.can_change(user, record) is (key in EXPECTED_CHANGE[actor]), key
        if key in EXPECTED_VIEW[actor]:
            assert GET[model](user, record.pk).pk == record.pk
        else:
            with pytest.raises(Http404):
                GET[model](user, record.pk)
    changeable = set(LIST[model](user, level="change").values_list("pk", flat=True))
    assert changeable == {records[key].pk for key in EXPECTED_CHANGE[actor]}


@pytest.mark.parametrize("model", [Company, Contact, Deal], ids=lambda m: m.__name__)
def test_change_share_lets_the_rep_and_their_team_change(model, rep, other_rep, team, outsider):
    factory = FACTORIES[model]
    name = model._meta.model_name
    for_rep, for_team = factory(owner=outsider), factory(owner=outsider)
    assign_perm(f"crm.change_{name}", rep, for_rep)
    assign_perm(f"crm.change_{name}", team.group, for_team)
    assert permissions.can_change(rep, for_rep) and permissions.can_view(rep, for_rep)
    assert permissions.can_change(rep, for_team)
    assert permissions.can_change(other_rep, for_team)
    assert not permissions.can_view(other_rep, for_rep)


def test_another_teams_share_does_not_leak(rep, outsider):
    elsewhere_team = outsider.team
    deal = DealFactory(owner=make_user(roles.REP))
    assign_perm("crm.change_deal", elsewhere_team.group, deal)
    assert not permissions.can_view(rep, deal)
    assert permissions.can_view(outsider, deal)


def test_archived_records_are_hidden_except_from_admin_and_compliance(
    rep, manager, compliance, admin_user
):
    from django.utils import timezone

    deal = DealFactory(owner=rep, archived_at=timezone.now())
    for user in (rep, manager):
        assert not selectors.deal_list_for(user).filter(pk=deal.pk).exists()
        assert not permissions.can_view(user, deal)
    for user in (compliance, admin_user):
        assert selectors.deal_list_for(user).filter(pk=deal.pk).exists()


def test_inactive_user_sees_nothing(rep):
    DealFactory(owner=rep)
    rep.is_active = False
    rep.save(update_fields=["is_active"])
    assert not selectors.deal_list_for(rep).exists()


def test_activities_follow_their_record(rep, other_rep, manager):
    deal = DealFactory(owner=rep)
    note = ActivityFactory(deal=deal, author=rep)
    assert list(selectors.activity_list_for(rep)) == [note]
    assert list(selectors.activity_list_for(manager)) == [note]
    assert list(selectors.activity_list_for(other_rep)) == []
    assert permissions.can_view(manager, note) and not permissions.can_view(other_rep, note)


def test_sharing_rights_follow_the_reporting_line(rep, other_rep, manager, director, admin_user):
    deal = DealFactory(owner=rep)
    assert permissions.can_share(rep, deal)
    assert permissions.can_share(manager, deal)
    assert permissions.can_share(director, deal)
    assert permissions.can_share(admin_user, deal)
    assert not permissions.can_share(other_rep, deal)


def test_list_is_one_query_for_any_size(rep, manager, django_assert_num_queries):
    for _ in range(5):
        DealFactory(owner=rep)
    rep_qs = permissions.deal_queryset_for(rep)
    with django_assert_num_queries(1):
        assert len(list(rep_qs)) == 5
    manager._keepline_roles = None
    permissions.is_manager(manager)
    with django_assert_num_queries(1):
        assert len(list(permissions.deal_queryset_for(manager))) == 5

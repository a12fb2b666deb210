"""Teams and people are archived, never deleted: the admin offers no Delete; archiving a team is
an audited service that refuses a team still in use, turns its shares off (kept for a restore)
and rechecks the sockets of its members after commit."""

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import roles, services
from accounts.models import Team, User
from audit.models import AuditEvent
from config import events as event_bus
from config.errors import Conflict, Forbidden, Invalid
from crm import permissions as crm_permissions
from crm import services as crm_services
from crm.forms import ShareForm
from crm.models import DealGroupObjectPermission
from tests.crm.factories import DealFactory
from tests.factories import TeamFactory, make_user

RECHECK = {"type": "access.recheck", "conversation_ids": None, "reason": "access_changed"}


def events(action: str):
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def move(admin, person, team):
    person.team = team
    services.user_save(actor=admin, user=person)


def deactivate(admin, person):
    person.is_active = False
    services.user_save(actor=admin, user=person)


@pytest.fixture
def outsider(db):
    """Owns a deal and shares it; in no team of the tests."""
    return make_user(roles.REP, username="outsider")


@pytest.fixture
def shared_deal(outsider, team):
    deal = DealFactory(owner=outsider, title="Shared with Field sales")
    crm_services.record_share(actor=outsider, record=deal, team=team, level="view")
    return deal


@pytest.fixture
def empty_team(db):
    return TeamFactory(name="Dissolved")


# --- nothing is deleted in the admin ------------------------------------------------------------


@pytest.mark.django_db
def test_admin_cannot_delete_a_team(admin_user, team):
    client = admin_client(admin_user)
    url = reverse("admin:accounts_team_delete", args=[team.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"post": "yes"}).status_code == 403
    change = client.get(reverse("admin:accounts_team_change", args=[team.pk]))
    assert url not in change.content.decode()
    changelist = client.get(reverse("admin:accounts_team_changelist"))
    actions = [name for name, _label in changelist.context["action_form"].fields["action"].choices]
    assert "delete_selected" not in actions and {"archive_teams", "restore_teams"} <= set(actions)
    client.post(
        reverse("admin:accounts_team_changelist"),
        {"action": "delete_selected", "_selected_action": [team.pk], "post": "yes"},
    )
    assert Team.objects.filter(pk=team.pk).exists()
    assert (
        not AuditEvent.objects.filter(action__startswith="accounts.team.")
        .exclude(action="accounts.team.created")
        .exists()
    )


@pytest.mark.django_db
def test_admin_cannot_delete_a_person_or_a_role(admin_user, rep):
    superuser = make_user(roles.ADMIN, username="root", is_superuser=True, is_staff=True)
    for actor in (admin_user, superuser):
        client = admin_client(actor)
        url = reverse("admin:accounts_user_delete", args=[rep.pk])
        assert client.get(url).status_code == 403
        assert client.post(url, {"post": "yes"}).status_code == 403
        changelist = client.get(reverse("admin:accounts_user_changelist"))
        actions = [n for n, _label in changelist.context["action_form"].fields["action"].choices]
        assert "delete_selected" not in actions and "deactivate_people" in actions
        role = Group.objects.get(name=roles.REP)
        assert client.get(reverse("admin:auth_group_delete", args=[role.pk])).status_code == 403
    assert User.objects.filter(pk=rep.pk, is_active=True).exists()
    assert Group.objects.filter(name=roles.REP).exists()
    assert not hasattr(services, "user_delete")


@pytest.mark.django_db
def test_deactivate_action_is_the_admins_way_to_remove_people(
    admin_user, rep, other_rep, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr(event_bus, "_emit", lambda group, event: sent.append((group, event)))
    client = admin_client(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:accounts_user_changelist"),
            {"action": "deactivate_people", "_selected_action": [rep.pk, admin_user.pk]},
            follow=True,
        )
    texts = [str(m) for m in response.context["messages"]]
    assert "You cannot deactivate yourself." in texts and "Deactivated 1 person." in texts
    rep.refresh_from_db()
    admin_user.refresh_from_db()
    assert not rep.is_active and admin_user.is_active
    (event,) = events("accounts.user.deactivated")
    assert event.target_id == str(rep.pk) and event.actor_id == admin_user.pk
    assert (f"user.{rep.pk}", {"type": "connection.close", "reason": "deactivated"}) in sent


# --- the services ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_team_in_use_is_not_archived_and_nothing_is_written(
    admin_user, team, rep, other_rep, django_capture_on_commit_callbacks
):
    TeamFactory(name="Field sales north", parent=team)
    deactivate(admin_user, other_rep)
    before = AuditEvent.objects.count()
    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(Conflict) as error,
    ):
        services.team_archive(actor=admin_user, team=team)
    message = " ".join(error.value.messages)
    # rep and manager are active; other_rep is deactivated and does not count.
    assert "Field sales is still in use" in message
    assert "active members: 2;" in message and "sub-teams not archived: 1)" in message
    assert callbacks == []
    assert AuditEvent.objects.count() == before
    team.refresh_from_db()
    assert team.archived_at is None


@pytest.mark.django_db
def test_only_an_admin_archives_or_restores(rep, manager, empty_team):
    before = AuditEvent.objects.count()
    for actor in (rep, manager):
        with pytest.raises(Forbidden):
            services.team_archive(actor=actor, team=empty_team)
    empty_team.refresh_from_db()
    assert empty_team.archived_at is None
    Team.objects.filter(pk=empty_team.pk).update(archived_at=timezone.now())
    with pytest.raises(Forbidden):
        services.team_restore(actor=manager, team=empty_team)
    empty_team.refresh_from_db()
    assert empty_team.archived_at is not None
    assert AuditEvent.objects.count() == before


@pytest.mark.django_db
def test_archiving_a_dissolved_team_keeps_its_shares_off_until_restored(
    admin_user, team, manager, rep, other_rep, shared_deal, empty_team
):
    assert crm_permissions.can_view(rep, shared_deal)
    for person in (manager, rep, other_rep):
        move(admin_user, person, empty_team)
    assert not crm_permissions.can_view(rep, shared_deal)

    services.team_archive(actor=admin_user, team=team)
    team.refresh_from_db()
    assert team.archived_at is not None
    (archived,) = events("accounts.team.archived")
    assert archived.actor_id == admin_user.pk and archived.target_id == str(team.pk)
    assert archived.data["archived_at"]["before"] is None and archived.data["archived_at"]["after"]
    # The share is kept, not silently dropped...
    assert DealGroupObjectPermission.objects.filter(
        group=team.group, content_object=shared_deal
    ).exists()
    # ...and archiving twice changes nothing.
    services.team_archive(actor=admin_user, team=team)
    assert len(events("accounts.team.archived")) == 1

    services.team_restore(actor=admin_user, team=team)
    team.refresh_from_db()
    assert team.archived_at is None
    (restored,) = events("accounts.team.restored")
    assert restored.data["archived_at"]["after"] is None
    move(admin_user, rep, team)
    assert crm_permissions.can_view(rep, shared_deal)


@pytest.mark.django_db
def test_shares_with_an_archived_team_grant_nothing_even_to_someone_left_in_it(
    admin_user, rep, team, shared_deal
):
    # A person can only be left in an archived team by a race (or a deactivated person brought
    # back by hand): the policy still reads shares of live teams only.
    Team.objects.filter(pk=team.pk).update(archived_at=timezone.now())
    rep = User.objects.get(pk=rep.pk)
    assert not crm_permissions.can_view(rep, shared_deal)
    assert not crm_permissions.deal_queryset_for(rep).filter(pk=shared_deal.pk).exists()
    services.team_restore(actor=admin_user, team=team)
    rep = User.objects.get(pk=rep.pk)
    assert crm_permissions.can_view(rep, shared_deal)


@pytest.mark.django_db
def test_archive_and_restore_recheck_the_members_sockets_after_commit(
    admin_user, empty_team, django_capture_on_commit_callbacks, monkeypatch
):
    gone = make_user(roles.REP, username="gone", team=empty_team)
    deactivate(admin_user, gone)
    version = User.objects.get(pk=gone.pk).access_version
    sent = []
    # What goes onto the channel layer (in-memory or Redis alike), in order.
    monkeypatch.setattr(event_bus, "_emit", lambda group, event: sent.append((group, event)))

    for service in (services.team_archive, services.team_restore):
        sent.clear()
        with django_capture_on_commit_callbacks() as callbacks:
            service(actor=admin_user, team=empty_team)
        # Nothing is said before the commit...
        assert sent == []
        for callback in callbacks:
            callback()
        # ...then the member's sockets recheck what they may still see.
        assert (f"user.{gone.pk}", RECHECK) in sent
        version += 1
        assert User.objects.get(pk=gone.pk).access_version == version


@pytest.mark.django_db
def test_a_subteam_is_restored_only_inside_a_live_team(admin_user, empty_team):
    child = TeamFactory(name="Dissolved north", parent=empty_team)
    with pytest.raises(Conflict):
        services.team_archive(actor=admin_user, team=empty_team)
    services.team_archive(actor=admin_user, team=child)
    services.team_archive(actor=admin_user, team=empty_team)
    with pytest.raises(Conflict) as error:
        services.team_restore(actor=admin_user, team=child)
    assert "restore Dissolved first" in " ".join(error.value.messages)
    services.team_restore(actor=admin_user, team=empty_team)
    services.team_restore(actor=admin_user, team=child)
    assert not Team.objects.filter(archived_at__isnull=False).exists()


@pytest.mark.django_db
def test_archived_teams_take_no_sub_teams_and_no_active_members(admin_user, rep, empty_team):
    services.team_archive(actor=admin_user, team=empty_team)
    with pytest.raises(Invalid) as error:
        services.team_save(team=Team(name="New"), parent=empty_team, actor=admin_user)
    assert "parent" in error.value.fields
    rep.team = empty_team
    with pytest.raises(ValidationError) as error:
        rep.full_clean()
    assert "team" in error.value.message_dict
    rep.is_active = False
    rep.full_clean()


# --- the admin ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_admin_archive_and_restore_actions(admin_user, team, rep, empty_team):
    child = TeamFactory(name="Dissolved north", parent=empty_team)
    client = admin_client(admin_user)
    url = reverse("admin:accounts_team_changelist")
    response = client.post(
        url,
        {"action": "archive_teams", "_selected_action": [team.pk, empty_team.pk, child.pk]},
        follow=True,
    )
    texts = [str(m) for m in response.context["messages"]]
    assert any(t.startswith("Field sales is still in use (active members: 2;") for t in texts)
    assert "Archived 2 teams." in texts  # the child first, then its parent
    assert set(Team.objects.filter(archived_at__isnull=False)) == {empty_team, child}
    assert not Team.objects.get(pk=team.pk).archived_at
    archived = events("accounts.team.archived")
    assert [e.target_id for e in archived] == [str(child.pk), str(empty_team.pk)]
    assert all(e.actor_id == admin_user.pk and e.request_id for e in archived)

    listed = client.get(url, {"state": "archived"})
    assert {t.pk for t in listed.context["cl"].result_list} == {empty_team.pk, child.pk}
    listed = client.get(url, {"state": "live"})
    assert {t.pk for t in listed.context["cl"].result_list} == {team.pk}

    response = client.post(
        url, {"action": "restore_teams", "_selected_action": [child.pk]}, follow=True
    )
    assert any("restore Dissolved first" in str(m) for m in response.context["messages"])
    response = client.post(
        url, {"action": "restore_teams", "_selected_action": [child.pk, empty_team.pk]}, follow=True
    )
    assert "Restored 2 teams." in [str(m) for m in response.context["messages"]]
    assert not Team.objects.filter(archived_at__isnull=False).exists()


@pytest.mark.django_db
def test_archived_at_is_read_only_in_the_team_form(admin_user, empty_team):
    client = admin_client(admin_user)
    url = reverse("admin:accounts_team_change", args=[empty_team.pk])
    form = client.get(url).context["adminform"].form
    assert "archived_at" not in form.fields
    response = client.post(
        url,
        {
            "name": "Dissolved",
            "parent": "",
            "lead": "",
            "archived_at_0": "2026-01-01",
            "archived_at_1": "00:00:00",
            "archived_at": "2026-01-01 00:00:00",
            "members-TOTAL_FORMS": "0",
            "members-INITIAL_FORMS": "0",
            "_save": "Save",
        },
    )
    assert response.status_code == 302
    empty_team.refresh_from_db()
    assert empty_team.archived_at is None


@pytest.mark.django_db
def test_team_choices_leave_out_archived_teams(admin_user, team, rep, empty_team):
    services.team_archive(actor=admin_user, team=empty_team)
    client = admin_client(admin_user)

    add_form = client.get(reverse("admin:accounts_user_add")).context["adminform"].form
    assert set(add_form.fields["team"].queryset) == {team}
    rep_form = client.get(reverse("admin:accounts_user_change", args=[rep.pk]))
    assert set(rep_form.context["adminform"].form.fields["team"].queryset) == {team}
    team_form = client.get(reverse("admin:accounts_team_add")).context["adminform"].form
    assert set(team_form.fields["parent"].queryset) == {team}

    # A deactivated person left in the archived team stays editable (their team is offered)...
    gone = make_user(roles.REP, username="gone")
    Team.objects.filter(pk=empty_team.pk).update(archived_at=None)
    move(admin_user, gone, empty_team)
    deactivate(admin_user, gone)
    services.team_archive(actor=admin_user, team=empty_team)
    gone_form = client.get(reverse("admin:accounts_user_change", args=[gone.pk]))
    assert set(gone_form.context["adminform"].form.fields["team"].queryset) == {team, empty_team}

    # ...the team pickers' autocomplete offers live teams only...
    for model_name, field_name in (("user", "team"), ("team", "parent")):
        found = client.get(
            reverse("admin:autocomplete"),
            {"app_label": "accounts", "model_name": model_name, "field_name": field_name},
        ).json()
        assert [r["id"] for r in found["results"]] == [str(team.pk)]

    # ...and so do the CRM share picker and its form.
    deal = DealFactory(owner=admin_user)
    found = client.get(
        "/api/v1/people/",
        {"q": "s", "purpose": "share", "kind": "team", "target": f"deals:{deal.pk}"},
    ).json()
    assert [r["label"] for r in found["results"]] == ["Field sales"]
    form = ShareForm(
        data={"who": f"team:{empty_team.pk}", "level": "view"}, user=admin_user, record=deal
    )
    assert not form.is_valid() and "who" in form.errors


@pytest.mark.django_db
def test_admin_refuses_an_active_person_in_an_archived_team(admin_user, rep, empty_team):
    # Left in by hand (not through the admin): saving them in the admin asks for a live team.
    services.team_archive(actor=admin_user, team=empty_team)
    User.objects.filter(pk=rep.pk).update(team=empty_team)
    client = admin_client(admin_user)
    url = reverse("admin:accounts_user_change", args=[rep.pk])
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "password"}
    data.update(
        {
            "manager": form.initial["manager"] or "",
            "team": empty_team.pk,
            "role": roles.REP,
            "user_permissions": [],
            "is_active": "on",
            "last_login_0": "",
            "last_login_1": "",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
            "_save": "Save",
        }
    )
    data.pop("last_login", None)
    data.pop("date_joined", None)
    response = client.post(url, data)
    assert response.status_code == 200
    assert "is archived" in str(response.context["adminform"].form.errors["team"])


@pytest.mark.django_db
def test_the_share_service_refuses_an_archived_team(admin_user, rep, empty_team):
    deal = DealFactory(owner=rep)
    services.team_archive(actor=admin_user, team=empty_team)
    with pytest.raises(Invalid):
        crm_services.record_share(actor=rep, record=deal, level="view", team=empty_team)
    assert not DealGroupObjectPermission.objects.filter(group=empty_team.group).exists()

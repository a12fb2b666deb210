"""Sign-in, sign-out, failed sign-in and every change to people (also from Django admin) land in
the audit ledger, without passwords or session keys."""

import pytest
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from accounts import roles, services
from accounts.models import User, UserSession
from audit.models import AuditEvent
from tests.audit.ledger import verify
from tests.factories import PASSWORD


def events(action: str):
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


def assert_no_secrets():
    blob = " ".join(f"{e.data} {e.target_label} {e.actor_label}" for e in AuditEvent.objects.all())
    for user in User.objects.all():
        assert user.password not in blob
    for key in Session.objects.values_list("session_key", flat=True):
        assert key not in blob
    assert PASSWORD not in blob


@pytest.mark.django_db
def test_sign_in_sign_out_and_failed_sign_in_are_recorded(rep):
    client = Client(HTTP_USER_AGENT="Phone/1.0", REMOTE_ADDR="203.0.113.9")
    client.post(reverse("accounts:login"), {"username": "rep", "password": "guess"})
    client.post(reverse("accounts:login"), {"username": "nobody", "password": "guess"})
    failed = events("accounts.sign_in.failed")
    assert [e.data["username"] for e in failed] == ["rep", "nobody"]
    assert failed[0].ip == "203.0.113.9" and failed[0].actor_type == "anonymous"
    assert (failed[0].target_type, failed[0].target_id) == ("accounts.user", str(rep.pk))
    assert failed[1].target_type == ""

    client.post(reverse("accounts:login"), {"username": "rep", "password": PASSWORD})
    (signed_in,) = events("accounts.user.signed_in")
    assert (signed_in.actor_id, signed_in.ip, signed_in.user_agent) == (
        rep.pk,
        "203.0.113.9",
        "Phone/1.0",
    )
    assert signed_in.request_id
    assert signed_in.data == {"user_session": UserSession.objects.get(user=rep).pk}
    assert_no_secrets()
    client.post(reverse("accounts:logout"))
    (signed_out,) = events("accounts.user.signed_out")
    assert signed_out.actor_id == rep.pk
    assert verify()[0] == 0


@pytest.mark.django_db
def test_signing_out_another_session_is_recorded(
    admin_user, rep, django_capture_on_commit_callbacks
):
    phone = Client(HTTP_USER_AGENT="Phone")
    phone.post(reverse("accounts:login"), {"username": "rep", "password": PASSWORD})
    admin = Client()
    admin.force_login(admin_user)
    session = UserSession.objects.get(user=rep)
    with django_capture_on_commit_callbacks(execute=True):
        admin.post(session.get_end_url())
    (ended,) = events("accounts.session.ended")
    assert ended.actor_id == admin_user.pk
    assert (ended.target_type, ended.target_id) == ("accounts.usersession", str(session.pk))
    assert ended.data == {"user": rep.pk}
    assert_no_secrets()


@pytest.mark.django_db
def test_admin_creating_a_person_records_fields_and_role_not_the_password(admin_user, team):
    client = Client()
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:accounts_user_add"),
        {
            "username": "newbie",
            "email": "newbie@example.test",
            "first_name": "New",
            "last_name": "Person",
            "password1": "a-long-Passw0rd-here",
            "password2": "a-long-Passw0rd-here",
            "usable_password": "true",
            "team": team.pk,
            "role": roles.REP,
            "_save": "Save",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    newbie = User.objects.get(username="newbie")
    (created,) = events("accounts.user.created")
    assert created.actor_id == admin_user.pk and created.target_id == str(newbie.pk)
    assert created.data["groups"] == [roles.REP] and created.data["team"] == team.pk
    assert created.data["email"] == "newbie@example.test"
    assert "password" not in created.data
    assert_no_secrets()


@pytest.mark.django_db
def test_admin_changing_a_person_records_each_kind_of_change(admin_user, rep, manager, team):
    other_team = services.team_save(team=type(team)(name="Inside sales"), parent=None)
    client = Client()
    client.force_login(admin_user)
    url = reverse("admin:accounts_user_change", args=[rep.pk])
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k != "password"}
    data.update(
        {
            "email": "rita@example.test",
            "manager": "",
            "team": other_team.pk,
            "role": roles.MANAGER,
            "user_permissions": [],
            "is_active": "",  # unchecked: deactivated
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
    assert response.status_code == 302, response.content.decode()[:3000]
    (changed,) = events("accounts.user.changed")
    assert changed.data["email"]["after"] == "rita@example.test"
    assert "password" not in changed.data and "is_active" not in changed.data
    (groups,) = events("accounts.user.groups_changed")
    assert groups.data == {"groups": {"before": [roles.REP], "after": [roles.MANAGER]}}
    (manager_changed,) = events("accounts.user.manager_changed")
    assert manager_changed.data == {"manager": {"before": manager.pk, "after": None}}
    (team_changed,) = events("accounts.user.team_changed")
    assert team_changed.data == {"team": {"before": team.pk, "after": other_team.pk}}
    (deactivated,) = events("accounts.user.deactivated")
    assert {e.actor_id for e in (changed, groups, deactivated)} == {admin_user.pk}
    assert all(e.request_id for e in (changed, groups, deactivated))
    assert_no_secrets()
    assert verify()[0] == 0


@pytest.mark.django_db
def test_a_rep_cannot_change_people_and_nothing_is_recorded(rep, other_rep):
    from config.errors import Forbidden

    before = AuditEvent.objects.count()
    other_rep.email = "x@example.test"
    with pytest.raises(Forbidden):
        services.user_save(actor=rep, user=other_rep)
    assert AuditEvent.objects.count() == before


@pytest.mark.django_db
def test_team_changes_in_admin_are_recorded(admin_user, team):
    client = Client()
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:accounts_team_change", args=[team.pk]),
        {
            "name": "Renamed",
            "parent": "",
            "lead": "",
            "members-TOTAL_FORMS": "0",
            "members-INITIAL_FORMS": "0",
            "_save": "Save",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    (changed,) = events("accounts.team.changed")
    assert changed.data == {"name": {"before": "Field sales", "after": "Renamed"}}
    assert changed.actor_id == admin_user.pk


@pytest.mark.django_db
def test_role_permission_changes_in_admin_are_recorded(admin_user):
    from django.contrib.auth.models import Permission

    client = Client()
    client.force_login(admin_user)
    role = Group.objects.get(name=roles.REP)
    before = sorted(role.permissions.values_list("pk", flat=True))
    extra = Permission.objects.get(codename="view_usersession")
    response = client.post(
        reverse("admin:auth_group_change", args=[role.pk]),
        {"name": roles.REP, "permissions": [*before, extra.pk], "_save": "Save"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    (changed,) = events("accounts.group.changed")
    assert changed.actor_id == admin_user.pk and changed.target_label == roles.REP
    added = set(changed.data["permissions"]["after"]) - set(changed.data["permissions"]["before"])
    assert added == {"accounts.view_usersession"}

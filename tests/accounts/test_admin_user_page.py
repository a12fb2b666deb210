"""The Django admin's person page fits the hierarchy: one role (never a team's internal group),
Django's raw switches for superusers only, no Delete, who reports to the person and what they
hold, Offboard; the team page shows its tree and members. Query counts do not grow with them."""

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from accounts import book, roles, services
from accounts.models import User
from audit.models import AuditEvent
from tests.factories import TeamFactory, make_user

ROLE_LABELS = ["Admin", "Compliance officer", "Manager", "Sales rep"]


def admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def change_url(user) -> str:
    return reverse("admin:accounts_user_change", args=[user.pk])


def offboard_url(user) -> str:
    return reverse("accounts:user-offboard", args=[user.pk])


def post_data(form, **changes) -> dict:
    """What the browser posts for the form as it stands, with `changes` made."""
    data = {k: v for k, v in form.initial.items() if v is not None and k != "password"}
    for key in ("last_login", "date_joined", "groups", "user_permissions"):
        data.pop(key, None)
    data.update(
        {
            "manager": form.initial.get("manager") or "",
            "is_active": "on",
            "last_login_0": "",
            "last_login_1": "",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
            "_save": "Save",
        }
    )
    data.update(changes)
    return data


@dataclass
class FakePart:
    key: str = "fake"

    def holdings(self, user):
        return [
            book.Holding("deals", f"Open deals of {user.username}", 12, "/crm/deals/?owner=7"),
            book.Holding("conversations", "Conversations", 3),
        ]

    def hand_over(self, handover):
        raise AssertionError("not offboarding here")


@pytest.fixture
def fake_book_part():
    """The book holds only FakePart (crm's and comms' parts test their own queries)."""
    saved = list(book._PARTS)
    book._PARTS.clear()
    book.register_book_part(FakePart())
    yield
    book._PARTS[:] = saved


@pytest.fixture
def superuser(db):
    return make_user(roles.ADMIN, username="root", is_superuser=True, is_staff=True)


@pytest.mark.django_db
def test_the_role_is_one_choice_of_the_four_roles_and_never_a_team_group(admin_user, rep, team):
    rep.groups.add(team.group)
    assert team.group.name.startswith("Team #")
    client = admin_client(admin_user)
    for url in (change_url(rep), reverse("admin:accounts_user_add")):
        response = client.get(url)
        form = response.context["adminform"].form
        assert "groups" not in form.fields
        role = form.fields["role"]
        assert [str(label) for value, label in role.choices if value] == ROLE_LABELS
        assert '<select name="role"' in response.content.decode()
        assert "Team #" not in response.content.decode(), url
    assert client.get(change_url(rep)).context["adminform"].form.initial["role"] == roles.REP


@pytest.mark.django_db
def test_only_a_superuser_sees_djangos_raw_switches(admin_user, superuser, rep):
    hidden = ("is_staff", "is_superuser", "user_permissions")
    page = admin_client(admin_user).get(change_url(rep))
    assert not set(hidden) & set(page.context["adminform"].form.fields)
    html = page.content.decode()
    assert all(f'name="{name}"' not in html for name in hidden)

    page = admin_client(superuser).get(change_url(rep))
    assert set(hidden) <= set(page.context["adminform"].form.fields)
    assert all(f'name="{name}"' in page.content.decode() for name in hidden)


@pytest.mark.django_db
def test_an_admin_cannot_post_the_superuser_switches(admin_user, rep):
    client = admin_client(admin_user)
    form = client.get(change_url(rep)).context["adminform"].form
    response = client.post(
        change_url(rep),
        post_data(form, is_superuser="on", is_staff="on", user_permissions=["1"]),
    )
    assert response.status_code == 302
    rep.refresh_from_db()
    assert not rep.is_superuser and not rep.is_staff
    assert not rep.user_permissions.exists()


@pytest.mark.django_db
def test_changing_the_role_replaces_the_role_group_and_keeps_the_others(admin_user, rep, team):
    other = Group.objects.create(name="Newsletter editors")
    rep.groups.add(team.group, other)
    client = admin_client(admin_user)
    form = client.get(change_url(rep)).context["adminform"].form
    response = client.post(change_url(rep), post_data(form, role=roles.MANAGER))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert set(rep.groups.values_list("name", flat=True)) == {
        roles.MANAGER,
        team.group.name,
        other.name,
    }
    (event,) = AuditEvent.objects.filter(action="accounts.user.groups_changed")
    assert (event.actor_id, event.target_id) == (admin_user.pk, str(rep.pk))
    assert event.data == {
        "groups": {
            "before": sorted([roles.REP, team.group.name, other.name]),
            "after": sorted([roles.MANAGER, team.group.name, other.name]),
        }
    }


@pytest.mark.django_db
def test_saving_without_changing_the_role_records_no_group_change(admin_user, rep, team):
    rep.groups.add(team.group)
    client = admin_client(admin_user)
    form = client.get(change_url(rep)).context["adminform"].form
    response = client.post(change_url(rep), post_data(form, title="Senior rep"))
    assert response.status_code == 302
    assert set(rep.groups.values_list("name", flat=True)) == {roles.REP, team.group.name}
    assert not AuditEvent.objects.filter(action="accounts.user.groups_changed").exists()
    assert AuditEvent.objects.filter(action="accounts.user.changed").count() == 1


@pytest.mark.django_db
def test_a_new_person_gets_the_chosen_role(admin_user, team):
    response = admin_client(admin_user).post(
        reverse("admin:accounts_user_add"),
        {
            "username": "newbie",
            "password1": "a-long-Passw0rd-here",
            "password2": "a-long-Passw0rd-here",
            "usable_password": "true",
            "team": team.pk,
            "role": roles.COMPLIANCE,
            "_save": "Save",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    newbie = User.objects.get(username="newbie")
    assert list(newbie.groups.values_list("name", flat=True)) == [roles.COMPLIANCE]


@pytest.mark.django_db
def test_the_person_page_offers_no_delete(admin_user, superuser, rep):
    for actor in (admin_user, superuser):
        html = admin_client(actor).get(change_url(rep)).content.decode()
        assert reverse("admin:accounts_user_delete", args=[rep.pk]) not in html
        assert 'class="deletelink"' not in html


@pytest.mark.django_db
def test_the_page_lists_direct_reports_with_links(admin_user, manager, rep, other_rep):
    gone = make_user(roles.REP, username="gone", manager=manager)
    gone.is_active = False
    services.user_save(actor=admin_user, user=gone)
    client = admin_client(admin_user)
    html = client.get(change_url(manager)).content.decode()
    assert f'<a href="{change_url(rep)}">{rep.get_full_name()}</a> (Field sales)' in html
    assert change_url(other_rep) not in html  # reports to nobody
    assert change_url(gone) not in html  # no longer active
    assert "Nobody reports to this person." in client.get(change_url(rep)).content.decode()


@pytest.mark.django_db
def test_the_page_lists_what_the_person_holds(admin_user, rep, fake_book_part):
    html = admin_client(admin_user).get(change_url(rep)).content.decode()
    assert '<a href="/crm/deals/?owner=7">Open deals of rep: 12</a>' in html
    assert "<li>Conversations: 3</li>" in html


@pytest.mark.django_db
def test_the_page_says_when_the_person_holds_nothing(admin_user, rep):
    saved = list(book._PARTS)
    book._PARTS.clear()
    try:
        html = admin_client(admin_user).get(change_url(rep)).content.decode()
    finally:
        book._PARTS[:] = saved
    assert "Nothing." in html


@pytest.mark.django_db
def test_offboard_button_for_active_people(admin_user, superuser, rep):
    for actor in (admin_user, superuser):
        html = admin_client(actor).get(change_url(rep)).content.decode()
        assert f'href="{offboard_url(rep)}"' in html and ">Offboard</a>" in html
    rep.is_active = False
    services.user_save(actor=admin_user, user=rep)
    html = admin_client(admin_user).get(change_url(rep)).content.decode()
    assert offboard_url(rep) not in html


@pytest.mark.django_db
def test_offboard_action_goes_to_the_one_chosen_persons_page(admin_user, rep, other_rep):
    client = admin_client(admin_user)
    changelist = reverse("admin:accounts_user_changelist")
    choices = dict(client.get(changelist).context["action_form"].fields["action"].choices)
    assert str(choices["offboard_person"]) == "Offboard selected user…"

    response = client.post(changelist, {"action": "offboard_person", "_selected_action": [rep.pk]})
    assert response.status_code == 302 and response["Location"] == offboard_url(rep)

    response = client.post(
        changelist,
        {"action": "offboard_person", "_selected_action": [rep.pk, other_rep.pk]},
        follow=True,
    )
    messages = [(m.level_tag, str(m)) for m in response.context["messages"]]
    assert messages == [("error", "Select exactly one person to offboard.")]
    assert response.redirect_chain[-1][0].endswith(changelist)


@pytest.mark.django_db
def test_offboard_action_refuses_an_inactive_person(admin_user, rep):
    rep.is_active = False
    services.user_save(actor=admin_user, user=rep)
    response = admin_client(admin_user).post(
        reverse("admin:accounts_user_changelist"),
        {"action": "offboard_person", "_selected_action": [rep.pk]},
        follow=True,
    )
    (message,) = response.context["messages"]
    assert message.level_tag == "error" and "already inactive" in str(message)


@pytest.mark.django_db
def test_the_team_page_shows_its_tree_and_members(admin_user, team, manager, rep):
    child = TeamFactory(name="Inside sales", parent=team)
    grandchild = TeamFactory(name="Renewals", parent=child)
    elsewhere = TeamFactory(name="Support")
    make_user(roles.REP, username="renewer", team=grandchild)
    client = admin_client(admin_user)

    html = client.get(reverse("admin:accounts_team_change", args=[team.pk])).content.decode()
    child_url = reverse("admin:accounts_team_change", args=[child.pk])
    grandchild_url = reverse("admin:accounts_team_change", args=[grandchild.pk])
    assert "<li><strong>Field sales</strong> (2 members)</li>" in html
    assert f'<li>\u2003\u2002└ <a href="{child_url}">Inside sales</a> (0 members)</li>' in html
    assert (
        f'<li>\u2003\u2002\u2003\u2002└ <a href="{grandchild_url}">Renewals</a> (1 member)</li>'
        in html
    )
    assert elsewhere.name not in html
    # Members, each linking to their own page.
    for person in (manager, rep):
        assert change_url(person) in html

    # A sub-team's tree starts at it.
    html = client.get(child_url).content.decode()
    assert "<li><strong>Inside sales</strong> (0 members)</li>" in html
    assert f'<a href="{grandchild_url}">Renewals</a>' in html and "Field sales</a>" not in html


@pytest.mark.django_db
@pytest.mark.parametrize("how_many", [3, 30])
def test_the_person_page_takes_the_same_queries_however_many_report(
    admin_user, superuser, manager, team, how_many, fake_book_part, django_assert_max_num_queries
):
    for n in range(how_many):
        make_user(roles.REP, username=f"report{n}", manager=manager, team=TeamFactory())
    for actor in (admin_user, superuser):
        client = admin_client(actor)
        with django_assert_max_num_queries(11):
            response = client.get(change_url(manager))
        assert response.content.decode().count("(Team ") == how_many


@pytest.mark.django_db
@pytest.mark.parametrize("how_many", [3, 30])
def test_the_team_page_takes_the_same_queries_however_big_the_team(
    admin_user, team, manager, how_many, django_assert_max_num_queries
):
    for n in range(how_many):
        make_user(roles.REP, username=f"member{n}", manager=manager, team=team)
        TeamFactory(name=f"Sub-team {n}", parent=team)
    client = admin_client(admin_user)
    with django_assert_max_num_queries(10):
        response = client.get(reverse("admin:accounts_team_change", args=[team.pk]))
    html = response.content.decode()
    assert html.count("Sub-team ") == how_many and html.count("member0") >= 1

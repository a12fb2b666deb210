import zoneinfo

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from accounts import roles
from accounts.models import UserSession
from tests.factories import PASSWORD


def sign_in(user, agent="TestBrowser/1.0") -> Client:
    client = Client(HTTP_USER_AGENT=agent, REMOTE_ADDR="203.0.113.7")
    response = client.post(
        reverse("accounts:login"), {"username": user.username, "password": PASSWORD}
    )
    assert response.status_code == 302, response.content
    return client


@pytest.mark.django_db
def test_home_shows_name_role_team_manager_and_reports(rep, manager):
    client = sign_in(manager)
    page = client.get("/").content.decode()
    assert manager.get_full_name() in page
    assert "Manager" in page
    assert "Field sales" in page
    assert rep.get_full_name() in page  # direct report
    rep_page = sign_in(rep).get("/").content.decode()
    assert "Sales rep" in rep_page and manager.get_full_name() in rep_page


@pytest.mark.django_db
def test_anonymous_home_redirects_to_login(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.django_db
def test_wrong_password_shows_the_form_error_not_a_500(client, rep):
    response = client.post(
        reverse("accounts:login"), {"username": rep.username, "password": "nope"}
    )
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert not UserSession.objects.exists()


@pytest.mark.django_db
def test_login_records_a_user_session_and_logout_ends_it(rep):
    client = sign_in(rep)
    session = UserSession.objects.get(user=rep)
    assert session.ip == "203.0.113.7" and session.user_agent == "TestBrowser/1.0"
    assert session.ended_at is None
    response = client.post(reverse("accounts:logout"))
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.ended_at is not None
    assert client.get("/").status_code == 302


@pytest.mark.django_db
def test_signing_out_one_session_ends_that_session_only(rep, django_capture_on_commit_callbacks):
    laptop = sign_in(rep, agent="Laptop")
    phone = sign_in(rep, agent="Phone")
    listing = laptop.get(reverse("accounts:session-list")).content.decode()
    assert "Laptop" in listing and "Phone" in listing
    phone_session = UserSession.objects.get(user=rep, user_agent="Phone")
    with django_capture_on_commit_callbacks(execute=True):
        response = laptop.post(phone_session.get_end_url())
    assert response.status_code == 302
    assert phone.get("/").status_code == 302  # the phone is signed out
    assert laptop.get("/").status_code == 200  # the laptop is not
    assert not Session.objects.filter(session_key=phone_session.session_key).exists()
    listing = laptop.get(reverse("accounts:session-list")).content.decode()
    assert "Phone" not in listing and "Laptop" in listing


@pytest.mark.django_db
def test_someone_elses_session_is_404_and_stays_open(rep, other_rep):
    other = sign_in(other_rep)
    theirs = UserSession.objects.get(user=other_rep)
    mine = sign_in(rep)
    assert mine.post(theirs.get_end_url()).status_code == 404
    assert other.get("/").status_code == 200
    assert mine.get(theirs.get_end_url()).status_code in (404, 405)


@pytest.mark.django_db
def test_admin_pages_load_for_an_admin(admin_user, rep, team):
    client = sign_in(admin_user)
    for url in [
        "/admin/",
        "/admin/accounts/user/",
        "/admin/accounts/user/?role=Sales+rep",
        f"/admin/accounts/user/?team__id__exact={team.pk}",
        "/admin/accounts/user/?q=rep",
        f"/admin/accounts/user/{rep.pk}/change/",
        "/admin/accounts/team/",
        f"/admin/accounts/team/{team.pk}/change/",
        "/admin/accounts/user/add/",
    ]:
        assert client.get(url).status_code == 200, url
    filtered = client.get("/admin/accounts/user/?role=Sales+rep").content.decode()
    assert rep.username in filtered and admin_user.username not in filtered.split("result_list")[1]


@pytest.mark.django_db
def test_admin_is_refused_for_a_rep_and_a_manager(rep, manager):
    for person in (rep, manager):
        client = sign_in(person)
        response = client.get("/admin/accounts/user/")
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    response = Client().post("/admin/login/", {"username": rep.username, "password": PASSWORD})
    assert "no access to the administration site" in response.content.decode()


@pytest.mark.django_db
def test_admin_refuses_a_reporting_loop_with_a_field_error(admin_user, rep, manager):
    client = sign_in(admin_user)
    url = f"/admin/accounts/user/{manager.pk}/change/"
    form = {
        "username": manager.username,
        "first_name": manager.first_name,
        "last_name": manager.last_name,
        "email": manager.email,
        "manager": rep.pk,
        "team": manager.team_id,
        "role": roles.MANAGER,
        "is_active": "on",
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    response = client.post(url, form)
    assert response.status_code == 200
    assert "reporting loop" in response.content.decode()
    manager.refresh_from_db()
    assert manager.manager_id is None


@pytest.mark.django_db
def test_pages_show_times_in_the_persons_time_zone(rep):
    rep.timezone = "America/Sao_Paulo"
    rep.save(update_fields=["timezone"])
    client = sign_in(rep)
    session = UserSession.objects.get(user=rep)
    local = timezone.localtime(session.created_at, timezone=zoneinfo.ZoneInfo(rep.timezone))
    page = client.get(reverse("accounts:session-list")).content.decode()
    assert date_format(local, "DATETIME_FORMAT") in page


@pytest.mark.django_db
def test_a_password_set_in_the_admin_is_audited_without_the_password(admin_user, rep):
    from audit.models import AuditEvent

    client = sign_in(admin_user)
    new_password = "Correct-Horse-Battery-9"
    response = client.post(
        f"/admin/accounts/user/{rep.pk}/password/",
        {"password1": new_password, "password2": new_password, "usable_password": "true"},
    )
    assert response.status_code == 302
    rep.refresh_from_db()
    assert rep.check_password(new_password)
    event = AuditEvent.objects.filter(action="accounts.user.password_changed").get()
    assert (event.actor_id, event.target_id) == (admin_user.pk, str(rep.pk))
    assert event.data == {"usable": True}
    assert event.ip is not None
    assert new_password not in str(event.data) and rep.password not in str(event.data)

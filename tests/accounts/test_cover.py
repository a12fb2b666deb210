"""Out-of-office cover (accounts.cover): who may set and cancel it, overlaps, the routing
question `delegate_for`, the audit trail and the page."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import cover, roles
from accounts.models import Cover
from audit.models import AuditEvent
from config.errors import Forbidden, Invalid, NotFound
from tests.factories import make_user

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def _set(actor, user, delegate, start=None, end=None, **kwargs):
    now = timezone.now()
    return cover.cover_set(
        actor=actor,
        user=user,
        delegate=delegate,
        starts_at=start or now + HOUR,
        ends_at=end or now + DAY,
        **kwargs,
    )


@pytest.mark.parametrize("who", ["rep", "manager", "director", "admin_user"])
def test_the_person_anyone_above_them_and_an_admin_set_cover(request, who, rep, other_rep):
    actor = request.getfixturevalue(who)
    made = _set(actor, rep, other_rep)
    assert (made.user, made.delegate, made.created_by) == (rep, other_rep, actor)
    event = AuditEvent.objects.get(action="accounts.cover.set")
    assert (event.actor_id, event.target_id) == (actor.pk, str(made.pk))
    assert event.data["user"] == rep.pk and event.data["delegate"] == other_rep.pk


def test_anyone_else_is_refused_with_no_side_effects(rep, other_rep, manager, compliance):
    outsider = make_user(roles.MANAGER, username="elsewhere")  # a manager, not rep's
    for actor in (other_rep, outsider, compliance):
        with pytest.raises(Forbidden):
            _set(actor, rep, manager)
    assert not Cover.objects.exists()
    assert not AuditEvent.objects.filter(action="accounts.cover.set").exists()


def test_the_delegate_must_take_conversations(rep, other_rep, compliance):
    inactive = make_user(roles.REP, username="gone", is_active=False)
    for delegate in (rep, inactive, compliance, None):
        with pytest.raises(Invalid) as refused:
            _set(rep, rep, delegate)
        assert "delegate" in refused.value.fields
    assert not Cover.objects.exists()


def test_bad_periods_are_refused(rep, other_rep):
    now = timezone.now()
    with pytest.raises(Invalid):
        _set(rep, rep, other_rep, start=now + DAY, end=now + HOUR)
    with pytest.raises(Invalid):
        _set(rep, rep, other_rep, start=now - DAY, end=now - HOUR)  # already over
    with pytest.raises(Invalid):
        _set(rep, rep, other_rep, start=(now + HOUR).replace(tzinfo=None))
    assert not Cover.objects.exists()


def test_a_cover_starts_no_earlier_than_now(rep, other_rep):
    made = _set(rep, rep, other_rep, start=timezone.now() - DAY)
    assert timezone.now() - timedelta(seconds=5) < made.starts_at <= timezone.now()


def test_overlapping_live_covers_are_refused(rep, other_rep, manager):
    now = timezone.now()
    first = _set(rep, rep, other_rep, start=now + HOUR, end=now + 3 * DAY)
    with pytest.raises(Invalid) as refused:
        _set(manager, rep, manager, start=now + DAY, end=now + 5 * DAY)
    assert refused.value.code == "cover_overlaps"
    assert str(other_rep) in refused.value.detail
    # Back to back is fine, and so is anything once the first is cancelled.
    _set(rep, rep, manager, start=now + 3 * DAY, end=now + 4 * DAY)
    cover.cover_cancel(actor=rep, cover=first)
    _set(rep, rep, manager, start=now + DAY, end=now + 2 * DAY)
    assert Cover.objects.filter(user=rep, cancelled_at__isnull=True).count() == 2


def test_delegate_for_follows_the_period(rep, other_rep):
    now = timezone.now()
    made = _set(rep, rep, other_rep, start=now + HOUR, end=now + DAY)
    assert cover.delegate_for(rep.pk, now) is None
    assert cover.delegate_for(rep.pk, made.starts_at) == other_rep.pk
    assert cover.delegate_for(rep.pk, made.ends_at - timedelta(seconds=1)) == other_rep.pk
    assert cover.delegate_for(rep.pk, made.ends_at) is None  # reverts by itself
    assert cover.delegate_for(other_rep.pk, made.starts_at) is None
    assert cover.delegate_for(None, now) is None


def test_delegate_for_follows_a_few_hops_and_never_loops(rep, other_rep, manager, admin_user):
    now = timezone.now()
    at = now + 2 * HOUR
    _set(rep, rep, other_rep)
    _set(other_rep, other_rep, manager)
    assert cover.delegate_for(rep.pk, at) == manager.pk
    _set(manager, manager, rep)  # a loop: rep -> other_rep -> manager -> rep
    assert cover.delegate_for(rep.pk, at) == manager.pk
    assert cover.delegate_for(manager.pk, at) == other_rep.pk
    assert cover.delegates_for([rep.pk, other_rep.pk, manager.pk], at) == {
        rep.pk: manager.pk,
        other_rep.pk: rep.pk,
        manager.pk: other_rep.pk,
    }


def test_delegate_for_is_one_query_when_nobody_is_away(rep, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert cover.delegates_for([rep.pk], timezone.now()) == {}


def test_a_deactivated_delegate_covers_nobody(rep, other_rep):
    made = _set(rep, rep, other_rep)
    other_rep.is_active = False
    other_rep.save(update_fields=["is_active"])
    assert cover.delegate_for(rep.pk, made.starts_at) is None


def test_cancel(rep, other_rep, manager):
    made = _set(rep, rep, other_rep, start=timezone.now() - HOUR)
    assert cover.delegate_for(rep.pk, timezone.now()) == other_rep.pk
    with pytest.raises(Forbidden):
        cover.cover_cancel(actor=other_rep, cover=made)
    assert Cover.objects.get(pk=made.pk).cancelled_at is None
    cover.cover_cancel(actor=manager, cover=made)
    made.refresh_from_db()
    assert made.cancelled_at is not None
    assert cover.delegate_for(rep.pk, timezone.now()) is None
    event = AuditEvent.objects.get(action="accounts.cover.cancelled")
    assert (event.actor_id, event.target_id) == (manager.pk, str(made.pk))
    cover.cover_cancel(actor=rep, cover=made)  # again: nothing more
    assert AuditEvent.objects.filter(action="accounts.cover.cancelled").count() == 1


def test_an_ended_cover_cannot_be_cancelled(rep, other_rep, monkeypatch):
    made = _set(rep, rep, other_rep)
    later = made.ends_at + HOUR
    monkeypatch.setattr(timezone, "now", lambda: later)
    with pytest.raises(Invalid):
        cover.cover_cancel(actor=rep, cover=made)


def test_lists_and_choices(rep, other_rep, manager, compliance, admin_user):
    mine = _set(rep, rep, other_rep)
    theirs = _set(manager, manager, rep)
    assert list(cover.cover_list_for(rep)) == [mine, theirs]  # own, and the one rep holds
    assert set(cover.cover_list_for(manager)) == {mine, theirs}  # own, and their report's
    assert list(cover.cover_list_for(other_rep)) == [mine]  # the one they hold
    assert dict(cover.cover_rows_for(other_rep)) == {mine: False}
    assert dict(cover.cover_rows_for(manager)) == {mine: True, theirs: True}
    assert cover.cover_get_for(manager, mine.pk) == mine
    with pytest.raises(NotFound):
        cover.cover_get_for(other_rep, mine.pk)
    with pytest.raises(NotFound):
        cover.cover_get_for(rep, "nope")
    choices = set(cover.delegate_choices(rep))
    assert {other_rep, manager, admin_user} <= choices
    assert rep not in choices and compliance not in choices


# --- the page ---------------------------------------------------------------------------------


def _local(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


def test_home_links_the_page(client, rep):
    client.force_login(rep)
    assert 'href="/cover/"' in client.get("/").content.decode()


def test_the_page_sets_lists_and_cancels(client, rep, other_rep):
    client.force_login(rep)
    page = client.get("/cover/")
    assert page.status_code == 200
    # The delegate is searched for (accounts.people_search "cover"), not listed.
    assert str(other_rep) not in page.content.decode()
    found = client.get(f"/api/v1/people/?purpose=cover&q={other_rep.username}").json()
    assert [row["id"] for row in found["results"]] == [other_rep.pk]
    not_me = client.get("/api/v1/people/?purpose=cover&q=rep").json()["results"]
    assert not_me == found["results"]  # "rep" finds other_rep, never oneself
    now = timezone.now()
    response = client.post(
        "/cover/",
        {
            "action": "set",
            "delegate": other_rep.pk,
            "starts_at": _local(now + DAY),
            "ends_at": _local(now + 3 * DAY),
        },
    )
    assert response.status_code == 302
    made = Cover.objects.get(user=rep)
    assert made.delegate == other_rep and made.created_by == rep
    page = client.get("/cover/").content.decode()
    assert page.count('data-testid="cover-row"') == 1 and str(other_rep) in page
    # The same period again: refused on the form, nothing written.
    response = client.post(
        "/cover/",
        {
            "action": "set",
            "delegate": other_rep.pk,
            "starts_at": _local(now + 2 * DAY),
            "ends_at": _local(now + 4 * DAY),
        },
    )
    assert response.status_code == 200 and "field-error" in response.content.decode()
    assert Cover.objects.filter(user=rep).count() == 1
    response = client.post("/cover/", {"action": "cancel", "cover": made.pk})
    assert response.status_code == 302
    made.refresh_from_db()
    assert made.cancelled_at is not None
    assert 'data-testid="cover-row"' not in client.get("/cover/").content.decode()


def test_the_page_refuses_bad_input_and_others_covers(client, rep, other_rep, manager):
    theirs = _set(manager, manager, rep)
    client.force_login(other_rep)
    response = client.post("/cover/", {"action": "set", "delegate": other_rep.pk})
    assert response.status_code == 200 and "field-error" in response.content.decode()
    assert client.post("/cover/", {"action": "cancel", "cover": theirs.pk}).status_code == 404
    assert Cover.objects.get(pk=theirs.pk).cancelled_at is None
    assert not Cover.objects.filter(user=other_rep).exists()


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get("/cover/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_page_in_a_phone_sized_browser(live_server, page, rep, other_rep):
    from tests.factories import PASSWORD

    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", rep.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.get_by_test_id("cover-link").click()
    page.wait_for_url(f"{live_server.url}/cover/")
    now = timezone.now()
    page.locator("#id_delegate").press_sequentially(other_rep.last_name[:4], delay=40)
    page.get_by_role("option", name=re.compile(re.escape(str(other_rep)))).click()
    page.fill("#id_starts_at", _local(now + DAY))
    page.fill("#id_ends_at", _local(now + 2 * DAY))
    page.get_by_test_id("cover-form").locator("button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/cover/")
    row = page.get_by_test_id("cover-row")
    assert row.count() == 1 and str(other_rep) in row.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    row.locator("button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/cover/")
    assert page.get_by_test_id("cover-row").count() == 0
    assert Cover.objects.get(user=rep).cancelled_at is not None

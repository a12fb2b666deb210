"""Working hours (issue 14, point 7): when a person is at work, and the page where they set it."""

import datetime as dt
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from accounts import services, working_hours
from accounts.models import User
from audit.models import AuditEvent
from config.errors import Invalid, NotFound

UTC = dt.UTC


def person(days="12345", start="09:00", end="18:00", tz="Europe/Madrid"):
    return SimpleNamespace(
        work_days=days,
        work_start=dt.time.fromisoformat(start),
        work_end=dt.time.fromisoformat(end),
        timezone=tz,
    )


def at(text, tz="UTC"):
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz))


def test_inside_working_hours_is_now():
    ana = person()
    now = at("2026-12-03 10:00", "Europe/Madrid")  # Thursday
    assert working_hours.next_working_start(ana, now) == now
    assert working_hours.is_working(ana, now)


def test_friday_evening_waits_for_monday_morning_in_the_persons_zone():
    ana = person()
    friday_evening = at("2026-12-04 19:30", "Europe/Madrid")
    start = working_hours.next_working_start(ana, friday_evening)
    assert start == at("2026-12-07 09:00", "Europe/Madrid")
    assert start.tzinfo == UTC and start.hour == 8  # 09:00 in Madrid is 08:00 UTC in winter
    assert not working_hours.is_working(ana, friday_evening)


def test_early_morning_waits_for_the_same_days_start_and_the_end_is_not_at_work():
    ana = person()
    assert working_hours.next_working_start(ana, at("2026-12-03 06:00", "Europe/Madrid")) == at(
        "2026-12-03 09:00", "Europe/Madrid"
    )
    assert working_hours.next_working_start(ana, at("2026-12-03 18:00", "Europe/Madrid")) == at(
        "2026-12-04 09:00", "Europe/Madrid"
    )


def test_the_same_instant_is_working_time_for_one_zone_and_night_for_another():
    madrid, sao_paulo = person(tz="Europe/Madrid"), person(tz="America/Sao_Paulo")
    instant = at("2026-12-03 10:00", "UTC")  # 11:00 in Madrid, 07:00 in São Paulo
    assert working_hours.is_working(madrid, instant)
    assert working_hours.next_working_start(sao_paulo, instant) == at(
        "2026-12-03 09:00", "America/Sao_Paulo"
    )


def test_spring_forward_keeps_nine_oclock_local():
    # Europe/Madrid moves from +01:00 to +02:00 on Sunday 29 March 2026.
    ana = person()
    saturday = at("2026-03-28 12:00", "Europe/Madrid")
    start = working_hours.next_working_start(ana, saturday)
    assert start == at("2026-03-30 09:00", "Europe/Madrid")
    assert start == dt.datetime(2026, 3, 30, 7, 0, tzinfo=UTC)  # summer time: UTC+2


def test_fall_back_keeps_nine_oclock_local_in_new_york():
    # New York leaves daylight time on Sunday 1 November 2026: Monday 09:00 is 14:00 UTC.
    bob = person(tz="America/New_York")
    start = working_hours.next_working_start(bob, at("2026-10-31 12:00", "America/New_York"))
    assert start == dt.datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
    # The Friday before was still daylight time: 13:00 UTC.
    friday = working_hours.next_working_start(bob, at("2026-10-30 07:00", "America/New_York"))
    assert friday == dt.datetime(2026, 10, 30, 13, 0, tzinfo=UTC)


def test_a_start_in_the_skipped_hour_is_the_equivalent_instant():
    night = person(days="1234567", start="02:30", end="06:00")
    start = working_hours.next_working_start(night, at("2026-03-29 01:00", "Europe/Madrid"))
    assert start == dt.datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 local, after the jump


def test_midnight_spanning_shift():
    night = person(days="12345", start="22:00", end="06:00")
    # Friday 23:00 is inside Friday's shift; Saturday 03:00 still is (it started Friday).
    assert working_hours.is_working(night, at("2026-12-04 23:00", "Europe/Madrid"))
    assert working_hours.is_working(night, at("2026-12-05 03:00", "Europe/Madrid"))
    # Saturday 07:00: the next shift is Monday 22:00.
    assert working_hours.next_working_start(night, at("2026-12-05 07:00", "Europe/Madrid")) == at(
        "2026-12-07 22:00", "Europe/Madrid"
    )
    # Monday 03:00: Sunday had no shift, so nothing runs past midnight.
    assert not working_hours.is_working(night, at("2026-12-07 03:00", "Europe/Madrid"))


def test_same_start_and_end_is_around_the_clock_and_weekend_days_count():
    always = person(days="1234567", start="00:00", end="00:00")
    for text in ("2026-12-05 03:00", "2026-12-06 23:59", "2026-12-07 00:00"):
        assert working_hours.is_working(always, at(text, "Europe/Madrid"))
    weekend = person(days="67", start="10:00", end="14:00")
    assert working_hours.next_working_start(weekend, at("2026-12-03 10:00", "Europe/Madrid")) == at(
        "2026-12-05 10:00", "Europe/Madrid"
    )


def test_no_time_zone_uses_the_organisation_zone(settings):
    settings.TIME_ZONE = "America/Sao_Paulo"
    nobody_said = person(tz="")
    assert working_hours.zone_of(nobody_said).key == "America/Sao_Paulo"
    with pytest.raises(ValueError):
        working_hours.next_working_start(nobody_said, dt.datetime(2026, 12, 3, 10, 0))


@pytest.mark.django_db
def test_new_people_get_the_organisation_default(settings):
    settings.WORKING_HOURS_DEFAULT_DAYS = "12345"
    user = User.objects.create_user("newcomer", password="x" * 12)
    assert (user.work_days, user.work_start, user.work_end) == ("12345", dt.time(9), dt.time(18))


# --- the page and the service -----------------------------------------------------------------


def post_hours(client, **overrides):
    data = {
        "timezone": "Europe/Madrid",
        "work_days": ["1", "2", "3", "4"],
        "work_start": "08:00",
        "work_end": "16:30",
        **overrides,
    }
    return client.post("/working-hours/", data)


@pytest.mark.django_db
def test_a_person_sets_their_own_working_hours_and_it_is_audited(client, rep, other_rep):
    client.force_login(rep)
    page = client.get("/working-hours/")
    assert page.status_code == 200 and b"working-hours-form" in page.content
    response = post_hours(client, user=other_rep.pk)  # naming someone else changes nothing
    assert response.status_code == 302
    rep.refresh_from_db()
    other_rep.refresh_from_db()
    assert (rep.timezone, rep.work_days, rep.work_start, rep.work_end) == (
        "Europe/Madrid",
        "1234",
        dt.time(8),
        dt.time(16, 30),
    )
    assert (other_rep.work_days, other_rep.timezone) == ("1234567", "")
    event = AuditEvent.objects.get(action="accounts.user.working_hours_changed")
    assert event.target_id == str(rep.pk)
    assert "work_days" in event.data and "timezone" in event.data


@pytest.mark.django_db
def test_bad_input_is_a_clear_message_not_an_error(client, rep):
    client.force_login(rep)
    response = post_hours(client, work_days=[], work_start="25:00", timezone="Mars/Olympus")
    assert response.status_code == 200
    text = response.content.decode()
    assert "Choose at least one working day." in text
    assert "field-error" in text
    rep.refresh_from_db()
    assert rep.work_days == "1234567"


@pytest.mark.django_db
def test_a_person_cannot_change_anothers_working_hours(rep, other_rep, admin_user):
    with pytest.raises(NotFound):
        services.user_working_hours_set(
            actor=rep,
            user=other_rep,
            timezone_name="UTC",
            work_days="1",
            work_start=dt.time(9),
            work_end=dt.time(10),
        )
    other_rep.refresh_from_db()
    assert other_rep.work_days == "1234567"
    assert not AuditEvent.objects.filter(action="accounts.user.working_hours_changed").exists()
    services.user_working_hours_set(
        actor=admin_user,
        user=other_rep,
        timezone_name="UTC",
        work_days="531",
        work_start=dt.time(9),
        work_end=dt.time(10),
    )
    other_rep.refresh_from_db()
    assert other_rep.work_days == "135"
    with pytest.raises(Invalid) as refused:
        services.user_working_hours_set(
            actor=admin_user,
            user=other_rep,
            timezone_name="Nowhere/Town",
            work_days="8",
            work_start=dt.time(9),
            work_end=dt.time(10),
        )
    assert set(refused.value.fields) == {"timezone", "work_days"}


@pytest.mark.django_db
def test_admins_edit_working_hours_in_the_admin_and_it_is_audited(client, admin_user, rep):
    client.force_login(admin_user)
    page = client.get(f"/admin/accounts/user/{rep.pk}/change/")
    assert page.status_code == 200
    assert b'name="work_days"' in page.content and b'name="work_start"' in page.content
    rep.work_days = "12"
    services.user_save(actor=admin_user, user=rep)
    event = AuditEvent.objects.get(action="accounts.user.changed", target_id=str(rep.pk))
    assert "work_days" in event.data


@pytest.mark.parametrize(
    "name, value",
    [
        ("WORKING_HOURS_DEFAULT_START", "25:00"),
        ("WORKING_HOURS_DEFAULT_END", "six"),
        ("WORKING_HOURS_DEFAULT_DAYS", "Mon-Fri"),
    ],
)
def test_a_bad_organisation_default_stops_start_up_with_its_name(name, value):
    from tests.test_settings import run_with_env

    result = run_with_env("import django; django.setup()", **{name: value})
    assert result.returncode != 0 and f"{name} must be" in result.stderr

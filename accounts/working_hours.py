"""Working hours: when a person is at work, in their own time zone (the right to disconnect).

A person works on their `work_days` (ISO weekdays, "12345" = Monday to Friday) from `work_start`
to `work_end`, wall-clock times in their time zone (`User.timezone`, else settings.TIME_ZONE). An
end before the start is a shift that ends the next day (22:00-06:00); an end equal to the start
is a shift of a whole day (24 hours of wall-clock time, 23 or 25 on the day clocks change).

Every comparison is made in UTC: two aware datetimes sharing a tzinfo compare by wall time and
ignore `fold`, which is wrong across a DST change. A start that falls in the hour clocks skip
(02:30 on a spring-forward night) is the instant it would have been on the old offset, which
is 03:30 on the new one; a start in the hour that repeats is its first occurrence.

Pure functions: nothing here reads the database. accounts.notifications holds notifications
back until `next_working_start`.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo

from django.conf import settings

DAYS = "1234567"


def default_work_days() -> str:
    return settings.WORKING_HOURS_DEFAULT_DAYS


def default_work_start() -> dt.time:
    return dt.time.fromisoformat(settings.WORKING_HOURS_DEFAULT_START)


def default_work_end() -> dt.time:
    return dt.time.fromisoformat(settings.WORKING_HOURS_DEFAULT_END)


def clean_days(value: str) -> str:
    """The working days as stored: distinct ISO weekday digits in order ("51" -> "15")."""
    return "".join(day for day in DAYS if day in (value or ""))


@functools.cache
def known_zones() -> frozenset[str]:
    """The time zone names this server knows. zoneinfo.available_timezones() walks the tz
    database on disk on every call (about 20 ms, on every page when the middleware asked it), and
    the database does not change under a running process."""
    return frozenset(zoneinfo.available_timezones())


def zone_of(user) -> zoneinfo.ZoneInfo:
    for name in (getattr(user, "timezone", "") or "", settings.TIME_ZONE, "UTC"):
        if not name:
            continue
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            continue
    return zoneinfo.ZoneInfo("UTC")


def _shift(day: dt.date, start: dt.time, end: dt.time, zone) -> tuple[dt.datetime, dt.datetime]:
    """The shift that starts on `day`, in UTC."""
    begin = dt.datetime.combine(day, start, tzinfo=zone).astimezone(dt.UTC)
    end_day = day if end > start else day + dt.timedelta(days=1)
    finish = dt.datetime.combine(end_day, end, tzinfo=zone).astimezone(dt.UTC)
    return begin, finish


def next_working_start(user, at: dt.datetime) -> dt.datetime:
    """`at` (in UTC) when `user` is at work then; otherwise the start of their next shift, in
    UTC. A person with no working day is never held back: `at`."""
    if at.tzinfo is None:
        raise ValueError("next_working_start takes an aware datetime")
    at = at.astimezone(dt.UTC)
    days = {int(d) for d in clean_days(user.work_days)}
    if not days:
        return at
    zone = zone_of(user)
    today = at.astimezone(zone).date()
    # Yesterday's shift may run past midnight; a week and a day ahead always holds a working day.
    for offset in range(-1, 9):
        day = today + dt.timedelta(days=offset)
        if day.isoweekday() not in days:
            continue
        begin, finish = _shift(day, user.work_start, user.work_end, zone)
        if finish <= begin:
            continue  # a shift lost in a DST change (01:30-02:15 across the skipped hour)
        if at < begin:
            return begin
        if at < finish:
            return at
    return at


def is_working(user, at: dt.datetime) -> bool:
    return next_working_start(user, at) == at.astimezone(dt.UTC)

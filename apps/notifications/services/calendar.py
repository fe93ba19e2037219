"""Working hours and targets, as the notifications read them: the one place to
wire to the team calendar, targets and squads of "Working hours, targets and
squads" when it lands (until then: Monday to Friday, 09:00 to 17:00, in the
team's time zone or the person's own Slack time zone; the first-review target
from the team's notification settings)."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, time, timedelta, tzinfo

from apps.notifications.models import NotificationSettings
from apps.teams.models import Team

WORK_DAYS = frozenset({0, 1, 2, 3, 4})
DAY_START = time(9, 0)
DAY_END = time(17, 0)


def zone_of(*, team: Team, person_time_zone: str = "") -> tzinfo:
    """A person's own time zone when Slack gave one, else the team's."""
    if person_time_zone:
        try:
            return zoneinfo.ZoneInfo(person_time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    return team.tzinfo


def _day_bounds(day: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day.date(), DAY_START, tzinfo=zone)
    end = datetime.combine(day.date(), DAY_END, tzinfo=zone)
    return start, end


def in_working_hours(*, at: datetime, zone: tzinfo) -> bool:
    local = at.astimezone(zone)
    if local.weekday() not in WORK_DAYS:
        return False
    start, end = _day_bounds(local, zone)
    return start <= local < end


def next_working_moment(*, at: datetime, zone: tzinfo) -> datetime:
    """``at`` itself inside working hours, else the start of the next working
    day's hours (quiet hours: a direct message is held until then)."""
    if in_working_hours(at=at, zone=zone):
        return at
    local = at.astimezone(zone)
    for days in range(8):
        day = local + timedelta(days=days)
        if day.weekday() not in WORK_DAYS:
            continue
        start, _ = _day_bounds(day, zone)
        if start > local:
            return start
    raise AssertionError("a week always has a working day")  # pragma: no cover


def working_hours_between(*, start: datetime, end: datetime, zone: tzinfo) -> float:
    """Hours of working time between two moments (local, daylight saving included)."""
    if end <= start:
        return 0.0
    total = timedelta()
    day = start.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    last = end.astimezone(zone)
    while day <= last:
        if day.weekday() in WORK_DAYS:
            open_, close = _day_bounds(day, zone)
            lo, hi = max(open_, start), min(close, end)
            if hi > lo:
                total += hi - lo
        day = datetime.combine(day.date() + timedelta(days=1), time(0), tzinfo=zone)
    return total.total_seconds() / 3600


def first_review_target_hours(*, team: Team) -> int:
    """Working hours a ready pull request may wait for its first review."""
    settings = NotificationSettings.objects.filter(team=team).first()
    return settings.first_review_target_hours if settings else 4

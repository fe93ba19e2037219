"""Working hours and targets, as the notifications read them: the team's own
calendar ("Working hours, targets and squads", docs/working-hours.md: its time
zone, working days and hours, holidays) through the durations engine's
`team_working_hours`, and its first-review target.

- A wait is counted in the team's calendar. A channel post waits for the
  channel's working hours (the team's, or a squad's: the team's days, hours and
  holidays in the squad's time zone); a direct message for the recipient's: the
  team's days, hours and holidays in the person's own Slack time zone.
- The first-review target is the team's (`Team.targets["first_review"]`, in its
  own unit: hours, days, working hours or working days); a team without one
  falls back to the notification settings' number of working hours (default 4)."""

from __future__ import annotations

import dataclasses
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from apps.metrics.services.durations import EVERY_HOUR, Calendar, team_working_hours
from apps.metrics.services.working_hours import WorkingHours
from apps.notifications.models import NotificationSettings
from apps.teams.models import Team

DEFAULT_TARGET_HOURS = 4


def team_calendar(*, team: Team) -> WorkingHours:
    return team_working_hours(team)


def calendar_in_zone(*, team: Team, time_zone: str = "") -> WorkingHours:
    """The team's working days, hours and holidays in another time zone (a
    person's own in Slack, a squad's), or the team's when none or an unknown
    one is given."""
    calendar = team_working_hours(team)
    if time_zone and time_zone != calendar.time_zone:
        try:
            zoneinfo.ZoneInfo(time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return calendar
        return dataclasses.replace(calendar, time_zone=time_zone)
    return calendar


def person_calendar(*, team: Team, person_time_zone: str = "") -> WorkingHours:
    """The team's working days, hours and holidays in the person's own time zone
    (Slack's), or the team's when Slack gave none."""
    return calendar_in_zone(team=team, time_zone=person_time_zone)


def _opens(calendar: WorkingHours, day: datetime) -> tuple[datetime, datetime]:
    zone = zoneinfo.ZoneInfo(calendar.time_zone)
    return (
        datetime.combine(day.date(), calendar.start, tzinfo=zone),
        datetime.combine(day.date(), calendar.end, tzinfo=zone),
    )


def in_working_hours(*, at: datetime, calendar: WorkingHours) -> bool:
    local = at.astimezone(zoneinfo.ZoneInfo(calendar.time_zone))
    if not calendar.is_working_day(local.date()):
        return False
    start, end = _opens(calendar, local)
    return start <= local < end


def next_working_moment(*, at: datetime, calendar: WorkingHours) -> datetime:
    """``at`` itself inside working hours, else the start of the next working
    day's hours (quiet hours: a direct message is held until then)."""
    if in_working_hours(at=at, calendar=calendar):
        return at
    zone = zoneinfo.ZoneInfo(calendar.time_zone)
    local = at.astimezone(zone)
    # A year of holidays at most: a calendar with no working day left sends at once.
    for days in range(370):
        day = datetime.combine(local.date() + timedelta(days=days), time(0), tzinfo=zone)
        if not calendar.is_working_day(day.date()):
            continue
        start, _ = _opens(calendar, day)
        if start > local:
            return start
    return at


@dataclass(frozen=True)
class Target:
    """A wait's limit, in hours counted by ``calendar``, and how to say it."""

    hours: float
    calendar: Calendar
    label: str


def first_review_target(*, team: Team) -> Target:
    """The team's first-review target, or the notification settings' fallback."""
    working = team_working_hours(team)
    found = (team.targets or {}).get("first_review")
    if isinstance(found, dict) and isinstance(found.get("within"), int | float):
        within = float(found["within"])
        unit = found.get("unit")
        if unit == "working_hours":
            return Target(within, working, f"{within:g} working hours")
        if unit == "working_days":
            return Target(within * working.day_hours, working, f"{within:g} working days")
        if unit == "hours":
            return Target(within, EVERY_HOUR, f"{within:g} hours")
        if unit == "days":
            return Target(within * 24, EVERY_HOUR, f"{within:g} days")
    settings = NotificationSettings.objects.filter(team=team).first()
    hours = settings.first_review_target_hours if settings else DEFAULT_TARGET_HOURS
    return Target(float(hours), working, f"{hours} working hours")

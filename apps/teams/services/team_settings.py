"""A team's settings (docs/working-hours.md): its name, time zone, working week,
holidays, default hours and targets, read from what a person or a script sent
(the settings page, `PUT /api/teams/<slug>/settings/`) and refused with a
reason naming the field; and written.

One reader for both: `team_settings_read` takes plain values (the page turns
its form into them) and gives the changes to apply, or `SettingsRefused`.
Writing them (and recomputing durations when the calendar changed) is
`apps/metrics/services/team_settings.py`, which may queue the recompute."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Any

import holidays as holiday_library

from apps.teams.models import Team, time_zone_known

SETTINGS_KEYS = (
    "name",
    "time_zone",
    "working_days",
    "working_hours",
    "holidays",
    "holiday_country",
    "default_hours",
    "targets",
)
# The fields of Team a change of which changes its working-hours calendar.
CALENDAR_FIELDS = (
    "time_zone",
    "working_days",
    "work_starts_at",
    "work_ends_at",
    "holidays",
    "holiday_country",
)
HOLIDAYS_MAX = 1000
TEXT_MAX = 200
NAME_MAX = 100
# What a target is about: the duration its figure reads (durations engine names).
TARGET_METRICS = {
    "first_review": "time to first review",
    "cycle_time": "cycle time",
}
TARGET_UNITS = {
    "hours": "hours",
    "working_hours": "working hours",
    "days": "days",
    "working_days": "working days",
}
TARGET_PERCENTILES = (50, 90)
TARGET_WITHIN_MAX = 10_000
_CLOCK = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")


class SettingsRefused(ValueError):
    """A value that cannot be a setting: ``field`` says which, the message why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Target:
    """ "``metric`` at its ``percentile`` within ``within`` ``unit``"."""

    metric: str
    within: float
    unit: str
    percentile: int = 50

    def as_json(self) -> dict[str, Any]:
        return {"within": self.within, "unit": self.unit, "percentile": self.percentile}

    @property
    def label(self) -> str:
        within = f"{self.within:g}"
        return (
            f"{TARGET_METRICS[self.metric]} p{self.percentile} within {within} "
            f"{TARGET_UNITS[self.unit]}"
        )


def _text(field: str, value: Any, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise SettingsRefused(field, "must be text.")
    if "\x00" in value:
        raise SettingsRefused(field, "must not contain NUL bytes.")
    if len(value) > TEXT_MAX:
        raise SettingsRefused(field, f"must be at most {TEXT_MAX} characters.")
    value = value.strip()
    if not value and not allow_empty:
        raise SettingsRefused(field, "must not be empty.")
    return value


def _time_zone(value: Any) -> str:
    name = _text("time_zone", value)
    if not time_zone_known(name):
        raise SettingsRefused("time_zone", f"{name!r} is not an IANA time zone (as Europe/Berlin).")
    return name


def _working_days(value: Any) -> list[int]:
    message = "must be a list of distinct ISO weekday numbers, 1 (Monday) to 7 (Sunday)."
    if not isinstance(value, list) or not value or len(value) > 7:
        raise SettingsRefused("working_days", message)
    days = []
    for day in value:
        # JSON true is an int to Python; "3" is not a number.
        if type(day) is not int or not 1 <= day <= 7:
            raise SettingsRefused("working_days", message + f" Not {str(day)[:20]!r}.")
        days.append(day)
    if len(set(days)) != len(days):
        raise SettingsRefused("working_days", message)
    return sorted(days)


def _clock(field: str, value: Any) -> datetime.time:
    text = _text(field, value)
    # fullmatch on ASCII digits only: Arabic-Indic digits and "9:00" are refused.
    match = _CLOCK.fullmatch(text) if text.isascii() else None
    if match is None:
        raise SettingsRefused(field, f"{text[:20]!r} is not a time of day, HH:MM (00:00-23:59).")
    return datetime.time(int(match[1]), int(match[2]))


def _working_hours(value: Any) -> tuple[datetime.time, datetime.time]:
    if not isinstance(value, dict) or set(value) != {"start", "end"}:
        raise SettingsRefused("working_hours", 'must be {"start": "HH:MM", "end": "HH:MM"}.')
    start = _clock("working_hours.start", value["start"])
    end = _clock("working_hours.end", value["end"])
    if end <= start:
        raise SettingsRefused("working_hours", "must end after they start, on the same day.")
    return start, end


def _holidays(value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > HOLIDAYS_MAX:
        raise SettingsRefused("holidays", f"must be a list of at most {HOLIDAYS_MAX} dates.")
    found = set()
    for item in value:
        text = _text("holidays", item)
        try:
            if len(text) != 10 or not text.isascii():
                raise ValueError
            day = datetime.date.fromisoformat(text)
        except ValueError:
            raise SettingsRefused("holidays", f"{text[:20]!r} is not a date, YYYY-MM-DD.") from None
        found.add(day.isoformat())
    return sorted(found)


def _holiday_country(value: Any) -> str:
    code = _text("holiday_country", value, allow_empty=True).upper()
    if code and code not in holiday_library.list_supported_countries():
        raise SettingsRefused(
            "holiday_country", f"{code[:20]!r} is not a country code the holidays library knows."
        )
    return code


def _default_hours(value: Any) -> str:
    if value not in Team.Hours.values:
        raise SettingsRefused("default_hours", "must be 'working' or 'calendar'.")
    return str(value)


def _number(field: str, value: Any) -> float:
    if type(value) not in (int, float) or not 0 < value <= TARGET_WITHIN_MAX:
        raise SettingsRefused(field, f"must be a number above 0, at most {TARGET_WITHIN_MAX}.")
    return float(value)


def targets_read(value: Any) -> dict[str, Target]:
    """The targets: ``{metric: {"within": N, "unit": U, "percentile": 50|90}}``."""
    if not isinstance(value, dict):
        raise SettingsRefused("targets", "must be an object of targets by metric.")
    found = {}
    for metric, target in value.items():
        if metric not in TARGET_METRICS:
            raise SettingsRefused(
                "targets", f"{str(metric)[:40]!r} is not one of {', '.join(TARGET_METRICS)}."
            )
        field = f"targets.{metric}"
        if (
            not isinstance(target, dict)
            or not {"within", "unit"} <= set(target)
            or not set(target) <= {"within", "unit", "percentile"}
        ):
            raise SettingsRefused(field, 'must be {"within": N, "unit": U, "percentile": 50}.')
        if not isinstance(target["unit"], str) or target["unit"] not in TARGET_UNITS:
            raise SettingsRefused(
                field + ".unit", "must be one of " + ", ".join(TARGET_UNITS) + "."
            )
        percentile = target.get("percentile", 50)
        if type(percentile) is not int or percentile not in TARGET_PERCENTILES:
            raise SettingsRefused(field + ".percentile", "must be 50 or 90.")
        found[metric] = Target(
            metric=metric,
            within=_number(field + ".within", target["within"]),
            unit=target["unit"],
            percentile=percentile,
        )
    return found


def team_targets(team: Team) -> dict[str, Target]:
    """The team's stored targets (any that no longer reads is left out)."""
    found = {}
    for metric, target in (team.targets or {}).items():
        try:
            found.update(targets_read({metric: target}))
        except SettingsRefused:
            continue
    return found


def team_settings_read(values: dict[str, Any]) -> dict[str, Any]:
    """The Team fields to set from ``values`` (any of SETTINGS_KEYS; those
    absent stay as they are); SettingsRefused for the first bad one."""
    if not isinstance(values, dict):
        raise SettingsRefused("settings", "must be a JSON object.")
    unknown = sorted(str(key)[:40] for key in values if key not in SETTINGS_KEYS)
    if unknown:
        raise SettingsRefused(
            unknown[0], "is not a setting; one of " + ", ".join(SETTINGS_KEYS) + "."
        )
    fields: dict[str, Any] = {}
    if "name" in values:
        fields["name"] = _text("name", values["name"])
        if len(fields["name"]) > NAME_MAX:
            raise SettingsRefused("name", f"must be at most {NAME_MAX} characters.")
    if "time_zone" in values:
        fields["time_zone"] = _time_zone(values["time_zone"])
    if "working_days" in values:
        fields["working_days"] = _working_days(values["working_days"])
    if "working_hours" in values:
        fields["work_starts_at"], fields["work_ends_at"] = _working_hours(values["working_hours"])
    if "holidays" in values:
        fields["holidays"] = _holidays(values["holidays"])
    if "holiday_country" in values:
        fields["holiday_country"] = _holiday_country(values["holiday_country"])
    if "default_hours" in values:
        fields["default_hours"] = _default_hours(values["default_hours"])
    if "targets" in values:
        fields["targets"] = {
            metric: target.as_json() for metric, target in targets_read(values["targets"]).items()
        }
    return fields


def team_settings_json(team: Team) -> dict[str, Any]:
    """The settings as the API gives them (and takes them back)."""
    return {
        "name": team.name,
        "time_zone": team.time_zone,
        "working_days": list(team.working_days),
        "working_hours": {
            "start": team.work_starts_at.strftime("%H:%M"),
            "end": team.work_ends_at.strftime("%H:%M"),
        },
        "holidays": list(team.holidays),
        "holiday_country": team.holiday_country,
        "default_hours": team.default_hours,
        "targets": {metric: target.as_json() for metric, target in team_targets(team).items()},
    }


def team_settings_set(*, team: Team, fields: dict[str, Any]) -> bool:
    """Write the fields read by `team_settings_read`; whether the team's
    working-hours calendar changed (so its stored durations must be recomputed)."""
    calendar_changed = any(
        name in CALENDAR_FIELDS and getattr(team, name) != value for name, value in fields.items()
    )
    for name, value in fields.items():
        setattr(team, name, value)
    if fields:
        team.save(update_fields=list(fields))
    return calendar_changed

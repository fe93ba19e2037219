"""The period and repository a dashboard or API request asks for, read from
its query parameters with distrust: every bad value is a ``BadParameter`` with a
sentence saying why (the views answer 400 with it)."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

DEFAULT_DAYS = 30
PRESET_DAYS = (7, 30, 90)
MAX_DAYS = 365
MAX_SPAN_DAYS = 3660  # ten years of weeks is the longest chart drawn
EARLIEST = date(1970, 1, 1)
LATEST = date(2999, 12, 31)
MAX_VALUE_LENGTH = 200
KNOWN_PARAMETERS = ("days", "from", "to", "repository")

# ASCII digits only: Python's \d also matches other scripts' digits ("٣٠").
_DAYS = re.compile(r"[0-9]{1,4}", re.ASCII)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}", re.ASCII)


class BadParameter(ValueError):
    """A query parameter that cannot be used; the message says why."""


@dataclass(frozen=True)
class Period:
    """Whole days from ``start`` to ``end`` (both included) in ``time_zone``."""

    start: date
    end: date
    time_zone: str

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def start_at(self) -> datetime:
        """The first instant of the period (midnight of ``start`` in the zone)."""
        return datetime.combine(self.start, time.min, tzinfo=self.tzinfo)

    @property
    def end_at(self) -> datetime:
        """The first instant after the period (midnight after ``end``)."""
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=self.tzinfo)

    def previous(self) -> Period:
        """The period of the same length that ends the day before this one starts."""
        end = self.start - timedelta(days=1)
        return Period(start=end - timedelta(days=self.days - 1), end=end, time_zone=self.time_zone)


def days_read(value: str) -> int | None:
    """The number of days ``value`` asks for (ASCII digits, 1 to MAX_DAYS), or None."""
    if not _DAYS.fullmatch(value):
        return None
    days = int(value)
    return days if 1 <= days <= MAX_DAYS else None


@dataclass(frozen=True)
class Request:
    """What a request asks for: the period, how it was given, and the repository."""

    period: Period
    days: int | None  # the preset, or None for from-to dates
    repository: str  # "owner/name", or "" for every repository


def _single(params: Mapping[str, list[str]], name: str) -> str | None:
    values = params.get(name) or []
    if not values:
        return None
    if len(values) > 1:
        raise BadParameter(f"'{name}' is given more than once.")
    value = values[0]
    if "\x00" in value:
        raise BadParameter(f"'{name}' contains a NUL byte.")
    if len(value) > MAX_VALUE_LENGTH:
        raise BadParameter(f"'{name}' is too long (at most {MAX_VALUE_LENGTH} characters).")
    return value.strip()


def _date(name: str, value: str) -> date:
    if not _DATE.fullmatch(value):
        raise BadParameter(f"'{name}' must be a date written YYYY-MM-DD.")
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise BadParameter(f"'{name}' is not a real date ({value}).") from None
    if not EARLIEST <= parsed <= LATEST:
        raise BadParameter(f"'{name}' must be between {EARLIEST} and {LATEST}.")
    return parsed


def request_read(*, params: Mapping[str, list[str]], time_zone: str, today: date) -> Request:
    """The period and repository of ``params`` (a QueryDict's lists); ``today`` is
    the date in the team's zone. Without a period, the last ``DEFAULT_DAYS`` days."""
    days_value = _single(params, "days")
    from_value = _single(params, "from")
    to_value = _single(params, "to")
    repository = _single(params, "repository") or ""
    if repository and not _REPOSITORY.fullmatch(repository):
        raise BadParameter("'repository' must be written owner/name.")

    if from_value or to_value:
        if days_value:
            raise BadParameter("Give either 'days' or 'from' and 'to', not both.")
        if not (from_value and to_value):
            raise BadParameter("Give both 'from' and 'to' (YYYY-MM-DD).")
        start, end = _date("from", from_value), _date("to", to_value)
        if start > end:
            raise BadParameter(
                f"'from' is after 'to'. ({start} is after {end}: a period starts on or "
                "before its last day.)"
            )
        if (end - start).days + 1 > MAX_SPAN_DAYS:
            raise BadParameter(f"A period is at most {MAX_SPAN_DAYS} days long.")
        return Request(Period(start, end, time_zone), None, repository)

    days = DEFAULT_DAYS
    if days_value:
        asked = days_read(days_value)
        if asked is None:
            raise BadParameter(f"'days' must be a whole number from 1 to {MAX_DAYS}.")
        days = asked
    start = today - timedelta(days=days - 1)
    return Request(Period(start, today, time_zone), days, repository)

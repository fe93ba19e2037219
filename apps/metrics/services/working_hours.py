"""A team's working hours as a calendar of the durations engine
(`durations.Calendar`): only the time inside the team's working intervals
counts, in the team's local time.

A working interval is one working day's ``start``-``end`` in the team's time
zone, on a working day (ISO weekday 1-7) that is not a holiday (the team's own
dates, and its country's public holidays from the `holidays` library when it
names one). The hours counted between two moments are the real elapsed time
they share with those intervals: each interval's ends are turned into instants
with zoneinfo, so a day that a daylight-saving change shortens or lengthens
counts what a clock on the wall would have shown passing (09:00-17:00 across
the change is still 8 hours; 00:00-04:00 on the March change in Berlin is 3).

Exact and additive: the intervals are fixed by the calendar, so the time
[a, b] shares with them plus the time [b, c] shares is the time [a, c] shares.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Container
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property

import holidays as holiday_library

# ISO weekday numbers: Monday is 1, Sunday 7 (`date.isoweekday`).
MONDAY_TO_FRIDAY = (1, 2, 3, 4, 5)
DEFAULT_START = time(9, 0)
DEFAULT_END = time(17, 0)


def country_holidays(country: str) -> Container[date]:
    """The public holidays of ``country`` (ISO 3166-1 alpha-2, as the
    `holidays` library names them); every year on demand. ValueError for a
    country the library does not know."""
    if country not in holiday_library.list_supported_countries():
        raise ValueError(f"{country!r} is not a country the holidays library knows.")
    return holiday_library.country_holidays(country)


def supported_countries() -> list[str]:
    """Country codes the `holidays` library has public holidays for, sorted."""
    return sorted(holiday_library.list_supported_countries())


@dataclass(frozen=True)
class WorkingHours:
    """Hours counted only inside the working intervals of a time zone."""

    time_zone: str
    working_days: frozenset[int] = frozenset(MONDAY_TO_FRIDAY)
    start: time = DEFAULT_START
    end: time = DEFAULT_END
    holidays: frozenset[date] = frozenset()
    holiday_country: str = ""
    _zone: zoneinfo.ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("Working hours must end after they start.")
        if not self.working_days <= set(range(1, 8)):
            raise ValueError("Working days are ISO weekdays, 1 (Monday) to 7 (Sunday).")
        object.__setattr__(self, "_zone", zoneinfo.ZoneInfo(self.time_zone))

    @cached_property
    def _country_holidays(self) -> Container[date]:
        return country_holidays(self.holiday_country) if self.holiday_country else frozenset()

    def is_working_day(self, day: date) -> bool:
        return (
            day.isoweekday() in self.working_days
            and day not in self.holidays
            and day not in self._country_holidays
        )

    def _interval(self, day: date) -> tuple[datetime, datetime]:
        """The day's working interval as UTC instants (fold=0: a wall time that
        happens twice is its first; one that never happens is shifted by the
        change, as zoneinfo does)."""
        start = datetime.combine(day, self.start, tzinfo=self._zone)
        end = datetime.combine(day, self.end, tzinfo=self._zone)
        return start.astimezone(UTC), end.astimezone(UTC)

    def hours_between(self, start: datetime, end: datetime) -> float:
        """Working hours from ``start`` to ``end``; negative when ``end`` is first."""
        if end < start:
            return -self.hours_between(end, start)
        # In UTC: Python subtracts two times of one zone by their wall clocks.
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        counted = timedelta()
        day = start.astimezone(self._zone).date()
        last = end.astimezone(self._zone).date()
        while day <= last:
            if self.is_working_day(day):
                opens, closes = self._interval(day)
                overlap = min(closes, end) - max(opens, start)
                if overlap > timedelta():
                    counted += overlap
            day += timedelta(days=1)
        # timedelta sums are exact (microseconds), so only the division rounds.
        return counted.total_seconds() / 3600

    @property
    def day_hours(self) -> float:
        """Hours in one ordinary working day (a target "within N working days"
        is N of these)."""
        span = datetime.combine(date(2001, 1, 1), self.end) - datetime.combine(
            date(2001, 1, 1), self.start
        )
        return span.total_seconds() / 3600

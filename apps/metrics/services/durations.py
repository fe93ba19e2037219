"""The durations engine: every duration of a pull request, computed here, once,
in Python, from the row's timestamps and a calendar, and stored on the row.

Nothing else computes a duration: the figures aggregate the stored columns (no
SQL subtracts times), the write path stores them as it saves a row
(`formulas.pull_request_derive`), and `manage.py metrics_recompute` stores them
again for old rows when a definition or a team's calendar changes.

- A **calendar** says how many hours count between two moments
  (`Calendar.hours_between`): every hour (`EVERY_HOUR`), or a team's working
  hours (time zone, working days and hours, holidays: `working_hours.WorkingHours`).
- `durations_compute` gives the **named set** of durations of one pull request
  for one calendar: ``{"cycle_time": …, "review_time": …, "coding": …, …}``.
- A row stores one set per **slot** (`SLOTS`): the column of a duration is
  ``<name>_<slot>``, so the every-hour set is ``cycle_time_hours``,
  ``coding_hours``, …; the working-hours set is ``cycle_time_working_hours``, …
  Another slot is one entry in `SLOTS`, its columns (a migration) and its
  calendar in `team_calendars`; `durations_store` and its callers stay as they are.

Definitions (docs/metrics.md): cycle time is opened → merged; review time (time
to first review) opened → first review; lead time (DORA's change lead time)
first commit (or opened, whichever is earlier) → deployed. The four phases of a merged pull request
run between these boundaries: opened, ready for review (opened if never a
draft), first review, first approval, merged. A boundary that did not happen
before the merge is skipped and its time goes to the next phase that did; one
out of order is moved up to the boundary before it; so, for any calendar, the
four add up to the cycle time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from apps.metrics.models import Deployment, PullRequest
from apps.metrics.services.working_hours import WorkingHours
from apps.teams.models import Team


class Calendar(Protocol):
    """How many hours count between two moments."""

    def hours_between(self, start: datetime, end: datetime) -> float:
        """Hours counted from ``start`` to ``end``; negative when ``end`` comes first.
        Additive: hours(a, b) + hours(b, c) == hours(a, c)."""
        ...


@dataclass(frozen=True, slots=True)
class EveryHour:
    """Every hour counts: the calendar of durations in plain hours."""

    def hours_between(self, start: datetime, end: datetime) -> float:
        return (end - start).total_seconds() / 3600


EVERY_HOUR = EveryHour()


@dataclass(frozen=True, slots=True)
class PullRequestTimes:
    """The timestamps durations are computed from."""

    opened_at: datetime | None
    ready_for_review_at: datetime | None
    first_review_at: datetime | None
    first_approval_at: datetime | None
    merged_at: datetime | None
    first_commit_at: datetime | None = None
    deployed_at: datetime | None = None

    @classmethod
    def of(cls, row: PullRequest) -> PullRequestTimes:
        return cls(
            opened_at=row.pr_created_at,
            ready_for_review_at=row.ready_for_review_at,
            first_review_at=row.first_review_at,
            first_approval_at=row.first_approval_at,
            merged_at=row.merged_at,
            first_commit_at=row.first_commit_at,
            deployed_at=row.deployed_at,
        )


# The named set, in this order: what each stored slot has a column for.
DURATIONS = ("cycle_time", "review_time", "coding", "pickup", "review", "merge", "lead_time")
PHASES = ("coding", "pickup", "review", "merge")
Durations = dict[str, float | None]

# Slot -> the calendar its set is counted in (by `team_calendars`). Each slot's
# durations are stored in the columns `<duration>_<slot>`.
HOURS = "hours"
WORKING_HOURS = "working_hours"
SLOTS = (HOURS, WORKING_HOURS)


def duration_column(name: str, slot: str = HOURS) -> str:
    """The PullRequest column that stores duration ``name`` of slot ``slot``."""
    return f"{name}_{slot}"


DURATION_COLUMNS = tuple(duration_column(name, slot) for slot in SLOTS for name in DURATIONS)


def team_calendars(team: Team) -> dict[str, Calendar]:
    """The calendar of each stored slot for the team's pull requests."""
    return {HOURS: EVERY_HOUR, WORKING_HOURS: team_working_hours(team)}


def team_working_hours(team: Team) -> WorkingHours:
    """The team's working-hours calendar, from its settings (apps/teams: time
    zone, working days and hours, holidays, holiday country)."""
    return WorkingHours(
        time_zone=str(team.tzinfo),
        working_days=frozenset(team.working_days),
        start=team.work_starts_at,
        end=team.work_ends_at,
        holidays=frozenset(team.holiday_dates),
        holiday_country=team.holiday_country,
    )


def durations_compute(times: PullRequestTimes, *, calendar: Calendar) -> Durations:
    """The named set of durations, in hours counted by ``calendar``; None for one
    that has not happened (no merge yet: no cycle time and no phases)."""

    def hours(start: datetime, end: datetime) -> float:
        return calendar.hours_between(start, end)

    opened, merged = times.opened_at, times.merged_at
    reviewed = times.first_review_at
    review_time = hours(opened, reviewed) if opened and reviewed else None
    lead_time = _lead_time(times, hours)
    if opened is None or merged is None:
        return {
            "cycle_time": None,
            "review_time": review_time,
            **dict.fromkeys(PHASES),
            "lead_time": lead_time,
        }
    ready = min(max(times.ready_for_review_at or opened, opened), merged)
    # A boundary after the merge did not happen (as far as the phases go).
    reviewed_at = max(reviewed, ready) if reviewed is not None and reviewed <= merged else None
    before_approval = reviewed_at or ready
    approved = times.first_approval_at
    approved_at = (
        max(approved, before_approval) if approved is not None and approved <= merged else None
    )
    before_merge = approved_at or before_approval
    return {
        "cycle_time": hours(opened, merged),
        "review_time": review_time,
        "coding": hours(opened, ready),
        "pickup": hours(ready, reviewed_at) if reviewed_at is not None else 0.0,
        "review": hours(before_approval, approved_at) if approved_at is not None else 0.0,
        "merge": hours(before_merge, merged),
        "lead_time": lead_time,
    }


def _lead_time(
    times: PullRequestTimes, hours: Callable[[datetime, datetime], float]
) -> float | None:
    """Change lead time: first commit -> deployed. A pull request whose commits
    are not known starts at its opening (counted apart by the figures). A first
    commit after the opening is not earlier than it: the start is the earlier
    of the two, so lead time is never shorter than the cycle time."""
    deployed = times.deployed_at
    if deployed is None:
        return None
    starts = [moment for moment in (times.first_commit_at, times.opened_at) if moment]
    if not starts:
        return None
    return hours(min(starts), deployed)


def durations_store(row: PullRequest, *, calendars: dict[str, Calendar]) -> None:
    """Set every stored duration of the row, one set per slot, from its timestamps."""
    times = PullRequestTimes.of(row)
    for slot in SLOTS:
        for name, value in durations_compute(times, calendar=calendars[slot]).items():
            setattr(row, duration_column(name, slot), value)


# --- deployments --------------------------------------------------------------------
# A deployment's durations: the same engine, calendars and slots as a pull
# request's, stored on the Deployment row as `<duration>_<slot>`.


@dataclass(frozen=True, slots=True)
class DeploymentTimes:
    """The timestamps a deployment's durations are computed from: when it
    finished, whether it failed, and when the next successful deployment that
    did not fail itself finished (its recovery)."""

    finished_at: datetime | None
    failed: bool
    recovered_at: datetime | None


DEPLOYMENT_DURATIONS = ("recovery_time",)


def deployment_durations_compute(times: DeploymentTimes, *, calendar: Calendar) -> Durations:
    """Failed deployment recovery time: a failed deployment's finish -> the
    finish of the next successful one that did not fail itself (None until then,
    and for a deployment that did not fail)."""
    if not times.failed or times.finished_at is None or times.recovered_at is None:
        return {"recovery_time": None}
    return {"recovery_time": calendar.hours_between(times.finished_at, times.recovered_at)}


def deployment_durations_store(
    row: Deployment, times: DeploymentTimes, *, calendars: dict[str, Calendar]
) -> None:
    """Set every stored duration of a deployment row, one set per slot."""
    for slot in SLOTS:
        for name, value in deployment_durations_compute(times, calendar=calendars[slot]).items():
            setattr(row, duration_column(name, slot), value)

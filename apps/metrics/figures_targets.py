"""The team's targets on its figures (docs/working-hours.md): for each target
(first review, cycle time: a percentile within N hours, days, working hours or
working days), the period's value in the target's own hours, whether it met
the target, and how many pull requests were within it; the drill-down lists
those outside. One query for every target.

A target is read in its unit's hours whatever ``hours=`` the page shows: "first
review within 4 working hours" compares stored working-hour durations with 4,
"within 2 working days" with 2 of the team's working days (its working day's
length in hours); calendar days are 24 hours."""

from __future__ import annotations

import operator
from functools import reduce
from typing import Any

from django.db.models import Count, Q, QuerySet

from apps.metrics import figures_facts
from apps.metrics.dbfunctions import PercentileCont
from apps.metrics.models import DayFacts, PullRequest
from apps.metrics.periods import BadParameter
from apps.metrics.scope import FigureScope
from apps.metrics.services import day_facts
from apps.metrics.services.durations import HOURS, WORKING_HOURS, duration_column
from apps.metrics.services.working_hours import WorkingHours
from apps.teams.services.team_settings import Target, team_targets

# A pull request by a person (figures.HUMAN: bots' pull requests are counted apart).
HUMAN = Q(author__isnull=True) | Q(author__is_bot=False)
# What each target measures: the stored duration, and the moment that puts a
# pull request in the period (the figure's own population).
MEASURES = {
    "first_review": ("review_time", "first_review_at"),
    "cycle_time": ("cycle_time", "merged_at"),
}
# The day facts of each target's population (the kind placed on that moment's day).
FACT_KINDS = {"first_review": DayFacts.Kind.FIRST_REVIEW, "cycle_time": DayFacts.Kind.MERGED}
UNIT_SLOTS = {
    "hours": HOURS,
    "days": HOURS,
    "working_hours": WORKING_HOURS,
    "working_days": WORKING_HOURS,
}


def _limit_hours(target: Target, scope: FigureScope) -> float:
    """The target in hours of its slot."""
    if target.unit == "days":
        return target.within * 24
    if target.unit == "working_days":
        team = scope.team
        day = WorkingHours(time_zone="UTC", start=team.work_starts_at, end=team.work_ends_at)
        return target.within * day.day_hours
    return target.within


def _population(scope: FigureScope, metric: str) -> tuple[str, Q]:
    """The target's column, and the pull requests it is measured over."""
    duration, moment = MEASURES[metric]
    target = team_targets(scope.team)[metric]
    column = duration_column(duration, UNIT_SLOTS[target.unit])
    period = scope.period
    within_period = Q(
        **{f"{moment}__gte": period.start_at, f"{moment}__lt": period.end_at},
        **{f"{column}__isnull": False},
    )
    return column, HUMAN & within_period


def target_figures(*, scope: FigureScope) -> dict[str, dict[str, Any]]:
    """Each target with the period's value, ``met`` (None when nothing was
    measured), and the share of pull requests within it."""
    targets = team_targets(scope.team)
    if not targets:
        return {}
    if day_facts.available():
        found = figures_facts.facts_target_aggregates(
            scope,
            {
                metric: (
                    FACT_KINDS[metric],
                    _population(scope, metric)[0],
                    _limit_hours(target, scope),
                    target.percentile / 100,
                )
                for metric, target in targets.items()
            },
        )
    else:
        found = _target_aggregates_rows(scope, targets)
    answer = {}
    for metric, target in targets.items():
        count, within = found[f"{metric}__count"], found[f"{metric}__within"]
        value = found[f"{metric}__value"]
        limit = _limit_hours(target, scope)
        answer[metric] = {
            **target.as_json(),
            "label": target.label,
            "hours": "working" if UNIT_SLOTS[target.unit] == WORKING_HOURS else "calendar",
            "limit_hours": round(limit, 3),
            "value_hours": None if value is None else round(float(value), 3),
            "met": None if value is None else float(value) <= limit,
            "count": count,
            "count_within": within,
            "count_outside": count - within,
            "share_within": round(within / count, 4) if count else None,
        }
    return answer


def _target_aggregates_rows(scope: FigureScope, targets: dict[str, Target]) -> dict[str, Any]:
    """`target_figures`' aggregates from the pull requests' rows (SQLite)."""
    aggregates: dict[str, Any] = {}
    # The rows any target measures, read through each moment's index: without
    # it, every request read every pull request the team ever had.
    measured: list[Q] = []
    for metric, target in targets.items():
        column, population = _population(scope, metric)
        measured.append(population)
        limit = _limit_hours(target, scope)
        aggregates[f"{metric}__count"] = Count("id", filter=population)
        aggregates[f"{metric}__within"] = Count(
            "id", filter=population & Q(**{f"{column}__lte": limit})
        )
        aggregates[f"{metric}__value"] = PercentileCont(
            column, target.percentile / 100, filter=population
        )
    found = (
        PullRequest.objects.filter(scope.pull_requests_q(), team=scope.team)
        .filter(reduce(operator.or_, measured))
        .aggregate(**aggregates)
    )
    return found


def pull_requests_outside_target(
    *, scope: FigureScope, metric: str
) -> tuple[QuerySet[PullRequest], str]:
    """The pull requests the target measured that were outside it, and the
    list's order field; BadParameter for a metric the team has no target for."""
    targets = team_targets(scope.team)
    if metric not in targets:
        raise BadParameter("'value' must be a metric the team has a target for.")
    column, population = _population(scope, metric)
    limit = _limit_hours(targets[metric], scope)
    rows = PullRequest.objects.filter(scope.pull_requests_q(), population, team=scope.team).filter(
        **{f"{column}__gt": limit}
    )
    return rows, "-" + MEASURES[metric][1]

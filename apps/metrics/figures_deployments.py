"""DORA's five keys, and the deployments behind them (docs/metrics.md,
"Deployments and DORA's five keys"): selectors for the dashboard's delivery
section, the JSON API's ``deployments`` object and the deployments list.

Every figure aggregates stored values: a deployment's status, whether it
failed and why, whether it was rework and its recovery time
(`services/deployments.py`, `deployments_assess`, durations from the engine),
and a pull request's `lead_time_hours`. A repository's deployments count from
its deployment source only (`counted_deployments`): a team whose workflow
also creates GitHub deployments must not count each deployment twice.

The functions take the already scoped repository ids (None: every repository),
as `figures.team_figures` does, so a filter (a squad) slots in."""

from __future__ import annotations

import operator
from collections import defaultdict
from datetime import date, timedelta
from functools import reduce
from typing import Any

from django.db.models import Count, Q, QuerySet

from apps.metrics.dbfunctions import PercentileCont
from apps.metrics.models import Deployment, PullRequest, RepositoryDeploymentSource
from apps.metrics.periods import Period
from apps.metrics.scope import FigureScope
from apps.metrics.services.deployments import FAMILIES
from apps.metrics.services.durations import HOURS, duration_column
from apps.teams.models import Team

Source = Deployment.Source
Choice = RepositoryDeploymentSource.Choice
# What each choice of source counts (the API's deployments with GitHub's).
CHOICE_SOURCES = FAMILIES
FINISHED = (*Deployment.SUCCEEDED_STATUSES, *Deployment.FAILED_STATUSES)
# People's pull requests: bots' are left out of lead time, as out of cycle time.
HUMAN = Q(author__isnull=True) | Q(author__is_bot=False)
LIST_LIMIT = 20
DIGITS = 3

# DORA's published performance levels of each key, from the 2024 Accelerate
# State of DevOps Report (https://dora.dev/research/2024/dora-report/; the
# keys: https://dora.dev/guides/dora-metrics-four-keys/). Shown beside each
# key; DORA publishes no levels for rework rate.
DORA_BANDS: dict[str, list[tuple[str, str]]] = {
    "deployment_frequency": [
        ("Elite", "on demand (several a day)"),
        ("High", "daily to weekly"),
        ("Medium", "weekly to monthly"),
        ("Low", "monthly to every six months"),
    ],
    "lead_time": [
        ("Elite", "under a day"),
        ("High", "a day to a week"),
        ("Medium", "a week to a month"),
        ("Low", "a month to six months"),
    ],
    "change_failure_rate": [
        ("Elite", "5%"),
        ("High", "20%"),
        ("Medium", "10%"),
        ("Low", "40%"),
    ],
    "recovery_time": [
        ("Elite", "under an hour"),
        ("High", "under a day"),
        ("Medium", "under a day"),
        ("Low", "a week to a month"),
    ],
}


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), DIGITS)


def deployment_sources(*, team: Team) -> dict[int, tuple[str, str]]:
    """Each repository's source (by GitHub id): (the choice as set, the source
    it resolves to). Automatic: GitHub deployments (or the API's) if any were
    seen, else the Actions workflow if one is picked, else releases if any
    were seen, else merges to the default branch. Two queries."""
    chosen = {
        row.repository_github_id: row
        for row in RepositoryDeploymentSource.objects.filter(team=team)
    }
    seen: dict[int, set[str]] = defaultdict(set)
    for repository_github_id, source in (
        Deployment.objects.filter(team=team, repository_github_id__isnull=False)
        .order_by()
        .values_list("repository_github_id", "source")
        .distinct()
    ):
        seen[repository_github_id].add(source)
    resolved: dict[int, tuple[str, str]] = {}
    for repository_github_id in set(chosen) | set(seen):
        row = chosen.get(repository_github_id)
        choice = row.choice if row else Choice.AUTO
        if choice != Choice.AUTO:
            resolved[repository_github_id] = (choice, choice)
            continue
        sources = seen.get(repository_github_id, set())
        if sources & {Source.GITHUB, Source.API}:
            source = Choice.GITHUB
        elif row is not None and row.workflow_path:
            source = Choice.WORKFLOW
        elif Source.RELEASE in sources:
            source = Choice.RELEASE
        else:
            source = Choice.MERGE
        resolved[repository_github_id] = (Choice.AUTO, source)
    return resolved


def counted_deployments(*, team: Team, repository_ids: list[int] | None) -> QuerySet[Deployment]:
    """The team's production deployments that count: each repository's from its source."""
    by_source: dict[str, list[int]] = defaultdict(list)
    for repository_github_id, (_, source) in deployment_sources(team=team).items():
        by_source[source].append(repository_github_id)
    counted = Q(pk__in=[])
    for source, github_ids in by_source.items():
        counted |= Q(repository_github_id__in=github_ids, source__in=CHOICE_SOURCES[source])
    queryset = Deployment.objects.filter(counted, team=team, is_production=True)
    if repository_ids is not None:
        queryset = queryset.filter(repository_id__in=repository_ids)
    return queryset


def _in(field: str, period: Period) -> Q:
    return Q(**{f"{field}__gte": period.start_at, f"{field}__lt": period.end_at})


def _key_figures(
    deployments: QuerySet[Deployment],
    pull_requests: QuerySet[PullRequest],
    periods: dict[str, Period],
    slot: str,
) -> dict[str, dict[str, Any]]:
    """The five keys of each named period, durations in the slot's hours: two queries."""
    aggregates: dict[str, Any] = {}
    lead: dict[str, Any] = {}
    recovery_time = duration_column("recovery_time", slot)
    lead_time = duration_column("lead_time", slot)
    for name, period in periods.items():
        finished = _in("finished_at", period) & Q(status__in=FINISHED)
        succeeded = _in("finished_at", period) & Q(status__in=Deployment.SUCCEEDED_STATUSES)
        recovered = finished & Q(failed=True, **{f"{recovery_time}__isnull": False})
        aggregates.update(
            {
                f"{name}__attempts": Count("id", filter=finished),
                f"{name}__count": Count("id", filter=succeeded),
                f"{name}__failed": Count("id", filter=finished & Q(failed=True)),
                f"{name}__rework": Count("id", filter=succeeded & Q(is_rework=True)),
                f"{name}__recovered": Count("id", filter=recovered),
                f"{name}__recovery_median": PercentileCont(recovery_time, 0.5, filter=recovered),
                f"{name}__recovery_p90": PercentileCont(recovery_time, 0.9, filter=recovered),
            }
        )
        deployed = HUMAN & _in("deployed_at", period) & Q(**{f"{lead_time}__isnull": False})
        lead.update(
            {
                f"{name}__lead_count": Count("id", filter=deployed),
                f"{name}__lead_from_opening": Count(
                    "id", filter=deployed & Q(first_commit_at__isnull=True)
                ),
                f"{name}__lead_median": PercentileCont(lead_time, 0.5, filter=deployed),
                f"{name}__lead_p90": PercentileCont(lead_time, 0.9, filter=deployed),
            }
        )
    # Only the rows a period takes, each read through its index: not every
    # deployment and pull request the team ever had.
    finished_in = reduce(operator.or_, (_in("finished_at", p) for p in periods.values()))
    deployed_in = reduce(operator.or_, (_in("deployed_at", p) for p in periods.values()))
    values = {
        **deployments.filter(finished_in).aggregate(**aggregates),
        **pull_requests.filter(deployed_in).aggregate(**lead),
    }
    found: dict[str, dict[str, Any]] = {name: {} for name in periods}
    for key, value in values.items():
        name, figure = key.split("__", 1)
        found[name][figure] = value
    return found


def _share(count: int, total: int) -> float | None:
    return round(count / total, 4) if total else None


def _summary(period: Period, found: dict[str, Any]) -> dict[str, Any]:
    count, attempts = int(found["count"]), int(found["attempts"])
    return {
        "count": count,
        "per_week": round(count * 7 / period.days, 3),
        "per_day": round(count / period.days, 3),
        "attempts": attempts,
        "failed": int(found["failed"]),
        "change_failure_rate": _share(int(found["failed"]), attempts),
        "lead_time_hours": {
            "median": _round(found["lead_median"]),
            "p90": _round(found["lead_p90"]),
            "count": int(found["lead_count"]),
            # Pull requests with no known first commit: their lead time starts
            # at their opening (docs/metrics.md).
            "from_opening": int(found["lead_from_opening"]),
        },
        "recovery_time_hours": {
            "median": _round(found["recovery_median"]),
            "p90": _round(found["recovery_p90"]),
            "count": int(found["recovered"]),
        },
        "rework": int(found["rework"]),
        "rework_rate": _share(int(found["rework"]), count),
    }


def _weekly(deployments: QuerySet[Deployment], period: Period) -> list[dict[str, Any]]:
    """Every week (from Monday) of the period: deployments and failed ones. One query."""
    counts: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    rows = deployments.filter(_in("finished_at", period), status__in=FINISHED).values_list(
        "finished_at", "status", "failed"
    )
    for finished_at, status, failed in rows:
        day = finished_at.astimezone(period.tzinfo).date()
        week = day - timedelta(days=day.weekday())
        if status in Deployment.SUCCEEDED_STATUSES:
            counts[week][0] += 1
        if failed:
            counts[week][1] += 1
    weeks = []
    week = period.start - timedelta(days=period.start.weekday())
    while week <= period.end:
        deployed, failed = counts.get(week, [0, 0])
        weeks.append({"week": week.isoformat(), "deployments": deployed, "failed": failed})
        week += timedelta(days=7)
    return weeks


def deployment_figures(
    *,
    team: Team,
    period: Period,
    repository_ids: list[int] | None,
    slot: str = HOURS,
    scope: FigureScope | None = None,
) -> dict[str, Any]:
    """The JSON API's ``deployments`` object: the five keys of the period, the
    previous period's beside them, and the weekly trend; durations in the
    hours of ``slot`` (the durations engine's: calendar or working hours).
    With a ``scope`` (squad, person), the lead time is its pull requests'."""
    deployments = counted_deployments(team=team, repository_ids=repository_ids)
    pull_requests = PullRequest.objects.filter(team=team)
    if repository_ids is not None:
        pull_requests = pull_requests.filter(repository_id__in=repository_ids)
    if scope is not None:
        pull_requests = pull_requests.filter(scope.pull_requests_q())
    found = _key_figures(
        deployments, pull_requests, {"current": period, "previous": period.previous()}, slot
    )
    figures = _summary(period, found["current"])
    figures["previous"] = _summary(period.previous(), found["previous"])
    figures["weekly"] = _weekly(deployments, period)
    return figures


def deployments_in_period(
    *, team: Team, period: Period, repository_ids: list[int] | None, limit: int | None = None
) -> list[dict[str, Any]]:
    """The deployments that finished in the period (production ones of each
    repository's source), newest first, each with the pull requests it shipped:
    two queries."""
    rows = list(
        counted_deployments(team=team, repository_ids=repository_ids)
        .filter(_in("finished_at", period))
        .select_related("repository")
        .order_by("-finished_at", "-pk")[: limit or None]
    )
    shipped: dict[int, list[int]] = defaultdict(list)
    for deployment_id, number in (
        PullRequest.objects.filter(deployment_id__in=[row.pk for row in rows])
        .order_by("number")
        .values_list("deployment_id", "number")
    ):
        shipped[deployment_id].append(number)
    return [
        {
            "repository": row.repository.full_name if row.repository else None,
            "sha": row.sha,
            "environment": row.environment,
            "source": row.source,
            "status": row.status,
            "started_at": row.started_at.isoformat() if row.started_at else None,
            "finished_at": row.finished_at.isoformat() if row.finished_at else None,
            "failed": row.failed,
            "failure_reason": row.failure_reason or None,
            "failure_detail": row.failure_detail or None,
            "rework": row.is_rework,
            "recovery_time_hours": _round(row.recovery_time_hours),
            "pull_requests": shipped.get(row.pk, []),
        }
        for row in rows
    ]


def pull_requests_deployed(
    *, team: Team, period: Period, repository_ids: list[int] | None, limit: int | None = None
) -> list[dict[str, Any]]:
    """The pull requests deployed in the period (those the lead time counts),
    newest first: each with its lead and cycle times, and whether its lead time
    started at its opening (no first commit known). One query."""
    queryset = (
        PullRequest.objects.filter(
            HUMAN, _in("deployed_at", period), team=team, lead_time_hours__isnull=False
        )
        .select_related("repository", "deployment")
        .order_by("-deployed_at", "-pk")
    )
    if repository_ids is not None:
        queryset = queryset.filter(repository_id__in=repository_ids)
    return [
        {
            "repository": row.repository.full_name if row.repository else None,
            "number": row.number,
            "title": row.title,
            "html_url": row.html_url,
            "merged_at": row.merged_at.isoformat() if row.merged_at else None,
            "deployed_at": row.deployed_at.isoformat() if row.deployed_at else None,
            "lead_time_hours": _round(row.lead_time_hours),
            "cycle_time_hours": _round(row.cycle_time_hours),
            "from_opening": row.first_commit_at is None,
            "deployment_sha": row.deployment.sha if row.deployment else None,
        }
        for row in queryset[: limit or None]
    ]

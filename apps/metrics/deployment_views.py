"""The deployments' views: the JSON API's list and record
(`/api/teams/<slug>/deployments/`). Thin: they read the request, call the
selectors (`figures_deployments`) or the service (`services/deployment_api`)."""

from __future__ import annotations

import csv

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from apps.metrics import figures as metric_figures
from apps.metrics.api import api_team, json_error
from apps.metrics.figures_deployments import deployments_in_period, pull_requests_deployed
from apps.metrics.models import APIToken
from apps.metrics.periods import BadParameter, Request, request_read
from apps.metrics.services.deployment_api import (
    BadDeployment,
    KeyReused,
    api_deployment_read,
    api_deployment_record,
)
from apps.teams.access import team_member
from apps.teams.models import Team

# The deployments page shows this many; the CSV has them all.
PAGE_LIMIT = 500


def _csrf_refused(request: HttpRequest) -> HttpResponse | None:
    """A token needs no CSRF token; a logged-in person's POST does."""
    if request.headers.get("Authorization"):
        return None
    refused = CsrfViewMiddleware(lambda _request: HttpResponse()).process_view(
        request, None, (), {}
    )
    return json_error(403, "CSRF verification failed.") if refused is not None else None


@csrf_exempt
def team_deployments_api(request: HttpRequest, team_slug: str) -> HttpResponse:
    """GET: the deployments that finished in the period (?from=&to=, or ?days=).
    POST: record one from a CI (token scope deployments:write): 201 created,
    200 for one recorded before with the same idempotency key."""
    if request.method == "POST":
        return _record(request, team_slug)
    if request.method not in ("GET", "HEAD"):
        response = json_error(405, "Use GET to list deployments or POST to record one.")
        response["Allow"] = "GET, HEAD, POST"
        return response
    team = api_team(request, team_slug)
    if isinstance(team, JsonResponse):
        return team
    today = timezone.now().astimezone(team.tzinfo).date()
    params = {key: request.GET.getlist(key) for key in request.GET}
    try:
        asked = request_read(params=params, time_zone=str(team.tzinfo), today=today)
        repository_ids = metric_figures.repository_ids_for_team(
            team=team, full_name=asked.repository
        )
    except BadParameter as exc:
        return json_error(400, str(exc))
    rows = deployments_in_period(team=team, period=asked.period, repository_ids=repository_ids)
    return JsonResponse(
        {
            "period": {
                "from": asked.period.start.isoformat(),
                "to": asked.period.end.isoformat(),
                "time_zone": asked.period.time_zone,
            },
            "deployments": rows,
        },
        json_dumps_params={"ensure_ascii": False},
    )


def _record(request: HttpRequest, team_slug: str) -> HttpResponse:
    refused = _csrf_refused(request)
    if refused is not None:
        return refused
    team = api_team(request, team_slug, scope=APIToken.Scope.DEPLOYMENTS_WRITE)
    if isinstance(team, JsonResponse):
        return team
    try:
        deployment = api_deployment_read(body=request.body, now=timezone.now())
        row, created = api_deployment_record(team=team, deployment=deployment)
    except BadDeployment as exc:
        return json_error(400, str(exc))
    except KeyReused as exc:
        return json_error(409, str(exc))
    return JsonResponse(
        {
            "idempotency_key": deployment.idempotency_key,
            "repository": deployment.repository,
            "sha": row.sha,
            "environment": row.environment,
            "production": row.is_production,
            "status": row.status,
            "started_at": row.started_at.isoformat() if row.started_at else None,
            "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        },
        status=201 if created else 200,
    )


CSV_COLUMNS = (
    "repository",
    "sha",
    "environment",
    "source",
    "status",
    "started_at",
    "finished_at",
    "failed",
    "failure_reason",
    "failure_detail",
    "rework",
    "recovery_time_hours",
    "pull_requests",
)


def _period_of(request: HttpRequest, team: Team) -> tuple[Request, list[int] | None]:
    today = timezone.now().astimezone(team.tzinfo).date()
    params = {key: request.GET.getlist(key) for key in request.GET}
    asked = request_read(params=params, time_zone=str(team.tzinfo), today=today)
    return asked, metric_figures.repository_ids_for_team(team=team, full_name=asked.repository)


@login_required
@require_safe
def team_deployments(request: HttpRequest, team_slug: str) -> HttpResponse:
    """The drill-down of the delivery section: every deployment of the period."""
    membership = team_member(user=request.user, team_slug=team_slug)
    team = membership.team
    try:
        asked, repository_ids = _period_of(request, team)
    except BadParameter as exc:
        return render(
            request,
            "metrics/deployments.html",
            {"team": team, "membership": membership, "error": str(exc)},
            status=400,
        )
    rows = deployments_in_period(
        team=team, period=asked.period, repository_ids=repository_ids, limit=PAGE_LIMIT + 1
    )
    deployed = pull_requests_deployed(
        team=team, period=asked.period, repository_ids=repository_ids, limit=PAGE_LIMIT + 1
    )
    return render(
        request,
        "metrics/deployments.html",
        {
            "team": team,
            "membership": membership,
            "asked": asked,
            "rows": rows[:PAGE_LIMIT],
            "more": len(rows) > PAGE_LIMIT,
            "deployed": deployed[:PAGE_LIMIT],
            "more_deployed": len(deployed) > PAGE_LIMIT,
            "from_opening": sum(1 for row in deployed[:PAGE_LIMIT] if row["from_opening"]),
            "limit": PAGE_LIMIT,
            "query": request.GET.urlencode(),
        },
    )


@login_required
@require_safe
def team_deployments_csv(request: HttpRequest, team_slug: str) -> HttpResponse:
    membership = team_member(user=request.user, team_slug=team_slug)
    try:
        asked, repository_ids = _period_of(request, membership.team)
    except BadParameter as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    rows = deployments_in_period(
        team=membership.team, period=asked.period, repository_ids=repository_ids
    )
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="deployments-{asked.period.start}-{asked.period.end}.csv"'
    )
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        values = {**row, "pull_requests": " ".join(f"#{n}" for n in row["pull_requests"])}
        # A cell starting with = + - @ is a formula to a spreadsheet: quoted out.
        writer.writerow([_cell(values[column]) for column in CSV_COLUMNS])
    return response


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text

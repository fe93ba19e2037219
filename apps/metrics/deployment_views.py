"""The deployments' views: the JSON API's list and record
(`/api/teams/<slug>/deployments/`). Thin: they read the request, call the
selectors (`figures_deployments`) or the service (`services/deployment_api`)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from apps.metrics import figures as metric_figures
from apps.metrics.api import api_team, json_error
from apps.metrics.figures_deployments import deployments_in_period
from apps.metrics.models import APIToken
from apps.metrics.periods import BadParameter, request_read
from apps.metrics.services.deployment_api import (
    BadDeployment,
    KeyReused,
    api_deployment_read,
    api_deployment_record,
)


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

"""The settings and squads JSON API (docs/working-hours.md):
`GET`/`PUT /api/teams/<slug>/settings/`, `GET`/`POST /api/teams/<slug>/squads/`,
`PUT`/`DELETE /api/teams/<slug>/squads/<id>/`. Reading needs the ``read``
scope, changing the ``admin`` one (`api_team`); every bad field is a 400
naming it."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from apps.common.json_input import json_read
from apps.metrics.api import api_team, json_error
from apps.metrics.models import APIToken, Squad
from apps.metrics.services.squads import SquadRefused, squad_create, squad_delete, squad_update
from apps.metrics.services.team_settings import team_recompute_run, team_settings_update
from apps.metrics.squads import squad_json, squad_of_team, squads_for_team
from apps.teams.models import Team
from apps.teams.services.team_settings import SettingsRefused, team_settings_json

BODY_MAX = 64 * 1024


class BadBody(ValueError):
    """A request body that is not a JSON object of a sane size."""


def json_body(request: HttpRequest) -> dict[str, Any]:
    """The request's JSON object; BadBody for anything else."""
    try:
        body = request.body
    except RequestDataTooBig:
        body = b"x" * (BODY_MAX + 1)
    if len(body) > BODY_MAX:
        raise BadBody(f"The body must be at most {BODY_MAX} bytes of JSON.")
    try:
        value = json_read(body)
    except ValueError:
        raise BadBody("The body must be a JSON object (UTF-8).") from None
    if not isinstance(value, dict):
        raise BadBody("The body must be a JSON object.")
    return value


def api_write_team(request: HttpRequest, team_slug: str) -> Team | JsonResponse:
    """The team a change may be made to (the admin scope), or the error: a
    token needs no CSRF token, a logged-in person's change does."""
    if "HTTP_AUTHORIZATION" not in request.META:
        refused = CsrfViewMiddleware(lambda _request: HttpResponse()).process_view(
            request, None, (), {}
        )
        if refused is not None:
            return json_error(403, "Send Django's CSRF token with a logged-in change.")
    return api_team(request, team_slug, scope=APIToken.Scope.ADMIN)


def _settings_answer(team: Team) -> dict[str, Any]:
    run = team_recompute_run(team=team)
    return {
        **team_settings_json(team),
        "recompute": None
        if run is None
        else {"status": run.status, "done": run.done, "total": run.total},
    }


@csrf_exempt
@never_cache
def team_settings_api(request: HttpRequest, team_slug: str) -> JsonResponse:
    if request.method == "GET":
        team = api_team(request, team_slug)
        if isinstance(team, JsonResponse):
            return team
        return JsonResponse(_settings_answer(team), json_dumps_params={"ensure_ascii": False})
    if request.method != "PUT":
        response = json_error(405, "GET or PUT.")
        response["Allow"] = "GET, PUT"
        return response
    team = api_write_team(request, team_slug)
    if isinstance(team, JsonResponse):
        return team
    try:
        team_settings_update(team=team, values=json_body(request))
    except BadBody as bad:
        return json_error(400, str(bad))
    except SettingsRefused as refused:
        return json_error(400, f"{refused.field}: {refused.message}")
    team.refresh_from_db()
    return JsonResponse(_settings_answer(team), json_dumps_params={"ensure_ascii": False})


def _squad_answer(squad: Squad, status: int = 200) -> JsonResponse:
    return JsonResponse(squad_json(squad), status=status, json_dumps_params={"ensure_ascii": False})


@csrf_exempt
@never_cache
def team_squads_api(request: HttpRequest, team_slug: str) -> JsonResponse:
    if request.method == "GET":
        team = api_team(request, team_slug)
        if isinstance(team, JsonResponse):
            return team
        return JsonResponse(
            {"squads": [squad_json(squad) for squad in squads_for_team(team=team)]},
            json_dumps_params={"ensure_ascii": False},
        )
    if request.method != "POST":
        response = json_error(405, "GET or POST.")
        response["Allow"] = "GET, POST"
        return response
    team = api_write_team(request, team_slug)
    if isinstance(team, JsonResponse):
        return team
    try:
        squad = squad_create(team=team, values=json_body(request))
    except BadBody as bad:
        return json_error(400, str(bad))
    except SquadRefused as refused:
        return json_error(400, f"{refused.field}: {refused.message}")
    return _squad_answer(squad_of_team(team=team, squad_id=squad.pk), status=201)


@csrf_exempt
@never_cache
def team_squad_api(request: HttpRequest, team_slug: str, squad_id: int) -> JsonResponse:
    if request.method not in ("GET", "PUT", "DELETE"):
        response = json_error(405, "GET, PUT or DELETE.")
        response["Allow"] = "GET, PUT, DELETE"
        return response
    team = (
        api_team(request, team_slug)
        if request.method == "GET"
        else api_write_team(request, team_slug)
    )
    if isinstance(team, JsonResponse):
        return team
    try:
        squad = squad_of_team(team=team, squad_id=squad_id)
    except Http404:
        return json_error(404, "No such squad.")
    if request.method == "GET":
        return _squad_answer(squad)
    if request.method == "DELETE":
        squad_delete(squad=squad)
        return JsonResponse({}, status=200)
    try:
        squad_update(squad=squad, values=json_body(request))
    except BadBody as bad:
        return json_error(400, str(bad))
    except SquadRefused as refused:
        return json_error(400, f"{refused.field}: {refused.message}")
    return _squad_answer(squad_of_team(team=team, squad_id=squad.pk))

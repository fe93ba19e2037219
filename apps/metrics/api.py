"""The JSON API's shared answers: who a request is and what it may do
(`api_team`), and errors as JSON (`json_error`). Every API view starts with
`api_team(request, team_slug, scope=...)`, as every page starts with
`team_member` or `team_admin` (apps/teams/access.py).

A request is a bearer token (`Authorization: Bearer tfm_…`, no session or CSRF
needed), allowed what its scopes allow (`APIToken.Scope`), or a logged-in
person: members read, admins may do everything (a session's unsafe methods
still need Django's CSRF token)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, JsonResponse

from apps.metrics.authentication import (
    AuthenticationFailed,
    PermissionRefused,
    request_api_token,
    session_scope_check,
    token_scope_check,
)
from apps.metrics.models import APIToken
from apps.metrics.services.api_tokens import api_token_mark_used
from apps.teams.access import team_member
from apps.teams.models import Team


def json_error(status: int, message: str) -> JsonResponse:
    """An error answer: ``{"error": message}``, with the challenge on a 401."""
    response = JsonResponse({"error": message}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="tformance"'
    return response


def api_team(
    request: HttpRequest, team_slug: str, *, scope: str = APIToken.Scope.READ
) -> Team | JsonResponse:
    """The team the request may act on with ``scope``, or the error to answer:
    401 for a bad token or none, 404 outside the team (no answer confirms that
    a team exists), 403 for a token without the scope or a member asking for
    an admin's."""
    try:
        token = request_api_token(request)
    except AuthenticationFailed as refused:
        return json_error(401, str(refused))
    try:
        if token is not None:
            if token.team.slug != team_slug:
                return json_error(404, "No such team.")
            token_scope_check(token, scope)
            api_token_mark_used(token=token)
            return token.team
        if not request.user.is_authenticated:
            return json_error(401, "Log in, or send 'Authorization: Bearer <token>'.")
        try:
            membership = team_member(user=request.user, team_slug=team_slug)
        except Http404:
            return json_error(404, "No such team.")
        session_scope_check(is_admin=membership.is_admin, scope=scope)
        return membership.team
    except PermissionRefused as refused:
        return json_error(403, str(refused))

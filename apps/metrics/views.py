"""The team dashboard, its drill-down lists (and CSV), API tokens, and the
metrics JSON API. Views are thin: they read the request, call the selectors."""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import (
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from apps.metrics import figures as metric_figures
from apps.metrics.api import api_team, json_error
from apps.metrics.models import APIToken, PullRequest
from apps.metrics.periods import PRESET_DAYS, BadParameter, Request, days_read, request_read
from apps.metrics.scope import SCOPE_PARAMETERS, FigureScope, figure_scope_read
from apps.metrics.selectors import api_tokens_for_team, members_for_team
from apps.metrics.services.ai_signals import ai_signals_describe
from apps.metrics.services.api_tokens import BadScopes, api_token_create, api_token_revoke
from apps.metrics.services.durations import team_calendars
from apps.metrics.services.team_settings import team_recompute_run
from apps.metrics.squads import squad_names_for_team
from apps.teams.access import team_admin, team_member
from apps.teams.models import Team

TOKENS_ADMINS_ONLY = "Only team admins can create or revoke API tokens."
PAGE_SIZE = 50


def _read(request: HttpRequest, team: Team) -> tuple[Request, list[int] | None]:
    """The period and repository asked for; BadParameter says what is wrong."""
    today = timezone.now().astimezone(team.tzinfo).date()
    params = {key: request.GET.getlist(key) for key in request.GET}
    asked = request_read(params=params, time_zone=str(team.tzinfo), today=today)
    repository_ids = metric_figures.repository_ids_for_team(team=team, full_name=asked.repository)
    return asked, repository_ids


def _read_scope(request: HttpRequest, team: Team) -> tuple[Request, FigureScope]:
    """The period, repository, squad, person and hours asked for (a FigureScope
    for the figures); BadParameter says what is wrong."""
    asked, repository_ids = _read(request, team)
    scope = figure_scope_read(
        team=team,
        period=asked.period,
        repository_ids=repository_ids,
        params={key: request.GET.getlist(key) for key in SCOPE_PARAMETERS},
    )
    return asked, scope


def _period_values(params: Any, asked: Request | None) -> dict[str, str]:
    """What the period form shows: the period read, or, for one that could not
    be read, what was sent (so an error never resets the form to a preset)."""
    if asked is not None:
        custom = asked.days is None
        return {
            "days": "" if custom else str(asked.days),
            "from": asked.period.start.isoformat() if custom else "",
            "to": asked.period.end.isoformat() if custom else "",
            "repository": asked.repository,
        }
    sent = {key: str(params.get(key, ""))[:200] for key in ("days", "from", "to", "repository")}
    if sent["from"] or sent["to"]:
        sent["days"] = ""
    return sent


def _period_choices(values: dict[str, str]) -> list[tuple[str, str]]:
    """The period menu: the presets, and a number of days asked in the URL that
    is none of them (so the menu says what is shown; not when it is no number
    of days, which the page's error names)."""
    days = [str(preset) for preset in PRESET_DAYS]
    asked = days_read(values["days"])
    if asked is not None and str(asked) not in days:
        days.append(str(asked))
    return [(value, f"Last {value} days") for value in days]


def _query(asked: Request, scope: FigureScope | None = None, **extra: str) -> str:
    """The query string that asks for the same period and repository (and the
    same squad, person and hours)."""
    from urllib.parse import urlencode

    if asked.days is not None:
        params: dict[str, str] = {"days": str(asked.days)}
    else:
        params = {"from": asked.period.start.isoformat(), "to": asked.period.end.isoformat()}
    if asked.repository:
        params["repository"] = asked.repository
    if scope is not None:
        # The hours only when they are not the team's default (links stay short).
        asked_hours = scope.hours if scope.hours != scope.team.default_hours else None
        shown = {**scope.echo(), "hours": asked_hours}
        params.update({key: value for key, value in shown.items() if value})
    params.update(extra)
    return urlencode(params)


def _change(current: float | None, previous: float | None) -> dict[str, Any] | None:
    """The change from the previous period, for the dashboard's small print."""
    if current is None or previous is None:
        return None
    difference = current - previous
    percent = round(100 * difference / previous) if previous else None
    return {"previous": previous, "difference": round(difference, 2), "percent": percent}


def _changes(figures: dict[str, Any]) -> dict[str, Any]:
    previous = figures["previous"]
    pairs = {
        "opened": ("pull_requests", "opened"),
        "merged": ("pull_requests", "merged"),
        "closed_unmerged": ("pull_requests", "closed_unmerged"),
        "cycle_median": ("cycle_time_hours", "median"),
        "cycle_p90": ("cycle_time_hours", "p90"),
        "first_review_median": ("time_to_first_review_hours", "median"),
        "first_review_p90": ("time_to_first_review_hours", "p90"),
        "reverts": ("reverts", "count"),
        "hotfixes": ("hotfixes", "count"),
    }
    return {
        name: _change(figures[group][key], previous[group][key])
        for name, (group, key) in pairs.items()
    }


def dashboard_scope_context(*, team: Team, user: Any, params: Any) -> dict[str, Any]:
    """What the dashboard's filters offer (squads, hours) and show (what was
    asked), and the recompute in progress that its figures may lag behind."""
    return {
        "squads": squad_names_for_team(team=team),
        "scope_values": {key: str(params.get(key, ""))[:200] for key in SCOPE_PARAMETERS},
        "hours_choices": Team.Hours.choices,
        # What the hours menu shows: as asked (when it reads), else the default.
        "hours_selected": params.get("hours") or team.default_hours,
        "run": team_recompute_run(team=team),
    }


@login_required
@require_safe
def team_dashboard(request: HttpRequest, team_slug: str) -> HttpResponse:
    membership = team_member(user=request.user, team_slug=team_slug)
    team = membership.team
    context: dict[str, Any] = {
        "team": team,
        "membership": membership,
        "repositories": metric_figures.repositories_for_team(team=team),
        "params": request.GET,
        # The GitHub people linked to this account: "yours" in the toolbar.
        "own_logins": list(
            members_for_team(team=team).filter(user=request.user).values_list("login", flat=True)
        ),
    }
    context.update(dashboard_scope_context(team=team, user=request.user, params=request.GET))
    try:
        asked, scope = _read_scope(request, team)
    except BadParameter as exc:
        context["error"] = str(exc)
        context["period_values"] = _period_values(request.GET, None)
        context["period_choices"] = _period_choices(context["period_values"])
        return render(request, "metrics/dashboard.html", context, status=400)
    figures = metric_figures.team_figures(
        team=team,
        request=asked,
        repository_ids=scope.repository_ids,
        now=timezone.now(),
        scope=scope,
    )
    phases = figures["phases_hours"]
    values = _period_values(request.GET, asked)
    context.update(
        {
            "asked": asked,
            "period_values": values,
            "period_choices": _period_choices(values),
            "figures": figures,
            "changes": _changes(figures),
            "query": _query(asked, scope),
            "scope": scope,
            "hours_selected": scope.hours,
            # The same figures for everyone: the "me" view's way back.
            "everyone_query": _query(asked, dataclasses.replace(scope, person="", person_id=None)),
            "drill": reverse("team_pull_requests", args=[team.slug]) + "?" + _query(asked, scope),
            "has_phases": phases["coding"] is not None,
            "chart_data": {
                "weekly": figures["weekly"],
                "phases": phases,
                "sizes": figures["sizes"],
                "reviewers": figures["reviewers"][:15],
                "hours": scope.hours,
                "drill": reverse("team_pull_requests", args=[team.slug])
                + "?"
                + _query(asked, scope),
            },
        }
    )
    return render(request, "metrics/dashboard.html", context)


def _drill_down(
    request: HttpRequest, team: Team
) -> tuple[Request, FigureScope, str, str, Any, str]:
    asked, scope = _read_scope(request, team)
    figure = request.GET.get("figure", "merged")
    value = request.GET.get("value", "")
    if len(figure) > 50 or len(value) > 200 or "\x00" in figure:
        raise BadParameter("'figure' or 'value' is not a known choice.")
    rows, order = metric_figures.pull_requests_behind(
        team=team,
        period=asked.period,
        repository_ids=scope.repository_ids,
        figure=figure,
        value=value,
        scope=scope,
    )
    return asked, scope, figure, value, rows, order


@login_required
@require_safe
def team_pull_requests(request: HttpRequest, team_slug: str) -> HttpResponse:
    membership = team_member(user=request.user, team_slug=team_slug)
    team = membership.team
    context: dict[str, Any] = {"team": team, "membership": membership, "params": request.GET}
    try:
        asked, scope, figure, value, rows, order = _drill_down(request, team)
    except BadParameter as exc:
        context["error"] = str(exc)
        return render(request, "metrics/pull_requests.html", context, status=400)
    page_number = request.GET.get("page", "1")
    page = Paginator(rows.values_list("id", flat=True), PAGE_SIZE).get_page(
        page_number if page_number.isascii() else 1
    )
    ids = list(page.object_list)
    details = {
        pr.id: pr
        for pr in metric_figures.with_details(PullRequest.objects.filter(team=team, id__in=ids))
    }
    page.object_list = [details[pk] for pk in ids if pk in details]
    columns = metric_figures.figure_rows(figure)
    for pr in page.object_list:
        # The durations in the hours asked for (calendar or working).
        pr.shown_hours = {name: getattr(pr, scope.column(name)) for name in SHOWN_DURATIONS}
    if columns in ("open", "waiting"):
        now = timezone.now()
        # So far, in the hours asked for (the team's working hours, or every hour).
        calendar = team_calendars(team)[scope.slot]
        for pr in page.object_list:
            since = pr.pr_created_at
            if columns == "waiting":
                since = pr.ready_for_review_at or pr.pr_created_at
            pr.waiting_since = since
            pr.waiting_hours = max(calendar.hours_between(since, now), 0.0) if since else None
    context.update(
        {
            "asked": asked,
            "figure": figure,
            "columns": columns,
            "order_label": order,
            "figure_label": metric_figures.FIGURES[figure],
            "value": value,
            "page": page,
            "query": _query(asked, scope, figure=figure, value=value),
            "dashboard_query": _query(asked, scope),
            "scope": scope,
        }
    )
    return render(request, "metrics/pull_requests.html", context)


CSV_COLUMNS = [
    "repository",
    "number",
    "title",
    "author",
    "state",
    "opened_at",
    "ready_for_review_at",
    "first_review_at",
    "first_approved_at",
    "merged_at",
    "closed_at",
    "cycle_time_hours",
    "coding_hours",
    "pickup_hours",
    "review_hours",
    "merge_hours",
    "additions",
    "deletions",
    "reviews",
    "is_revert",
    "is_hotfix",
    "url",
    # Which hours the durations are in: "calendar" or "working" (`hours=`).
    "hours",
    # The AI signals found, "" for none (docs/ai.md).
    "ai_assisted",
]
SHOWN_DURATIONS = ("cycle_time", "coding", "pickup", "review", "merge")


def _cell(value: Any) -> Any:
    """A CSV cell; text that a spreadsheet would run as a formula is quoted."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 3)
    return "" if value is None else value


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_rows(rows: Any, scope: FigureScope) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    column = scope.column
    for pr in rows.iterator(chunk_size=2000):
        yield writer.writerow(
            [
                _cell(value)
                for value in (
                    pr.repository.full_name if pr.repository else "",
                    pr.number,
                    pr.title,
                    pr.author.login if pr.author else "",
                    pr.state,
                    pr.pr_created_at,
                    pr.ready_for_review_at,
                    pr.first_review_at,
                    pr.first_approval_at,
                    pr.merged_at,
                    pr.closed_at,
                    getattr(pr, column("cycle_time")),
                    getattr(pr, column("coding")),
                    getattr(pr, column("pickup")),
                    getattr(pr, column("review")),
                    getattr(pr, column("merge")),
                    pr.additions,
                    pr.deletions,
                    pr.review_count,
                    pr.is_revert,
                    pr.is_hotfix,
                    pr.html_url,
                    scope.hours,
                    ai_signals_describe(pr.ai_signals),
                )
            ]
        )


@login_required
@require_safe
def team_pull_requests_csv(request: HttpRequest, team_slug: str) -> HttpResponse:
    membership = team_member(user=request.user, team_slug=team_slug)
    try:
        _asked, scope, figure, _value, rows, _order = _drill_down(request, membership.team)
    except BadParameter as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    response = StreamingHttpResponse(
        _csv_rows(metric_figures.with_details(rows).prefetch_related(None), scope),
        content_type="text/csv; charset=utf-8",
    )
    filename = f"{membership.team.slug}-{figure}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# --- API tokens ---------------------------------------------------------------


@login_required
@never_cache
def api_tokens(request: HttpRequest, team_slug: str) -> HttpResponse:
    membership = team_admin(user=request.user, team_slug=team_slug, reason=TOKENS_ADMINS_ONLY)
    team = membership.team
    new_token = None
    if request.method == "POST":
        name = request.POST.get("name", "").replace("\x00", "")
        try:
            _row, new_token = api_token_create(
                team=team,
                name=name,
                created_by=request.user,
                scopes=request.POST.getlist("scopes"),
            )
        except BadScopes as refused:
            messages.error(request, str(refused))
    elif request.method != "GET":
        return HttpResponse(status=405)
    return render(
        request,
        "metrics/api_tokens.html",
        {
            "team": team,
            "membership": membership,
            "tokens": api_tokens_for_team(team=team),
            "new_token": new_token,
            "scopes": APIToken.Scope.choices,
            "api_url": request.build_absolute_uri(reverse("team_metrics_api", args=[team.slug])),
        },
    )


@login_required
@require_POST
def api_token_revoke_view(request: HttpRequest, team_slug: str, pk: int) -> HttpResponse:
    membership = team_admin(user=request.user, team_slug=team_slug, reason=TOKENS_ADMINS_ONLY)
    row = api_token_revoke(team=membership.team, token_id=pk)
    messages.success(request, f"Revoked the token {row.name}.")
    return redirect("team_api_tokens", team_slug=team_slug)


# --- JSON API -------------------------------------------------------------------


@never_cache
@require_safe
def team_metrics_api(request: HttpRequest, team_slug: str) -> JsonResponse:
    team = api_team(request, team_slug)
    if isinstance(team, JsonResponse):
        return team
    try:
        asked, scope = _read_scope(request, team)
    except BadParameter as exc:
        return json_error(400, str(exc))
    figures = metric_figures.team_figures(
        team=team,
        request=asked,
        repository_ids=scope.repository_ids,
        now=timezone.now(),
        scope=scope,
    )
    return JsonResponse(figures, json_dumps_params={"ensure_ascii": False})

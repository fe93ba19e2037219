"""The team settings page: time zone, working week, holidays, default hours
and targets (docs/working-hours.md). Members read it; admins change it. A
change of the working-hours calendar queues a recompute of the team's stored
durations, whose progress the page shows."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from apps.metrics import figures as metric_figures
from apps.metrics.selectors import members_for_team
from apps.metrics.services.squads import SquadRefused, squad_create, squad_delete, squad_update
from apps.metrics.services.team_settings import team_recompute_run, team_settings_update
from apps.metrics.services.working_hours import supported_countries
from apps.metrics.squads import squad_json, squad_of_team, squads_for_team
from apps.teams.access import team_admin, team_member
from apps.teams.models import Team
from apps.teams.services.team_settings import (
    TARGET_METRICS,
    TARGET_PERCENTILES,
    TARGET_UNITS,
    SettingsRefused,
    team_settings_json,
)

SETTINGS_ADMINS_ONLY = "Only team admins can change the team's settings."
WEEKDAYS = ((1, "Mon"), (2, "Tue"), (3, "Wed"), (4, "Thu"), (5, "Fri"), (6, "Sat"), (7, "Sun"))


def _whole(text: str) -> int | str:
    """An ASCII whole number, or the text itself (refused by the reader)."""
    return int(text) if text.isascii() and text.isdigit() and len(text) < 6 else text


def _number(text: str) -> float | str:
    try:
        return float(text) if text.isascii() and len(text) < 20 else text
    except ValueError:
        return text


def _form_values(post: QueryDict) -> dict[str, Any]:
    """The page's form as the values the API takes (one reader for both)."""
    targets: dict[str, Any] = {}
    for metric in TARGET_METRICS:
        within = post.get(f"{metric}_within", "").strip()
        if within:
            targets[metric] = {
                "within": _number(within),
                "unit": post.get(f"{metric}_unit", ""),
                "percentile": _whole(post.get(f"{metric}_percentile", "50")),
            }
    return {
        "name": post.get("name", ""),
        "time_zone": post.get("time_zone", ""),
        "working_days": [_whole(day) for day in post.getlist("working_days")],
        "working_hours": {"start": post.get("work_start", ""), "end": post.get("work_end", "")},
        "holidays": [line.strip() for line in post.get("holidays", "").split() if line.strip()],
        "holiday_country": post.get("holiday_country", ""),
        "default_hours": post.get("default_hours", ""),
        "targets": targets,
    }


def _context(team: Team, values: dict[str, Any]) -> dict[str, Any]:
    targets = values.get("targets") or {}
    return {
        "values": values,
        "holidays_text": "\n".join(str(day) for day in values.get("holidays") or []),
        "weekdays": WEEKDAYS,
        "countries": supported_countries(),
        "hours_choices": Team.Hours.choices,
        "target_rows": [
            {
                "metric": metric,
                "label": label,
                "target": targets.get(metric) or {},
            }
            for metric, label in TARGET_METRICS.items()
        ],
        "target_units": TARGET_UNITS.items(),
        "target_percentiles": TARGET_PERCENTILES,
        "run": team_recompute_run(team=team),
    }


@login_required
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def team_settings(request: HttpRequest, team_slug: str) -> HttpResponse:
    if request.method == "POST":
        membership = team_admin(user=request.user, team_slug=team_slug, reason=SETTINGS_ADMINS_ONLY)
    else:
        membership = team_member(user=request.user, team_slug=team_slug)
    team = membership.team
    status = 200
    values = team_settings_json(team)
    if request.method == "POST":
        sent = _form_values(request.POST)
        try:
            run = team_settings_update(team=team, values=sent)
        except SettingsRefused as refused:
            messages.error(request, f"Not saved: {refused.field} {refused.message}")
            values, status = {**sent, "holidays": sent["holidays"]}, 400
        else:
            note = " Durations are being recomputed in working hours." if run else ""
            messages.success(request, "Settings saved." + note)
            return redirect("team_settings", team_slug=team.slug)
    context = {"team": team, "membership": membership, **_context(team, values)}
    # While a recompute runs, the page reloads itself to show its progress
    # (not after a refused form, whose values would be lost).
    context["reload"] = context["run"] is not None and request.method != "POST"
    return render(request, "metrics/team_settings.html", context, status=status)


# --- squads and "me" ------------------------------------------------------------

SQUADS_ADMINS_ONLY = "Only team admins can change the team's squads."


def _squad_form_values(post: QueryDict) -> dict[str, Any]:
    return {
        "name": post.get("name", ""),
        "members": post.getlist("members"),
        "repositories": post.getlist("repositories"),
    }


def _squads_page(
    request: HttpRequest, membership: Any, *, status: int = 200, sent: dict[str, Any] | None = None
) -> HttpResponse:
    team = membership.team
    return render(
        request,
        "metrics/team_squads.html",
        {
            "team": team,
            "membership": membership,
            "squads": [squad_json(squad) for squad in squads_for_team(team=team)],
            "people": list(
                members_for_team(team=team)
                .filter(is_bot=False, is_deleted_account=False)
                .order_by("login")
                .values_list("login", flat=True)
            ),
            "repositories": metric_figures.repositories_for_team(team=team),
            "sent": sent or {"name": "", "members": [], "repositories": []},
        },
        status=status,
    )


@login_required
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def team_squads(request: HttpRequest, team_slug: str) -> HttpResponse:
    """The team's squads; admins add one (POST)."""
    if request.method != "POST":
        return _squads_page(request, team_member(user=request.user, team_slug=team_slug))
    membership = team_admin(user=request.user, team_slug=team_slug, reason=SQUADS_ADMINS_ONLY)
    sent = _squad_form_values(request.POST)
    try:
        squad = squad_create(team=membership.team, values=sent)
    except SquadRefused as refused:
        messages.error(request, f"Not saved: {refused.field} {refused.message}")
        return _squads_page(request, membership, status=400, sent=sent)
    messages.success(request, f"Added the squad {squad.name}.")
    return redirect("team_squads", team_slug=team_slug)


@login_required
@require_POST
def team_squad_edit(request: HttpRequest, team_slug: str, squad_id: int) -> HttpResponse:
    """Change (or, with ``delete``, remove) one of the team's squads."""
    membership = team_admin(user=request.user, team_slug=team_slug, reason=SQUADS_ADMINS_ONLY)
    squad = squad_of_team(team=membership.team, squad_id=squad_id)
    if "delete" in request.POST:
        squad_delete(squad=squad)
        messages.success(request, f"Removed the squad {squad.name}.")
        return redirect("team_squads", team_slug=team_slug)
    try:
        squad_update(squad=squad, values=_squad_form_values(request.POST))
    except SquadRefused as refused:
        messages.error(request, f"Not saved: {refused.field} {refused.message}")
        return _squads_page(request, membership, status=400)
    messages.success(request, f"Saved the squad {squad.name}.")
    return redirect("team_squads", team_slug=team_slug)


@login_required
@require_safe
def team_me(request: HttpRequest, team_slug: str) -> HttpResponse:
    """The dashboard of the signed-in person's own pull requests and reviews
    (``person=`` their linked GitHub login), or how to link one."""
    membership = team_member(user=request.user, team_slug=team_slug)
    login = (
        members_for_team(team=membership.team)
        .filter(user=request.user)
        .values_list("login", flat=True)
        .first()
    )
    if login is None:
        return render(
            request,
            "metrics/team_me_unlinked.html",
            {"team": membership.team, "membership": membership},
        )
    # The period and hours asked for stay; the squad does not (it is one person).
    params = request.GET.copy()
    params.pop("squad", None)
    params["person"] = login
    return redirect(reverse("team_dashboard", args=[team_slug]) + "?" + params.urlencode())

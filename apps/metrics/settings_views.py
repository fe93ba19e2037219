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
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from apps.metrics.services.team_settings import team_recompute_run, team_settings_update
from apps.metrics.services.working_hours import supported_countries
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
@require_http_methods(["GET", "POST"])
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
    return render(request, "metrics/team_settings.html", context, status=status)

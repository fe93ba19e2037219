"""Changing a team's settings (apps/teams/services/team_settings.py reads and
writes them): a change of its working-hours calendar recomputes the durations
stored on its pull requests, in the background, once the change commits."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Q

from apps.metrics.models import RecomputeRun
from apps.metrics.services.recompute import recompute_queue
from apps.teams.models import Team
from apps.teams.services.team_settings import team_settings_read, team_settings_set


def team_settings_update(*, team: Team, values: dict[str, Any]) -> RecomputeRun | None:
    """Apply the settings sent (SettingsRefused for a bad one, nothing written);
    the recompute run queued when the calendar changed, else None."""
    fields = team_settings_read(values)
    with transaction.atomic():
        if not team_settings_set(team=team, fields=fields):
            return None
        return recompute_queue(team=team, reason="the team's working hours changed")


def team_recompute_run(*, team: Team) -> RecomputeRun | None:
    """The team's run in progress (its own, or one over every team), if any:
    what the settings page shows and the dashboard warns about."""
    return (
        RecomputeRun.objects.filter(status__in=RecomputeRun.ACTIVE)
        .filter(Q(team=team) | Q(team__isnull=True))
        .order_by("pk")
        .first()
    )

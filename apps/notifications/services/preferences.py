"""A team's and its squads' notification settings, saved."""

from __future__ import annotations

from typing import Any

from apps.metrics.models import Squad
from apps.notifications.models import NotificationSettings, SquadNotificationSettings
from apps.teams.models import Team


def notification_settings_save(*, team: Team, values: dict[str, Any]) -> NotificationSettings:
    """Store the team's settings (validated by the caller's form)."""
    settings, _ = NotificationSettings.objects.update_or_create(team=team, defaults=values)
    return settings


def squad_notification_settings_save(
    *, squad: Squad, values: dict[str, Any]
) -> SquadNotificationSettings:
    """Store the squad's settings (validated by the caller's form)."""
    settings, _ = SquadNotificationSettings.objects.update_or_create(squad=squad, defaults=values)
    return settings

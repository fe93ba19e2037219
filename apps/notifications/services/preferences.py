"""A team's notification settings, saved."""

from __future__ import annotations

from typing import Any

from apps.notifications.models import NotificationSettings
from apps.teams.models import Team


def notification_settings_save(*, team: Team, values: dict[str, Any]) -> NotificationSettings:
    """Store the team's settings (validated by the caller's form)."""
    settings, _ = NotificationSettings.objects.update_or_create(team=team, defaults=values)
    return settings

"""Reads of the notifications' rows for its pages."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from apps.metrics.models import Squad
from apps.metrics.squads import squads_for_team
from apps.notifications.models import (
    NotificationSettings,
    OutboundDelivery,
    SlackConnection,
    SlackMessage,
    SlackPerson,
    SquadNotificationSettings,
    WebhookEndpoint,
)
from apps.teams.models import Team
from apps.teams.selectors import team_memberships

# The Slack and webhooks pages show this many recent messages and deliveries.
RECENT = 50


@dataclass(frozen=True)
class PersonRow:
    user: AbstractBaseUser
    role: str
    slack: SlackPerson | None


def slack_connection_of(*, team: Team) -> SlackConnection | None:
    return SlackConnection.objects.filter(team=team).first()


def slack_people_rows(*, team: Team) -> list[PersonRow]:
    """Every member of the team, with their Slack user when they have one."""
    linked = {p.user_id: p for p in SlackPerson.objects.filter(team=team)}
    return [
        PersonRow(user=m.user, role=m.get_role_display(), slack=linked.get(m.user_id))
        for m in team_memberships(team=team)
    ]


def slack_person_of(*, team_id: int, user_id: int) -> SlackPerson | None:
    return SlackPerson.objects.filter(team_id=team_id, user_id=user_id).first()


def notification_settings_of(*, team: Team) -> NotificationSettings:
    """The team's settings; the defaults (unsaved) when it never changed them."""
    return NotificationSettings.objects.filter(team=team).first() or NotificationSettings(team=team)


@dataclass(frozen=True)
class SquadRow:
    squad: Squad
    settings: SquadNotificationSettings
    time_zone: str

    @property
    def direct_value(self) -> str:
        """The squad's direct-message switch as its select sends it."""
        direct = self.settings.nudge_waiting_direct
        return "" if direct is None else ("true" if direct else "false")


def squad_notification_rows(*, team: Team) -> list[SquadRow]:
    """Every squad of the team with its settings (the defaults, unsaved, when
    it never changed them) and the time zone its digest is in."""
    saved = {s.squad_id: s for s in SquadNotificationSettings.objects.filter(squad__team=team)}
    rows = []
    for squad in squads_for_team(team=team):
        settings = saved.get(squad.pk) or SquadNotificationSettings(squad=squad)
        rows.append(
            SquadRow(squad=squad, settings=settings, time_zone=settings.time_zone or team.time_zone)
        )
    return rows


def slack_messages_recent(*, team: Team, direct: bool) -> QuerySet[SlackMessage]:
    """The latest messages; direct ones (someone was asked the merge question)
    only when ``direct`` (for admins)."""
    found = SlackMessage.objects.filter(team=team)
    if not direct:
        found = found.filter(is_direct=False)
    return found.select_related("pull_request__repository")[:RECENT]


def webhook_endpoints_of(*, team: Team) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(team=team)


def webhook_deliveries_recent(*, endpoint: WebhookEndpoint) -> QuerySet[OutboundDelivery]:
    return endpoint.deliveries.all()[:RECENT]

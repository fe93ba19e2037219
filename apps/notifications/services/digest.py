"""The weekly digest: once a week, at the team's chosen weekday and time in its
time zone, the last seven whole days' figures against the seven before, the
pull requests waiting longest, the team's targets met or missed, and
deployments where the figures have them, posted to the team's chosen channel.
Each squad may have its own: its figures (the JSON API's ``squad=``), to its
channel, at its weekday and time in its own time zone (the team's when it has
none).

The figures are `team_figures` of the JSON API for the same days (``from``,
``to``, and ``squad``: read by the API's own `figure_scope_read`), so the
digest says what ``GET /api/teams/<slug>/metrics/`` says. A digest's key is its
team (or squad) and local date, so two beat ticks (or two beat processes) post
it once."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, time, timedelta
from typing import Any

from django.utils import timezone

from apps.metrics.figures import team_figures
from apps.metrics.models import Squad
from apps.metrics.periods import request_read
from apps.metrics.scope import figure_scope_read
from apps.notifications.models import (
    NotificationSettings,
    SlackConnection,
    SlackMessage,
    SquadNotificationSettings,
)
from apps.notifications.services.messages import Outgoing, slack_message_queue
from apps.notifications.services.slack_api import slack_escape, slack_link
from apps.teams.models import Team

# The digest lists this many of the pull requests waiting longest.
WAITING_SHOWN = 5


def digest_figures(
    *, team: Team, today_local: datetime, squad: Squad | None = None
) -> dict[str, Any]:
    """The JSON API's figures for the seven whole days before ``today_local``
    (days as the API counts them, in the team's time zone), of the squad's pull
    requests when one is given: what ``?from=…&to=…&squad=<name>`` answers."""
    end = today_local.date() - timedelta(days=1)
    start = end - timedelta(days=6)
    request = request_read(
        params={"from": [start.isoformat()], "to": [end.isoformat()]},
        time_zone=str(team.tzinfo),
        today=today_local.date(),
    )
    scope = figure_scope_read(
        team=team,
        period=request.period,
        repository_ids=None,
        params={"squad": [squad.name]} if squad is not None else {},
    )
    return team_figures(
        team=team,
        request=request,
        repository_ids=scope.repository_ids,
        now=timezone.now(),
        scope=scope,
    )


def _number(value: Any, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.1f}{unit}"
    return f"{value}{unit}"


def _change(now: Any, before: Any, unit: str = "") -> str:
    return f"{_number(now, unit)} (week before: {_number(before, unit)})"


def _deployments(figures: dict[str, Any]) -> list[str]:
    """The deployments' figures, when the JSON API has them (issue "deployments")."""
    found = figures.get("deployments")
    if not isinstance(found, dict):
        return []
    shown = [
        f"{key.replace('_', ' ')}: {_number(value)}"
        for key, value in found.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    ]
    return [f"• Deployments: {' · '.join(shown)}"] if shown else []


def _targets(figures: dict[str, Any]) -> list[str]:
    """The team's targets (its Settings page) as the JSON API judges them."""
    found = figures.get("targets")
    if not isinstance(found, dict):
        return []
    lines = []
    for metric, target in found.items():
        if not isinstance(target, dict):
            continue
        label = slack_escape(str(target.get("label") or metric))
        met = target.get("met")
        verdict = "nothing measured" if met is None else ("met" if met else "missed")
        count = target.get("count")
        within = f" ({target.get('count_within')} of {count} within)" if count else ""
        lines.append(f"• Target {label}: {verdict}{within}")
    return lines


def digest_text(*, team: Team, figures: dict[str, Any], squad: Squad | None = None) -> str:
    current, previous = figures, figures["previous"]
    period = figures["period"]
    title = slack_escape(team.name) + (f" · {slack_escape(squad.name)}" if squad else "")
    lines = [
        f"*Weekly digest · {title}* ({period['from']} to {period['to']}, {period['time_zone']})",
        "• Merged: "
        + _change(current["pull_requests"]["merged"], previous["pull_requests"]["merged"]),
        "• Opened: "
        + _change(current["pull_requests"]["opened"], previous["pull_requests"]["opened"]),
        "• Cycle time, median: "
        + _change(
            current["cycle_time_hours"]["median"], previous["cycle_time_hours"]["median"], " h"
        ),
        "• Time to first review, median: "
        + _change(
            current["time_to_first_review_hours"]["median"],
            previous["time_to_first_review_hours"]["median"],
            " h",
        ),
        "• Reverts: "
        + _change(current["reverts"]["count"], previous["reverts"]["count"])
        + " · hotfixes: "
        + _change(current["hotfixes"]["count"], previous["hotfixes"]["count"]),
        *_targets(figures),
        *_deployments(figures),
    ]
    waiting = figures.get("waiting_for_review") or []
    if waiting:
        lines.append("*Waiting longest for a first review*")
        for pr in waiting[:WAITING_SHOWN]:
            name = f"{pr['repository']}#{pr['number']}"
            link = slack_link(pr.get("html_url") or "", name)
            title, author = slack_escape(pr["title"] or ""), slack_escape(pr["author"] or "?")
            lines.append(f"• {link} {title} by {author}: {pr['hours_waiting']:.0f} h")
    else:
        lines.append("Nothing is waiting for a first review.")
    return "\n".join(lines)


def _due_today(
    *, now: datetime, zone: zoneinfo.ZoneInfo, weekday: int, at: time
) -> datetime | None:
    """The local moment in ``zone`` when the weekday and time have come, else None."""
    local = now.astimezone(zone)
    if local.weekday() != weekday or local.time() < at:
        return None
    return local


def _zone(name: str, fallback: zoneinfo.ZoneInfo) -> zoneinfo.ZoneInfo:
    if not name:
        return fallback
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return fallback


def _connected(team: Team) -> bool:
    return SlackConnection.objects.filter(
        team=team, status=SlackConnection.Status.CONNECTED
    ).exists()


def _post(*, team: Team, key: str, channel: str, text: str) -> None:
    slack_message_queue(
        team_id=team.pk,
        message=Outgoing(
            key=key,
            kind=SlackMessage.Kind.DIGEST,
            channel=channel,
            text=text,
            blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}],
        ),
    )


def digests_due(*, now: datetime | None = None) -> int:
    """Queue the digest of every team and squad whose weekday and time have
    come today (in its time zone) and whose digest of today is not queued yet."""
    now = now or timezone.now()
    queued = 0
    chosen = NotificationSettings.objects.filter(digest_on=True).exclude(digest_channel="")
    for settings in chosen.select_related("team"):
        team = settings.team
        local = _due_today(
            now=now, zone=team.tzinfo, weekday=settings.digest_weekday, at=settings.digest_time
        )
        if local is None:
            continue
        key = f"digest:{local.date().isoformat()}"
        if SlackMessage.objects.filter(team=team, key=key).exists() or not _connected(team):
            continue
        figures = digest_figures(team=team, today_local=local)
        _post(
            team=team,
            key=key,
            channel=settings.digest_channel,
            text=digest_text(team=team, figures=figures),
        )
        queued += 1
    squads = SquadNotificationSettings.objects.filter(digest_on=True).exclude(digest_channel="")
    for squad_settings in squads.select_related("squad__team"):
        squad, team = squad_settings.squad, squad_settings.squad.team
        local = _due_today(
            now=now,
            zone=_zone(squad_settings.time_zone, team.tzinfo),
            weekday=squad_settings.digest_weekday,
            at=squad_settings.digest_time,
        )
        if local is None:
            continue
        key = f"digest:squad:{squad.pk}:{local.date().isoformat()}"
        if SlackMessage.objects.filter(team=team, key=key).exists() or not _connected(team):
            continue
        figures = digest_figures(team=team, today_local=local, squad=squad)
        _post(
            team=team,
            key=key,
            channel=squad_settings.digest_channel,
            text=digest_text(team=team, figures=figures, squad=squad),
        )
        queued += 1
    return queued

"""Nudges to the team's Slack channel, each sent once, never for history:

- **merged without review**: on a live `merged` event of a pull request with no
  review that counts (``first_review_at`` empty: docs/metrics.md);
- **large pull request**: on a live `opened` event of a pull request of more
  changed lines (additions + deletions) than the team's threshold;
- **waiting for a first review**: a beat task finds open, ready pull requests
  without a first review whose wait since they became ready (or were opened),
  counted in working hours, reached the team's target; only when that start was
  a live event (history's pull requests are never nudged); counted in the
  target's own unit (working hours in the team's calendar, or plain hours).

Each message's key is its kind, the pull request and the lifecycle event that
caused it (for a wait: the live event it started with), so a redelivered or
recovered delivery, the sweeper and two workers make one message; a pull
request back to draft and ready again starts a new wait. Whether each kind is
on, the channel, the threshold and the target are the team's settings."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Exists, OuterRef
from django.utils import timezone

from apps.metrics.models import PullRequest, PullRequestEvent
from apps.notifications.models import NotificationSettings, SlackConnection, SlackMessage
from apps.notifications.services import calendar
from apps.notifications.services.messages import Outgoing, slack_message_queue
from apps.notifications.services.slack_api import slack_escape, slack_link

Kind = PullRequestEvent.Kind
MessageKind = SlackMessage.Kind


def _settings(team_id: int) -> NotificationSettings | None:
    """The team's settings when it has a working Slack and a nudge channel."""
    settings = NotificationSettings.objects.filter(team_id=team_id).first()
    if settings is None or not settings.nudge_channel:
        return None
    if not SlackConnection.objects.filter(
        team_id=team_id, status=SlackConnection.Status.CONNECTED
    ).exists():
        return None
    return settings


def _link(pr: PullRequest) -> str:
    name = f"{pr.repository.full_name if pr.repository else ''}#{pr.number}"
    return slack_link(pr.html_url, f"{name} {pr.title}".strip())


def _author(pr: PullRequest) -> str:
    return slack_escape(pr.author.login) if pr.author else "someone"


def _queue(
    *, pr: PullRequest, settings: NotificationSettings, kind: str, event_id: int, text: str
) -> SlackMessage:
    return slack_message_queue(
        team_id=pr.team_id,
        message=Outgoing(
            key=f"nudge:{kind}:{pr.pk}:{event_id}",
            kind=kind,
            channel=settings.nudge_channel,
            text=text,
            pull_request_id=pr.pk,
        ),
    )


def nudges_on_event(event: PullRequestEvent) -> None:
    """Lifecycle consumer of live `opened` and `merged` events."""
    if not event.live:
        return
    settings = _settings(event.team_id)
    if settings is None:
        return
    pr = PullRequest.objects.select_related("repository", "author").get(pk=event.pull_request_id)
    unreviewed = pr.first_review_at is None
    if event.kind == Kind.MERGED and settings.nudge_merged_unreviewed_on and unreviewed:
        _queue(
            pr=pr,
            settings=settings,
            kind=MessageKind.MERGED_UNREVIEWED,
            event_id=event.pk,
            text=f":warning: {_link(pr)} by {_author(pr)} was merged without any review.",
        )
    if event.kind == Kind.OPENED and settings.nudge_large_on and not pr.is_draft:
        lines = (pr.additions or 0) + (pr.deletions or 0)
        if lines > settings.large_pr_lines:
            _queue(
                pr=pr,
                settings=settings,
                kind=MessageKind.LARGE,
                event_id=event.pk,
                text=(
                    f":straight_ruler: {_link(pr)} by {_author(pr)} was opened with {lines} "
                    f"changed lines (the team's threshold is {settings.large_pr_lines}): "
                    "smaller pull requests are reviewed sooner and better."
                ),
            )


def _wait_start(pr: PullRequest) -> PullRequestEvent | None:
    """The live event the current wait started with: the latest ready_for_review,
    else the opening; None when it was history."""
    return (
        PullRequestEvent.objects.filter(
            pull_request=pr, kind__in=[Kind.READY_FOR_REVIEW, Kind.OPENED]
        )
        .order_by("-occurred_at", "-pk")
        .first()
    )


def nudges_waiting_scan(*, now: datetime | None = None) -> int:
    """Nudge the open, ready pull requests waiting past the first-review target,
    of every team with the nudge on. How many messages were queued."""
    now = now or timezone.now()
    queued = 0
    teams = NotificationSettings.objects.filter(nudge_waiting_on=True).exclude(nudge_channel="")
    for settings in teams.select_related("team"):
        team = settings.team
        if _settings(team.pk) is None:
            continue
        if not calendar.in_working_hours(at=now, calendar=calendar.team_calendar(team=team)):
            continue
        target = calendar.first_review_target(team=team)
        waiting = (
            PullRequest.objects.filter(
                team=team, state=PullRequest.State.OPEN, is_draft=False, first_review_at=None
            )
            .filter(Exists(PullRequestEvent.objects.filter(pull_request=OuterRef("pk"), live=True)))
            .select_related("repository", "author")
        )
        for pr in waiting:
            start = _wait_start(pr)
            if start is None or not start.live:
                continue
            hours = target.calendar.hours_between(start.occurred_at, now)
            if hours < target.hours:
                continue
            message = _queue(
                pr=pr,
                settings=settings,
                kind=MessageKind.WAITING,
                event_id=start.pk,
                text=(
                    f":hourglass: {_link(pr)} by {_author(pr)} has waited for a first review "
                    f"longer than the team's target ({target.label})."
                ),
            )
            # The key keeps it once: a pull request nudged for this wait is left as it is.
            queued += message.created_at >= now
    return queued

"""Nudges to Slack, each sent once per cause and destination, never for history:

- **merged without review**: on a live `merged` event of a pull request with no
  review that counts (``first_review_at`` empty: docs/metrics.md);
- **large pull request**: on a live `opened` event of a pull request of more
  changed lines (additions + deletions) than the team's threshold;
- **waiting for a first review**: a beat task finds open, ready pull requests
  without a first review whose wait since they became ready (or were opened),
  counted in working hours, reached the team's target; only when that start was
  a live event (history's pull requests are never nudged); counted in the
  target's own unit (working hours in the team's calendar, or plain hours).
  Posted to each channel within that channel's working hours, and sent as a
  direct message to each requested reviewer with a Slack user within theirs.

**Where.** A pull request's squads (`apps.metrics.scope.squads_of_pull_request`:
the squads whose figures count it) each take a nudge in their own channel when
they have one and the kind is on for them; when none does, the team's channel
takes it (when the kind is on for the team). Two squads naming the same channel
make one message. The requested reviewers are told directly as the pull
request's squads that have their own say decide (yes when one says yes), else
as the team's switch.

Each message's key is its kind, the pull request, the lifecycle event that
caused it (for a wait: the live event it started with) and its destination
(the channel, or the reviewer's Slack user), so a redelivered or recovered
delivery, the sweeper, two workers and two passes of the beat task make one
message per destination; a pull request back to draft and ready again starts a
new wait."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from apps.metrics.models import PullRequest, PullRequestEvent, Squad, TeamMember
from apps.metrics.scope import SquadRule, squad_rule
from apps.metrics.services.working_hours import WorkingHours
from apps.notifications.models import (
    NotificationSettings,
    SlackConnection,
    SlackMessage,
    SlackPerson,
    SquadNotificationSettings,
)
from apps.notifications.services import calendar
from apps.notifications.services.messages import Outgoing, slack_message_queue
from apps.notifications.services.slack_api import slack_escape, slack_link
from apps.teams.models import Team

Kind = PullRequestEvent.Kind
MessageKind = SlackMessage.Kind

# Each nudge kind's on/off field, the same name on the team's and a squad's settings.
SWITCH = {
    MessageKind.WAITING: "nudge_waiting_on",
    MessageKind.MERGED_UNREVIEWED: "nudge_merged_unreviewed_on",
    MessageKind.LARGE: "nudge_large_on",
}


@dataclass(frozen=True)
class Destination:
    """A channel a nudge goes to, and the working hours a wait is posted in."""

    channel: str
    hours: WorkingHours


@dataclass
class Told:
    """A team's notification settings, with its squads': read once per event
    or per pass of the beat task."""

    team: Team
    settings: NotificationSettings
    # Squads with a nudge channel or their own say on direct messages: their
    # rule and settings.
    squads: list[tuple[SquadRule, SquadNotificationSettings]]
    _hours: dict[str, WorkingHours]

    def hours(self, time_zone: str) -> WorkingHours:
        if time_zone not in self._hours:
            self._hours[time_zone] = calendar.calendar_in_zone(team=self.team, time_zone=time_zone)
        return self._hours[time_zone]

    def destinations(self, *, pr: PullRequest, kind: str) -> list[Destination]:
        """The channels of the pull request's squads that take this kind, else
        the team's when it takes it."""
        switch = SWITCH[kind]
        found: dict[str, Destination] = {}
        for rule, squad in self.squads:
            if not squad.nudge_channel or not getattr(squad, switch):
                continue
            if not rule.holds(author_id=pr.author_id, repository_id=pr.repository_id):
                continue
            found.setdefault(
                squad.nudge_channel, Destination(squad.nudge_channel, self.hours(squad.time_zone))
            )
        if not found and self.settings.nudge_channel and getattr(self.settings, switch):
            found[self.settings.nudge_channel] = Destination(
                self.settings.nudge_channel, self.hours("")
            )
        return list(found.values())

    def tells_reviewers(self, *, pr: PullRequest) -> bool:
        """Whether the pull request's requested reviewers are told directly: as
        its squads that say so decide (yes when one of them does), else as the
        team's switch."""
        said = [
            squad.nudge_waiting_direct
            for rule, squad in self.squads
            if squad.nudge_waiting_direct is not None
            and rule.holds(author_id=pr.author_id, repository_id=pr.repository_id)
        ]
        return any(said) if said else self.settings.nudge_waiting_direct_on

    @property
    def anything_on(self) -> bool:
        team = self.settings
        return bool(
            self.squads
            or team.nudge_waiting_direct_on
            or (
                team.nudge_channel
                and (
                    team.nudge_waiting_on or team.nudge_merged_unreviewed_on or team.nudge_large_on
                )
            )
        )


def _told(team: Team) -> Told | None:
    """What the team wants to be told, when it has a working Slack."""
    if not SlackConnection.objects.filter(
        team=team, status=SlackConnection.Status.CONNECTED
    ).exists():
        return None
    settings = NotificationSettings.objects.filter(team=team).first() or NotificationSettings(
        team=team
    )
    squads = (
        Squad.objects.filter(team=team, notification_settings__isnull=False)
        .filter(
            ~Q(notification_settings__nudge_channel="")
            | Q(notification_settings__nudge_waiting_direct__isnull=False)
        )
        .select_related("notification_settings")
        .prefetch_related("members", "repositories")
        .order_by("name")
    )
    return Told(
        team=team,
        settings=settings,
        squads=[(squad_rule(squad), squad.notification_settings) for squad in squads],
        _hours={},
    )


def _link(pr: PullRequest) -> str:
    name = f"{pr.repository.full_name if pr.repository else ''}#{pr.number}"
    return slack_link(pr.html_url, f"{name} {pr.title}".strip())


def _author(pr: PullRequest) -> str:
    return slack_escape(pr.author.login) if pr.author else "someone"


def _queue(
    *, pr: PullRequest, kind: str, event_id: int, channel: str, text: str, direct: bool = False
) -> SlackMessage:
    return slack_message_queue(
        team_id=pr.team_id,
        message=Outgoing(
            key=f"nudge:{kind}:{pr.pk}:{event_id}:{channel}",
            kind=kind,
            channel=channel,
            is_direct=direct,
            text=text,
            pull_request_id=pr.pk,
        ),
    )


def _post(*, told: Told, pr: PullRequest, kind: str, event_id: int, text: str) -> None:
    for destination in told.destinations(pr=pr, kind=kind):
        _queue(pr=pr, kind=kind, event_id=event_id, channel=destination.channel, text=text)


def nudges_on_event(event: PullRequestEvent) -> None:
    """Lifecycle consumer of live `opened` and `merged` events."""
    if not event.live:
        return
    # Whether the team has Slack first: most events end here, and loading the
    # pull request first cost 2 ms an event in bench/bench_drain.py.
    told = _told(event.team)
    if told is None:
        return
    pr = PullRequest.objects.select_related("team", "repository", "author").get(
        pk=event.pull_request_id
    )
    if event.kind == Kind.MERGED and pr.first_review_at is None:
        _post(
            told=told,
            pr=pr,
            kind=MessageKind.MERGED_UNREVIEWED,
            event_id=event.pk,
            text=f":warning: {_link(pr)} by {_author(pr)} was merged without any review.",
        )
    if event.kind == Kind.OPENED and not pr.is_draft:
        lines = (pr.additions or 0) + (pr.deletions or 0)
        threshold = told.settings.large_pr_lines
        if lines > threshold:
            _post(
                told=told,
                pr=pr,
                kind=MessageKind.LARGE,
                event_id=event.pk,
                text=(
                    f":straight_ruler: {_link(pr)} by {_author(pr)} was opened with {lines} "
                    f"changed lines (the team's threshold is {threshold}): "
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


def requested_reviewers_in_slack(*, pr: PullRequest) -> list[SlackPerson]:
    """The pull request's requested reviewers (as its newest snapshot lists
    them) whose GitHub person is linked to an account with a Slack user."""
    ids = [
        reviewer["github_id"]
        for reviewer in pr.requested_reviewers or []
        if isinstance(reviewer, dict) and isinstance(reviewer.get("github_id"), int)
    ]
    if not ids:
        return []
    accounts = TeamMember.objects.filter(
        team_id=pr.team_id, github_id__in=ids, user__isnull=False
    ).values("user_id")
    return list(
        SlackPerson.objects.filter(team_id=pr.team_id, user_id__in=accounts).order_by(
            "slack_user_id"
        )
    )


def _waiting(team: Team) -> Iterable[PullRequest]:
    return (
        PullRequest.objects.filter(
            team=team, state=PullRequest.State.OPEN, is_draft=False, first_review_at=None
        )
        .filter(Exists(PullRequestEvent.objects.filter(pull_request=OuterRef("pk"), live=True)))
        .select_related("repository", "author")
    )


def nudges_waiting_scan(*, now: datetime | None = None) -> int:
    """Nudge the open, ready pull requests waiting past the first-review target,
    of every team with Slack connected: in the channels that take them, within
    each channel's working hours, and the requested reviewers directly, within
    theirs. How many messages were queued."""
    now = now or timezone.now()
    queued = 0
    connected = SlackConnection.objects.filter(status=SlackConnection.Status.CONNECTED)
    for connection in connected.select_related("team"):
        told = _told(connection.team)
        if told is None or not told.anything_on:
            continue
        target = calendar.first_review_target(team=told.team)
        for pr in _waiting(told.team):
            start = _wait_start(pr)
            if start is None or not start.live:
                continue
            if target.calendar.hours_between(start.occurred_at, now) < target.hours:
                continue
            said = (
                f"{_link(pr)} by {_author(pr)} has waited for a first review "
                f"longer than the team's target ({target.label})"
            )
            messages = [
                _queue(
                    pr=pr,
                    kind=MessageKind.WAITING,
                    event_id=start.pk,
                    channel=destination.channel,
                    text=f":hourglass: {said}.",
                )
                for destination in told.destinations(pr=pr, kind=MessageKind.WAITING)
                if calendar.in_working_hours(at=now, calendar=destination.hours)
            ]
            if told.tells_reviewers(pr=pr):
                # Made only within the reviewer's working hours (not held until
                # then): a pull request reviewed overnight is not nudged.
                messages += [
                    _queue(
                        pr=pr,
                        kind=MessageKind.WAITING,
                        event_id=start.pk,
                        channel=person.slack_user_id,
                        direct=True,
                        text=f":hourglass: {said}: you are asked to review it.",
                    )
                    for person in requested_reviewers_in_slack(pr=pr)
                    if calendar.in_working_hours(at=now, calendar=told.hours(person.time_zone))
                ]
            # The key keeps each once: a message made for this wait is left as it is.
            queued += sum(message.created_at >= now for message in messages)
    return queued

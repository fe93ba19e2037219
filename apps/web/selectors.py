"""Reads that combine the apps' selectors for the team pages: what the team
should do next, and a summary of its numbers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Avg, Count, Q
from django.urls import reverse
from django.utils import timezone

from apps.integrations.selectors import team_installations
from apps.metrics.selectors import members_for_team, pull_requests_for_team
from apps.teams.models import Team

# The steps from an empty team to its numbers, in order: (key, label).
STEPS = (
    ("connect", "Connect GitHub"),
    ("repositories", "Choose repositories"),
    ("history", "History loading"),
    ("numbers", "Numbers"),
)


@dataclass(frozen=True)
class NextStep:
    """What the team should do next; ``key`` is one of STEPS' keys."""

    key: str
    title: str
    text: str
    url: str
    action: str
    admin_only: bool

    @property
    def steps(self) -> list[tuple[str, str]]:
        """(label, "done" | "current" | "") for each step, for the panel."""
        current = [key for key, _ in STEPS].index(self.key)
        return [
            (label, "done" if i < current else "current" if i == current else "")
            for i, (_, label) in enumerate(STEPS)
        ]


def history_loaded(*, team: Team) -> bool:
    """Whether any tracked repository of the team has pull requests yet.

    The one place that decides "history is still loading": a record of history
    runs will answer it more precisely."""
    return pull_requests_for_team(team=team).filter(repository__tracked=True).exists()


def team_next_step(*, team: Team) -> NextStep | None:
    """The team's next step towards its numbers, or None once it has them."""
    settings_url = reverse("github_settings", kwargs={"team_slug": team.slug})
    installations = [i for i in team_installations(team=team) if i.deleted_at is None]
    if not installations:
        return NextStep(
            key="connect",
            title="Connect a GitHub organisation",
            text=(
                "Install the tformance GitHub App on your organisation and choose the "
                "repositories it may read. Pull requests and reviews then arrive on their own."
            ),
            url=settings_url,
            action="Connect GitHub",
            admin_only=True,
        )
    tracked = [
        repository
        for installation in installations
        for repository in installation.repositories.all()
        if repository.tracked
    ]
    if not tracked:
        return NextStep(
            key="repositories",
            title="Choose the repositories to track",
            text=(
                "GitHub is connected. Press Track next to each repository whose pull "
                "requests should count; the others are stored and ignored."
            ),
            url=settings_url,
            action="Choose repositories",
            admin_only=True,
        )
    if not history_loaded(team=team):
        names = ", ".join(sorted(repository.full_name for repository in tracked)[:3])
        return NextStep(
            key="history",
            title="Loading the pull request history",
            text=(
                f"Tracking {names}{' and more' if len(tracked) > 3 else ''}. New pull "
                "requests and reviews arrive as they happen; the numbers appear with the "
                "first one. Webhook deliveries shows what has arrived."
            ),
            url=reverse("github_deliveries", kwargs={"team_slug": team.slug}),
            action="See webhook deliveries",
            admin_only=True,
        )
    return None


@dataclass(frozen=True)
class TeamSummary:
    merged: int
    opened: int
    open_now: int
    reverts: int
    hotfixes: int
    people: int
    average_cycle_time_hours: float | None
    average_review_time_hours: float | None
    days: int


def team_summary(*, team: Team, days: int = 30) -> TeamSummary:
    """The team's last ``days`` in a few figures (bots' pull requests left out)."""
    since = timezone.now() - timedelta(days=days)
    humans = pull_requests_for_team(team=team).exclude(author__is_bot=True)
    merged_in_period = Q(merged_at__gte=since)
    figures = humans.aggregate(
        merged=Count("pk", filter=merged_in_period),
        opened=Count("pk", filter=Q(pr_created_at__gte=since)),
        open_now=Count("pk", filter=Q(state="open")),
        reverts=Count("pk", filter=merged_in_period & Q(is_revert=True)),
        hotfixes=Count("pk", filter=merged_in_period & Q(is_hotfix=True)),
        cycle=Avg("cycle_time_hours", filter=merged_in_period),
        review=Avg("review_time_hours", filter=Q(first_review_at__gte=since)),
    )
    return TeamSummary(
        merged=figures["merged"],
        opened=figures["opened"],
        open_now=figures["open_now"],
        reverts=figures["reverts"],
        hotfixes=figures["hotfixes"],
        people=members_for_team(team=team).filter(is_bot=False).count(),
        average_cycle_time_hours=figures["cycle"],
        average_review_time_hours=figures["review"],
        days=days,
    )


def recent_pull_requests(*, team: Team, limit: int = 12) -> list[object]:
    return list(pull_requests_for_team(team=team).order_by("-pr_created_at")[:limit])

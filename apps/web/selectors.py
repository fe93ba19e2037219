"""Reads that combine the apps' selectors for the team pages: what the team
should do next, and a summary of its numbers."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from apps.integrations.selectors import team_history_state, team_tracked_repository_names
from apps.metrics.selectors import pull_requests_for_team
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

    The one place that decides "history is still loading": while a history run
    is under way it is loading; once one has finished, or pull requests have
    arrived, it is loaded."""
    loading, finished = team_history_state(team=team)
    if loading:
        return False
    return finished or pull_requests_for_team(team=team).filter(repository__tracked=True).exists()


def team_next_step(*, team: Team) -> NextStep | None:
    """The team's next step towards its numbers, or None once it has them."""
    settings_url = reverse("github_settings", kwargs={"team_slug": team.slug})
    # Read on every team page: the names only, not the settings page's
    # installations with their histories.
    tracked = team_tracked_repository_names(team=team)
    if tracked is None:
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
        names = ", ".join(tracked[:3])
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

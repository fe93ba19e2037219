"""Reads of the metrics rows. Every query is scoped to one team."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.metrics.models import APIToken, PRReview, PullRequest, TeamMember
from apps.teams.models import Team


def pull_requests_for_team(*, team: Team) -> QuerySet[PullRequest]:
    """The team's pull requests, newest first, with author and repository loaded."""
    return PullRequest.objects.filter(team=team).select_related("author", "repository")


def reviews_for_pull_request(*, pull_request: PullRequest) -> QuerySet[PRReview]:
    """The pull request's reviews in the order they were submitted, with reviewers."""
    return PRReview.objects.filter(
        team_id=pull_request.team_id, pull_request=pull_request
    ).select_related("reviewer")


def members_for_team(*, team: Team) -> QuerySet[TeamMember]:
    """The team's GitHub people, by login; bots included (they carry is_bot)."""
    return TeamMember.objects.filter(team=team).select_related("user")


def api_tokens_for_team(*, team: Team) -> QuerySet[APIToken]:
    return APIToken.objects.filter(team=team).select_related("created_by")

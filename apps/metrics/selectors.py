"""Reads of the metrics rows. Every query is scoped to one team."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from apps.metrics.models import APIToken, MergeQuestion, PRReview, PullRequest, TeamMember
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


@dataclass(frozen=True)
class PersonQuestions:
    """One person's merge questions in one team, for "Your pull requests"."""

    open: list[MergeQuestion]
    answered: list[MergeQuestion]
    closed_unanswered: list[MergeQuestion]
    # Their merges of the last 14 days that were not asked (the weekly cap).
    not_asked_recently: int


# "Your pull requests" shows this many answered and closed questions at most.
PERSON_QUESTIONS_SHOWN = 30


def merge_questions_for_person(*, team: Team, user_id: int, now: datetime) -> PersonQuestions:
    """The person's own questions: open ones (oldest first, the first to
    close), answered ones (newest first; changeable until they close), and
    those that closed unanswered."""
    mine = MergeQuestion.objects.filter(team=team, user_id=user_id).select_related(
        "pull_request__repository"
    )
    asked = mine.filter(status=MergeQuestion.Status.ASKED)
    return PersonQuestions(
        open=list(asked.filter(answer="", expires_at__gt=now).order_by("expires_at", "pk")),
        answered=list(
            asked.exclude(answer="").order_by("-asked_at", "-pk")[:PERSON_QUESTIONS_SHOWN]
        ),
        closed_unanswered=list(
            asked.filter(answer="", expires_at__lte=now).order_by("-asked_at", "-pk")[
                :PERSON_QUESTIONS_SHOWN
            ]
        ),
        not_asked_recently=mine.filter(
            status=MergeQuestion.Status.NOT_ASKED, asked_at__gt=now - MergeQuestion.LIFETIME
        ).count(),
    )

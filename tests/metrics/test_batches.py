"""Applying changes together leaves the rows that applying them one at a time
does: the cases where together would look at rows before earlier changes of
the batch."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import transaction

from apps.integrations.models import Repository
from apps.metrics.models import PRReview, PullRequest, TeamMember
from apps.metrics.services.processors import MetricsEvent
from apps.teams.models import Team
from github_app.webhook_payloads import pull_request_payload, review_payload
from tests.metrics.events import apply_events, metrics_event

pytestmark = pytest.mark.django_db


class _Rollback(Exception):
    pass


@pytest.fixture
def other_repository(installation):
    return Repository.objects.create(
        installation=installation, github_id=200, full_name="acme/web", tracked=True
    )


def at(day: int) -> datetime:
    return datetime(2025, 1, day, tzinfo=UTC)


def pr_change(team: Team, repository: Repository, day: int, **fields: Any) -> MetricsEvent:
    payload = pull_request_payload(
        repository_id=repository.github_id,
        repository_full_name=repository.full_name,
        updated_at=at(day).isoformat().replace("+00:00", "Z"),
        **fields,
    )
    return metrics_event(
        "pull_request", team=team, repository=repository, payload=payload, received_at=at(day)
    )


def review_change(team: Team, repository: Repository, day: int, **fields: Any) -> MetricsEvent:
    payload = review_payload(
        repository_id=repository.github_id,
        repository_full_name=repository.full_name,
        updated_at=at(day).isoformat().replace("+00:00", "Z"),
        **fields,
    )
    return metrics_event(
        "pull_request_review",
        team=team,
        repository=repository,
        payload=payload,
        received_at=at(day),
    )


def rows() -> dict[str, Any]:
    pull_requests = {
        pr.github_id: (
            pr.repository.github_id if pr.repository else None,
            pr.reverts.github_id if pr.reverts else None,
            pr.first_review_at,
        )
        for pr in PullRequest.objects.select_related("repository", "reverts")
    }
    reviews = sorted(PRReview.objects.values_list("github_id", "state", "reviewer__github_id"))
    members = sorted(TeamMember.objects.values_list("github_id", "login", "is_bot"))
    return {"pull_requests": pull_requests, "reviews": reviews, "members": members}


def applied(changes: list[MetricsEvent], *, together: bool) -> dict[str, Any]:
    """The rows after applying the changes, leaving the database as it was."""
    try:
        with transaction.atomic():
            if together:
                apply_events(changes)
            else:
                for change in changes:
                    apply_events([change])
            result = rows()
            raise _Rollback
    except _Rollback:
        return result


def test_it_names_a_reverted_pull_request_where_it_is_after_a_move_in_the_same_batch(
    team, repository, other_repository
):
    apply_events([pr_change(team, repository, 1, pr_id=500, number=5)])
    changes = [
        # #5 moves to the other repository, then a revert in the first names "#5".
        pr_change(team, other_repository, 2, pr_id=500, number=5),
        pr_change(team, repository, 3, pr_id=600, number=6, title='Revert "x"', body="Reverts #5"),
    ]

    one_at_a_time = applied(changes, together=False)

    assert one_at_a_time["pull_requests"][600][1] is None  # #5 is not in this repository
    assert applied(changes, together=True) == one_at_a_time


def test_it_links_a_waiting_revert_to_a_pull_request_that_moves_there_and_back(
    team, repository, other_repository
):
    apply_events([pr_change(team, repository, 1, pr_id=500, number=5)])
    apply_events([pr_change(team, other_repository, 1, pr_id=600, number=6, body="Reverts #5")])
    changes = [
        pr_change(team, other_repository, 2, pr_id=500, number=5),
        pr_change(team, repository, 3, pr_id=500, number=5),
    ]

    one_at_a_time = applied(changes, together=False)

    assert one_at_a_time["pull_requests"][600][1] == 500  # linked while #5 was there
    assert applied(changes, together=True) == one_at_a_time


def test_it_counts_reviews_by_what_earlier_changes_in_the_batch_showed_of_their_reviewer(
    team, repository
):
    apply_events(
        [
            review_change(
                team,
                repository,
                1,
                pr_id=1,
                number=1,
                review_id=11,
                reviewer_id=7,
                reviewer_login="seven",
                submitted_at="2025-01-01T12:00:00Z",
            )
        ]
    )
    changes = [
        # User 7 shows as a bot from now on; then user 8 reviews the same pull request.
        pr_change(
            team,
            repository,
            2,
            pr_id=2,
            number=2,
            author_id=7,
            author_login="seven[bot]",
            author_type="Bot",
        ),
        review_change(
            team,
            repository,
            3,
            pr_id=1,
            number=1,
            review_id=12,
            reviewer_id=8,
            reviewer_login="eight",
            submitted_at="2025-01-01T13:00:00Z",
        ),
    ]

    one_at_a_time = applied(changes, together=False)

    assert one_at_a_time["pull_requests"][1][2] == datetime(2025, 1, 1, 13, tzinfo=UTC)
    assert applied(changes, together=True) == one_at_a_time


def test_it_counts_a_review_by_what_its_reviewer_was_then_not_by_a_later_change(team, repository):
    changes = [
        # User 8 reviews; a later change shows user 8 as a bot (first_review_at is
        # computed when a review event is applied).
        review_change(
            team,
            repository,
            1,
            pr_id=1,
            number=1,
            review_id=12,
            reviewer_id=8,
            reviewer_login="eight",
            submitted_at="2025-01-01T13:00:00Z",
        ),
        pr_change(
            team,
            repository,
            2,
            pr_id=2,
            number=2,
            author_id=8,
            author_login="eight[bot]",
            author_type="Bot",
        ),
    ]

    one_at_a_time = applied(changes, together=False)

    assert one_at_a_time["pull_requests"][1][2] == datetime(2025, 1, 1, 13, tzinfo=UTC)
    assert applied(changes, together=True) == one_at_a_time

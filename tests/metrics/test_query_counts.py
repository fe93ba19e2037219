"""Each event costs at most 13 queries, however large the team. The count
includes the savepoint the processor opens inside its caller's transaction, the
one insert of the lifecycle events a batch makes, the team's AI rules (the
signals are derived as a pull request is saved; its commits are read only when
it has some), and, for a pull request that
reverts waited for, the read of which of them were merged (its `reverted`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.integrations.models import Repository
from apps.metrics.models import PRReview, PullRequest, TeamMember
from apps.teams.models import Team
from github_app.webhook_payloads import pull_request_payload, review_payload
from tests.metrics.events import apply_pull_request_event, apply_review_event

MAX_QUERIES = 13
NEW_AUTHOR = {"author_id": 90001, "author_login": "newcomer"}
NEW_REVIEWER = {"reviewer_id": 90002, "reviewer_login": "fresh-eyes"}

EVENTS: list[tuple[str, Callable[..., object], dict[str, Any]]] = [
    (
        "new pull request, new author",
        apply_pull_request_event,
        pull_request_payload(pr_id=1, number=1, **NEW_AUTHOR),
    ),
    (
        "update",
        apply_pull_request_event,
        pull_request_payload(
            "synchronize", pr_id=1, number=1, updated_at="2025-01-01T11:00:00Z", **NEW_AUTHOR
        ),
    ),
    (
        "new revert, new author",
        apply_pull_request_event,
        pull_request_payload(
            pr_id=2, number=2, body="Reverts #1", author_id=90003, author_login="r"
        ),
    ),
    (
        "review, new reviewer",
        apply_review_event,
        review_payload(pr_id=1, number=1, review_id=1, **NEW_AUTHOR, **NEW_REVIEWER),
    ),
    (
        "dismissal",
        apply_review_event,
        review_payload("dismissed", pr_id=1, number=1, review_id=1, **NEW_AUTHOR, **NEW_REVIEWER),
    ),
    (
        "review before its revert pull request, everyone new",
        apply_review_event,
        review_payload(
            pr_id=3,
            number=3,
            review_id=3,
            body="Reverts #1",
            author_id=90004,
            author_login="a",
            reviewer_id=90005,
            reviewer_login="b",
        ),
    ),
    (
        "revert of a pull request not seen yet",
        apply_pull_request_event,
        pull_request_payload(
            pr_id=5, number=5, body="Reverts #6", author_id=90006, author_login="c"
        ),
    ),
    (
        "the reverted pull request after its revert, new author",
        apply_pull_request_event,
        pull_request_payload(pr_id=6, number=6, author_id=90007, author_login="d"),
    ),
]


def seed(team: Team, repository: Repository, size: int) -> None:
    """A team with `size` members, each with pull requests and reviews."""
    members = TeamMember.objects.bulk_create(
        TeamMember(team=team, github_id=100 + i, login=f"member{i}") for i in range(size)
    )
    pull_requests = PullRequest.objects.bulk_create(
        PullRequest(
            team=team,
            repository=repository,
            github_id=10_000 + i,
            number=100 + i,
            author=members[i % size],
        )
        for i in range(size * 3)
    )
    PRReview.objects.bulk_create(
        PRReview(
            team=team,
            pull_request=pr,
            github_id=50_000 + i,
            reviewer=members[(i + 1) % size],
            state="approved",
        )
        for i, pr in enumerate(pull_requests)
    )


def query_counts(team: Team, repository: Repository) -> list[int]:
    counts = []
    for _name, process, payload in EVENTS:
        with CaptureQueriesContext(connection) as queries:
            process(team=team, repository=repository, payload=payload)
        counts.append(len(queries.captured_queries))
    return counts


@pytest.mark.parametrize(("name", "process", "payload"), EVENTS, ids=[event[0] for event in EVENTS])
def test_it_processes_each_kind_of_event_within_the_query_budget(
    team, repository, django_assert_max_num_queries, name, process, payload
):
    for _name, earlier, earlier_payload in EVENTS[: [e[0] for e in EVENTS].index(name)]:
        earlier(team=team, repository=repository, payload=earlier_payload)

    with django_assert_max_num_queries(MAX_QUERIES):
        process(team=team, repository=repository, payload=payload)


def test_it_costs_the_same_queries_for_a_large_team_as_for_a_small_one(team, repository, outsider):
    large = Team.objects.get(slug="other")
    large_repository = Repository.objects.create(
        installation=repository.installation, github_id=2, full_name=repository.full_name
    )
    seed(large, large_repository, size=300)

    assert query_counts(large, large_repository) == query_counts(team, repository)

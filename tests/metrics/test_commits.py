"""Commits as rows: the `pull_request_commits` event (shaped by github_app/commits.py
from GitHub's GraphQL list) through the one entry, keyed by team, pull request
and sha; the first commit time it gives its pull request, and change lead time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from apps.metrics.models import Commit, PullRequest
from apps.metrics.services.payloads import PayloadError
from apps.metrics.services.processors import events_apply
from apps.metrics.services.recompute import pull_requests_recompute
from github_app.commits import commits_payload
from github_app.webhook_payloads import pull_request_payload
from tests.metrics.events import apply_events, apply_pull_request_event, metrics_event
from tests.payloads.graphql import commit_author, commit_node

pytestmark = pytest.mark.django_db

SHA_A = "a" * 40
SHA_B = "b" * 40
SHA_C = "c" * 40
PR_ID = 1_000_007


def commits_event(team, repository, nodes, *, pr_id: int = PR_ID, number: int = 7):
    payload = commits_payload(
        pull_request_id=pr_id,
        number=number,
        nodes=nodes,
        repository={"id": repository.github_id, "full_name": repository.full_name},
    )
    return metrics_event("pull_request_commits", team=team, repository=repository, payload=payload)


def merged_pull_request(team, repository):
    return apply_pull_request_event(
        team=team,
        repository=repository,
        payload=pull_request_payload(
            "closed",
            pr_id=PR_ID,
            number=7,
            state="closed",
            merged=True,
            created_at="2025-01-02T10:00:00Z",
            merged_at="2025-01-03T10:00:00Z",
            closed_at="2025-01-03T10:00:00Z",
            updated_at="2025-01-03T10:00:00Z",
        ),
    )


def test_it_stores_each_commit_with_its_times_authors_and_trailers(team, repository):
    merged_pull_request(team, repository)
    nodes = [
        commit_node(
            SHA_B,
            message="Second\n\nCo-authored-by: Mona <mona@example.com>\n"
            "Signed-off-by: Bob <b@x.io>",
            authored_at="2025-01-02T08:00:00Z",
            committed_at="2025-01-02T11:00:00Z",
            author=commit_author("Bob", "b@x.io", 21031067, "Codertocat"),
        ),
        commit_node(SHA_A, message="First", authored_at="2025-01-01T22:00:00Z"),
    ]

    [stored] = apply_events([commits_event(team, repository, nodes)])

    assert sorted(c.sha for c in stored) == [SHA_A, SHA_B]
    second = Commit.objects.get(sha=SHA_B)
    assert second.pull_request.number == 7 and second.team == team
    assert second.authored_at == datetime(2025, 1, 2, 8, tzinfo=UTC)
    assert second.committed_at == datetime(2025, 1, 2, 11, tzinfo=UTC)
    # The commit's author (a co-author is in the trailers).
    assert second.author_github_ids == [21031067]
    assert second.author_logins == ["Codertocat"]
    assert second.trailers == [
        ["Co-authored-by", "Mona <mona@example.com>"],
        ["Signed-off-by", "Bob <b@x.io>"],
    ]
    assert Commit.objects.get(sha=SHA_A).trailers == []
    pull_request = PullRequest.objects.get()
    # The earliest authored commit, before the pull request was opened: lead time
    # runs from it (to a deployment, which this pull request has not had).
    assert pull_request.first_commit_at == datetime(2025, 1, 1, 22, tzinfo=UTC)


def test_the_same_list_again_changes_nothing_and_a_force_push_drops_a_commit(team, repository):
    merged_pull_request(team, repository)
    first = [commit_node(SHA_A), commit_node(SHA_B, authored_at="2025-01-02T09:00:00Z")]
    apply_events([commits_event(team, repository, first)])
    apply_events([commits_event(team, repository, first)])
    ids = dict(Commit.objects.values_list("sha", "pk"))

    rewritten = [commit_node(SHA_B, authored_at="2025-01-02T09:00:00Z", message="Amended")]
    apply_events([commits_event(team, repository, rewritten)])

    assert list(Commit.objects.values_list("sha", "pk", "message")) == [
        (SHA_B, ids[SHA_B], "Amended")
    ]
    assert PullRequest.objects.get().first_commit_at == datetime(2025, 1, 2, 9, tzinfo=UTC)


def test_commits_before_their_pull_request_make_its_row_and_it_is_filled_in_later(team, repository):
    apply_events([commits_event(team, repository, [commit_node(SHA_A)])])
    assert PullRequest.objects.get().repository == repository

    merged_pull_request(team, repository)

    pull_request = PullRequest.objects.get()
    assert pull_request.merged_at == datetime(2025, 1, 3, 10, tzinfo=UTC)
    assert pull_request.first_commit_at == datetime(2025, 1, 1, 9, tzinfo=UTC)
    assert pull_request.commits.count() == 1


def test_the_same_commit_in_two_pull_requests_is_a_row_of_each(team, repository):
    apply_events(
        [
            commits_event(team, repository, [commit_node(SHA_A)]),
            commits_event(team, repository, [commit_node(SHA_A)], pr_id=PR_ID + 1, number=8),
        ]
    )

    assert Commit.objects.filter(sha=SHA_A).count() == 2


@pytest.mark.parametrize(
    ("commits", "reason"),
    [
        ("not a list", "commits is not a list"),
        ([{"sha": "zz" * 20}], "commits[0].sha is not a commit's sha"),
        ([{"sha": "A" * 40}], "commits[0].sha is not a commit's sha"),
        ([{"sha": "\u0661" * 40}], "commits[0].sha is not a commit's sha"),  # Arabic-Indic 1
        ([{"sha": "a" * 40, "commit": {"message": "x"}}], "has no author or committer date"),
        ([{"sha": "a" * 40, "commit": {"author": {"date": "yesterday"}}}], "no author or"),
        ([5], "commits[0] is not"),
    ],
)
def test_it_refuses_a_list_that_is_no_list_of_commits(team, repository, commits, reason):
    payload = {"action": "listed", "pull_request": {"id": PR_ID, "number": 7}, "commits": commits}
    [result] = events_apply(
        events=[
            metrics_event("pull_request_commits", team=team, repository=repository, payload=payload)
        ]
    )

    assert reason in result.error
    assert not PullRequest.objects.exists() and not Commit.objects.exists()


def test_a_message_with_nul_bytes_is_stored_without_them(team, repository):
    apply_events([commits_event(team, repository, [commit_node(SHA_A, message="Fi\x00x")])])

    assert Commit.objects.get().message == "Fix"


def test_recompute_derives_the_first_commit_time_from_the_stored_commits(team, repository):
    merged_pull_request(team, repository)
    apply_events([commits_event(team, repository, [commit_node(SHA_A)])])
    PullRequest.objects.update(first_commit_at=None)

    changed = pull_requests_recompute(list(PullRequest.objects.select_related("team", "author")))

    assert changed == 1
    assert PullRequest.objects.get().first_commit_at == datetime(2025, 1, 1, 9, tzinfo=UTC)


def test_a_payload_error_is_a_payload_error(team, repository):
    with pytest.raises(PayloadError):
        apply_events(
            [
                metrics_event(
                    "pull_request_commits",
                    team=team,
                    repository=repository,
                    payload={"pull_request": {"number": 7}, "commits": []},
                )
            ]
        )

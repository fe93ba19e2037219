"""A merged pull request's commits, read from GitHub's GraphQL API (faked at its
real path) once its merge is delivered live to the real endpoint, and inside
history's pages; never asked for history's merges one by one, nor for the demo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from apps.integrations import tasks as integration_tasks
from apps.integrations.services import history
from apps.integrations.services.commits import pull_request_commits_fetch
from apps.metrics.models import Commit, PullRequest
from github_app.errors import NotConfigured
from github_app.webhook_payloads import pull_request_payload
from tests.integrations.conftest import github_app_settings, installation_for, repository_for
from tests.payloads.graphql import commit_author, commit_node, pr_node, rate_limited_answer
from tests.payloads.merges import merge_event as merged

pytestmark = pytest.mark.django_db

API = "https://api.github.com"
REPOSITORY_ID = 186853002
SHA_A = "a" * 40
SHA_B = "b" * 40


@pytest.fixture(autouse=True)
def github_app_env(settings):
    github_app_settings(settings, api=API)


@pytest.fixture
def repository(team):
    installation = installation_for(team=team, installation_id=42, login="acme")
    repository = repository_for(
        installation=installation, github_id=REPOSITORY_ID, full_name="acme/api"
    )
    repository.tracked_at = datetime(2024, 12, 1, tzinfo=UTC)
    repository.save(update_fields=["tracked_at"])
    return repository


def commits_of_seven():
    return [
        commit_node(SHA_A, message="Start", authored_at="2025-01-06T09:00:00Z"),
        commit_node(
            SHA_B,
            message="Finish\n\nCo-authored-by: Claude <noreply@anthropic.com>",
            authored_at="2025-01-07T12:00:00Z",
            author=commit_author("Codertocat", "octo@example.com", 21031067),
        ),
    ]


def commit_queries(graphql) -> list[dict[str, Any]]:
    return [r for r in graphql.requests if "number" in r or "ids" in r]


def test_a_live_merge_reads_its_commits_once_even_when_redelivered(deliver, repository, graphql):
    graphql.add(pr_node(number=7, pr_id=707, commits=commits_of_seven()))

    deliver("pull_request", merged(), delivery_id="merge-1")
    deliver("pull_request", merged(), delivery_id="merge-1")  # GitHub's redelivery
    deliver("pull_request", merged(), delivery_id="merge-2")  # the same event, a new id

    assert commit_queries(graphql) == [{"owner": "acme", "name": "api", "number": 7, "after": None}]
    pull_request = PullRequest.objects.get(number=7)
    assert sorted(pull_request.commits.values_list("sha", flat=True)) == [SHA_A, SHA_B]
    assert pull_request.first_commit_at == datetime(2025, 1, 6, 9, tzinfo=UTC)


def test_an_open_pull_request_is_not_read(deliver, repository, graphql):
    graphql.add(pr_node(number=7, pr_id=707, commits=commits_of_seven()))

    deliver("pull_request", pull_request_payload("opened", pr_id=707, number=7))

    assert commit_queries(graphql) == []
    assert not Commit.objects.exists()


def test_a_rate_limited_read_is_retried_by_its_task(deliver, repository, graphql):
    graphql.add(pr_node(number=7, pr_id=707, commits=commits_of_seven()))
    graphql.queue(rate_limited_answer(datetime.now(UTC) + timedelta(minutes=5)))

    deliver("pull_request", merged())

    # Tasks run in-process here: the retry ran at once.
    assert len(commit_queries(graphql)) == 2
    assert Commit.objects.count() == 2


def test_a_pull_request_github_does_not_show_is_given_up_at_once(deliver, repository, graphql):
    deliver("pull_request", merged(number=9))

    assert len(commit_queries(graphql)) == 1
    assert not Commit.objects.exists()
    assert PullRequest.objects.get().merged_at is not None


def test_the_demo_and_an_unconfigured_app_ask_github_nothing(repository, graphql, settings):
    pull_request = PullRequest.objects.create(
        team=repository.installation.team, repository=repository, github_id=707, number=7
    )
    settings.GITHUB_APP_ID = ""
    with pytest.raises(NotConfigured):
        pull_request_commits_fetch(pull_request_id=pull_request.pk)
    # Never retried: no app configured is no transient error.
    assert integration_tasks.fetch_pull_request_commits(pull_request.pk).startswith("not read")

    settings.GITHUB_APP_ID = "12345"
    repository.installation.demo = True
    repository.installation.save(update_fields=["demo"])
    assert "demo" in pull_request_commits_fetch(pull_request_id=pull_request.pk)
    assert graphql.requests == []


def test_history_reads_its_merged_pull_requests_commits_in_its_pages(
    repository, graphql, django_capture_on_commit_callbacks
):
    graphql.add(
        pr_node(
            number=7,
            pr_id=707,
            state="MERGED",
            created_at="2025-01-06T10:00:00Z",
            updated_at="2025-01-07T10:00:00Z",
            merged_at="2025-01-07T10:00:00Z",
            closed_at="2025-01-07T10:00:00Z",
            commits=commits_of_seven(),
        ),
        pr_node(number=8, pr_id=708, updated_at="2025-01-07T09:00:00Z", commits=commits_of_seven()),
    )

    with django_capture_on_commit_callbacks(execute=True):
        run = history.history_run_start(repository=repository)
        integration_tasks.continue_history_run(run.pk)

    # One query for the page's merged pull requests, by node id; none per merge;
    # admitted by the pacer and counted as the page's queries are.
    assert commit_queries(graphql) == [{"ids": ["PR_kwDO707"]}]
    run.refresh_from_db()
    assert run.requests_made == len(graphql.requests) == 2
    assert sorted(Commit.objects.values_list("pull_request__number", "sha")) == [
        (7, SHA_A),
        (7, SHA_B),
    ]
    assert PullRequest.objects.get(number=7).first_commit_at == datetime(2025, 1, 6, 9, tzinfo=UTC)
    assert PullRequest.objects.get(number=8).first_commit_at is None

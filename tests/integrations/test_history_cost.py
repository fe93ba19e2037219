"""History's price at GitHub: two nested connections under a page of 100 pull
requests (2 points), and more items read only for the pull requests that have
more than the page holds. GitHub's GraphQL faked at its real path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import respx

from apps.integrations import tasks
from apps.integrations.models import HistoryRun
from apps.integrations.services import history
from apps.metrics.models import PRReview, PullRequest
from github_app.history import page_cost
from tests.integrations.conftest import github_app_settings, installation_for, iso, repository_for
from tests.payloads.graphql import FakeGraphQL, actor, pr_node, review_node

pytestmark = pytest.mark.django_db

API = "https://api.github.com"
INSTALLATION_ID = 42


@pytest.fixture(autouse=True)
def github_app_env(settings):
    github_app_settings(settings, api=API)


@pytest.fixture
def repository(team):
    installation = installation_for(team=team, installation_id=INSTALLATION_ID, login="acme")
    return repository_for(installation=installation, github_id=100, full_name="acme/api")


@pytest.fixture
def github():
    fake = FakeGraphQL(repository_id=100, full_name="acme/api")
    with respx.mock(base_url=API, assert_all_called=False) as mock:
        mock.post(f"/app/installations/{INSTALLATION_ID}/access_tokens").respond(
            201,
            json={"token": "ghs_cost", "expires_at": iso(datetime.now(UTC) + timedelta(hours=1))},
        )
        mock.post("/graphql").mock(side_effect=fake.respond)
        yield fake


def run_history(repository) -> HistoryRun:
    run = history.history_run_start(repository=repository)
    tasks.continue_history_run(run.pk)
    run.refresh_from_db()
    return run


def test_it_prices_a_page_as_github_documents():
    # One request for the page, one per pull request for each of the two nested
    # connections; divided by 100, rounded, at least 1.
    assert [page_cost(n) for n in (1, 5, 50, 100)] == [1, 1, 1, 2]
    assert page_cost(100, nested=3) == 3


def test_it_costs_at_most_two_points_per_hundred_pull_requests(repository, github):
    start = datetime(2025, 1, 1, tzinfo=UTC)
    github.add(
        *[
            pr_node(
                number=n,
                updated_at=iso(start + timedelta(minutes=n)),
                labels=["backend"],
                reviews=[review_node(10_000 + n * 10 + i) for i in range(3)],
            )
            for n in range(1, 301)
        ]
    )

    run = run_history(repository)

    assert (run.status, run.pull_requests_stored, run.reviews_stored) == ("done", 300, 900)
    assert (run.requests_made, run.points_used) == (3, github.points)
    assert run.points_used * 100 / run.pull_requests_stored <= 2


def test_it_reads_more_items_only_for_the_pull_requests_that_have_more_in_one_query(
    repository, github
):
    # 120 reviews and a ready-for-review event after them: the page holds 100 items.
    reviews = [
        review_node(
            5000 + i,
            state="COMMENTED",
            submitted_at=iso(datetime(2025, 1, 1, 12, tzinfo=UTC) + timedelta(minutes=i)),
            author=actor(f"r{i}", 900 + i),
        )
        for i in range(120)
    ]
    github.add(
        pr_node(number=1, reviews=reviews, ready_for_review_at="2025-01-03T00:00:00Z"),
        pr_node(
            number=2,
            labels=[f"label-{i:03}" for i in range(130)],
            updated_at="2025-01-02T00:00:00Z",
        ),
        pr_node(number=3, labels=["small"], reviews=[review_node(77)]),
    )

    run = run_history(repository)

    assert PRReview.objects.filter(pull_request__number=1).count() == 120
    first = PullRequest.objects.get(number=1)
    assert first.ready_for_review_at == datetime(2025, 1, 3, tzinfo=UTC)
    assert PullRequest.objects.get(number=2).labels == [f"label-{i:03}" for i in range(130)]
    # The page, then one query for both: more items of #1 and more labels of #2.
    more = github.requests[1]
    assert {more["id0"], more["id1"]} == {"PR_kwDO1000001", "PR_kwDO1000002"}
    # GitHub prices the page by what it asks for (100: 2 points), the query for more at 1.
    assert (len(github.requests), run.requests_made, run.points_used) == (2, 2, 2 + 1)

"""A pull request's commits from GitHub's GraphQL API (`POST /graphql`, faked at
its real path), and the adapter that shapes them as a `pull_request_commits`
event."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import respx

from github_app.client import user_client
from github_app.commits import (
    PULL_REQUESTS_PER_QUERY,
    commit_item,
    commits_payload,
    pull_request_commits,
    pull_requests_commits,
)
from github_app.errors import RateLimited
from github_app.history import HistoryError
from tests.payloads.graphql import (
    FakeGraphQL,
    commit_author,
    commit_node,
    pr_node,
    rate_limited_answer,
)

API = "https://api.github.com"
ENDPOINT = f"{API}/graphql"


@pytest.fixture
def fake():
    fake = FakeGraphQL(repository_id=100, full_name="acme/api")
    with respx.mock(base_url=API) as router:
        fake.route = router.post("/graphql").mock(side_effect=fake.respond)
        yield fake


def _github():
    return user_client(token="ghs_installation", api_url=API)


def _commits(count: int, *, prefix: str = "a") -> list[dict]:
    return [commit_node(f"{prefix}{n:039x}") for n in range(count)]


def test_it_reads_every_commit_of_a_pull_request_with_250_in_three_pages(fake):
    fake.add(pr_node(number=7, commits=_commits(250)))

    nodes, rate_limit = pull_request_commits(
        _github(), endpoint=ENDPOINT, full_name="acme/api", number=7
    )

    assert [node["commit"]["oid"] for node in nodes] == [f"a{n:039x}" for n in range(250)]
    assert [r["after"] is None for r in fake.requests] == [True, False, False]
    assert {(r["owner"], r["name"], r["number"]) for r in fake.requests} == {("acme", "api", 7)}
    assert rate_limit.remaining == 4997
    query = json.loads(fake.route.calls[0].request.content)["query"]
    assert "commits(first: 100, after: $after)" in query
    # The author, not the `authors` connection: a connection under each of 100
    # commits would make GitHub price the query at 100 times more.
    assert "author { email name user { databaseId login } }" in query
    assert "authors(" not in query


def test_it_refuses_a_pull_request_github_does_not_show(fake):
    with pytest.raises(HistoryError, match="no pull request #8 in acme/api"):
        pull_request_commits(_github(), endpoint=ENDPOINT, full_name="acme/api", number=8)


def test_it_says_when_the_rate_limit_is_spent(fake):
    reset = datetime(2030, 1, 1, tzinfo=UTC)
    fake.queue(rate_limited_answer(reset))

    with pytest.raises(RateLimited) as raised:
        pull_request_commits(_github(), endpoint=ENDPOINT, full_name="acme/api", number=7)
    assert raised.value.reset_at == reset


def test_it_reads_the_commits_of_many_pull_requests_by_node_id_in_batches(fake):
    nodes = [pr_node(number=n, commits=_commits(2, prefix=f"{n % 10}")) for n in range(1, 121)]
    nodes[4]["_commits"] = _commits(120, prefix="f")  # number 5: a second page, by number
    fake.add(*nodes)
    ids = [node["id"] for node in nodes] + ["PR_deleted_since"]

    found, _ = pull_requests_commits(
        _github(), endpoint=ENDPOINT, full_name="acme/api", node_ids=ids
    )

    assert [item.number for item in found] == list(range(1, 121))
    assert [len(item.nodes) for item in found] == [2, 2, 2, 2, 120] + [2] * 115
    batches = [r["ids"] for r in fake.requests if "ids" in r]
    assert [len(batch) for batch in batches] == [PULL_REQUESTS_PER_QUERY, 21]
    assert [r["number"] for r in fake.requests if "number" in r] == [5]
    # One point each, as GitHub prices them (one connection per pull request):
    # the two batches and pull request 5's second page.
    assert fake.points == 3


def test_the_adapter_shapes_a_commit_as_githubs_rest_list_does():
    node = commit_node(
        "0123456789abcdef0123456789abcdef01234567",
        message="Fix it\n\nCo-authored-by: Claude <noreply@anthropic.com>",
        authored_at="2025-01-02T09:00:00Z",
        committed_at="2025-01-02T09:30:00Z",
        author=commit_author("Mona", "mona@example.com", 583231, "octocat"),
    )

    assert commit_item(node) == {
        "sha": "0123456789abcdef0123456789abcdef01234567",
        "commit": {
            "message": "Fix it\n\nCo-authored-by: Claude <noreply@anthropic.com>",
            "author": {"name": "Mona", "email": "mona@example.com", "date": "2025-01-02T09:00:00Z"},
            "committer": {"date": "2025-01-02T09:30:00Z"},
        },
        # The author, a GitHub account (a co-author is in the message's trailers).
        "authors": [{"id": 583231, "login": "octocat"}],
    }
    assert commit_item({"commit": None}) is None
    payload = commits_payload(
        pull_request_id=9, number=7, nodes=[node, {}], repository={"id": 1, "full_name": "a/b"}
    )
    assert payload["pull_request"] == {"id": 9, "number": 7}
    assert payload["action"] == "listed" and len(payload["commits"]) == 1

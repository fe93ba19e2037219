"""The typed REST calls, against GitHub's real paths."""

from __future__ import annotations

import httpx
import pytest
import respx

from github_app import api
from github_app.client import user_client
from github_app.errors import GitHubError
from github_app.webhook_payloads import deployment_status_payload

API = "https://api.github.com"


@pytest.fixture
def github():
    with respx.mock(base_url=API) as router:
        yield router


def _user():
    return user_client(token="ghu_user", api_url=API)


def test_it_reads_the_authenticated_user(github):
    github.get("/user").respond(json={"id": 583231, "login": "octocat", "type": "User"})

    assert api.authenticated_user(_user()) == api.AuthenticatedUser(583231, "octocat")


@pytest.mark.parametrize(
    "answer", [{"login": "octocat"}, {"id": "583231", "login": "octocat"}, {"id": True}, []]
)
def test_it_refuses_a_user_answer_without_an_id_and_login(github, answer):
    github.get("/user").respond(json=answer)

    with pytest.raises(GitHubError, match="no user id and login"):
        api.authenticated_user(_user())


def test_it_counts_an_active_admin_membership_as_owner(github):
    github.get("/user/memberships/orgs/acme-org").respond(
        json={"state": "active", "role": "admin", "organization": {"login": "acme-org"}}
    )

    assert api.is_organisation_owner(_user(), organisation="acme-org") is True


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, json={"state": "pending", "role": "admin"}),
        httpx.Response(200, json={"state": "active", "role": "member"}),
        httpx.Response(200, json=["not", "an", "object"]),
        httpx.Response(403, json={"message": "Resource not accessible by integration"}),
        httpx.Response(404, json={"message": "Not Found"}),
    ],
)
def test_it_counts_anything_else_as_not_an_owner(github, answer):
    github.get("/user/memberships/orgs/acme-org").mock(return_value=answer)

    assert api.is_organisation_owner(_user(), organisation="acme-org") is False


def test_it_escapes_the_organisation_in_the_path(github):
    route = github.get("/user/memberships/orgs/a%2F..%2Fuser").respond(json={})

    api.is_organisation_owner(_user(), organisation="a/../user")

    assert route.called


def test_it_reads_every_page_of_the_user_installations(github):
    route = github.get("/user/installations")
    route.side_effect = [
        httpx.Response(
            200,
            json={"total_count": 2, "installations": [{"id": 1}]},
            headers={"Link": f'<{API}/user/installations?per_page=100&page=2>; rel="next"'},
        ),
        httpx.Response(200, json={"total_count": 2, "installations": [{"id": 2}]}),
    ]

    assert [item["id"] for item in api.user_installations(_user())] == [1, 2]
    assert route.calls[1].request.url.params["page"] == "2"


def _status(status_id: int, state: str, created_at: str) -> dict:
    return deployment_status_payload(state=state, status_id=status_id, status_at=created_at)[
        "deployment_status"
    ]


def test_it_takes_a_deployments_newest_status_whatever_order_github_lists_them_in(github):
    # GitHub documents no order for a deployment's statuses: the newest is chosen
    # by GitHub's time, then by id for two of the same second.
    route = github.get("/repos/acme/api/deployments/42/statuses").respond(
        json=[
            _status(1, "queued", "2025-01-01T10:00:00Z"),
            _status(3, "success", "2025-01-01T10:05:00Z"),
            _status(2, "in_progress", "2025-01-01T10:05:00Z"),
            _status(4, "inactive", "2025-01-01T09:00:00Z"),
        ]
    )

    status = api.deployment_latest_status(_user(), full_name="acme/api", deployment_id=42)

    assert status is not None and (status["id"], status["state"]) == (3, "success")
    assert route.calls.last.request.url.params["per_page"] == "100"


def test_a_deployment_without_statuses_has_no_latest(github):
    github.get("/repos/acme/api/deployments/42/statuses").respond(json=[])

    assert api.deployment_latest_status(_user(), full_name="acme/api", deployment_id=42) is None

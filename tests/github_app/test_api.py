"""The typed REST calls, against GitHub's real paths."""

from __future__ import annotations

import httpx
import pytest
import respx

from github_app import api
from github_app.client import user_client
from github_app.errors import GitHubError

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

"""Links from payloads: a signed payload's ``html_url`` becomes a link on the
pages only when it is a page of GitHub's own site; and every page carries a
Content-Security-Policy."""

from __future__ import annotations

import pytest

from apps.metrics.models import PullRequest
from github_app.webhook_payloads import pull_request_payload
from tests.integrations.conftest import installation_for, repository_for

pytestmark = pytest.mark.django_db

WHERE = {"installation_id": 42, "repository_id": 100, "repository_full_name": "acme/api"}
DRILL_DOWN = "/teams/acme/pull-requests/?figure=opened&days=365"


@pytest.fixture
def repository(team):
    installation = installation_for(team=team, installation_id=42, login="acme")
    return repository_for(installation=installation, github_id=100, full_name="acme/api")


def _opened(deliver, number: int, html_url: str) -> PullRequest:
    payload = pull_request_payload("opened", pr_id=number, number=number, **WHERE)
    payload["pull_request"]["html_url"] = html_url
    payload["pull_request"]["created_at"] = payload["pull_request"]["updated_at"] = (
        "2099-01-01T00:00:00Z"
    )
    assert deliver("pull_request", payload).status_code == 202
    return PullRequest.objects.get(github_id=number)


@pytest.mark.parametrize(
    "html_url",
    [
        "javascript:alert(document.cookie)",
        "https://evil.example.com/acme/api/pull/1",
        "https://github.com@evil.example.com/acme/api/pull/1",
        "http://github.com/acme/api/pull/1",
        "data:text/html,<script>alert(1)</script>",
    ],
)
def test_it_links_to_nothing_but_github(client, member, deliver, repository, html_url):
    pull_request = _opened(deliver, 1, html_url)
    client.force_login(member)

    page = client.get(DRILL_DOWN.replace("days=365", "from=2098-12-31&to=2099-01-02"))

    assert pull_request.html_url == ""
    assert page.status_code == 200
    assert "acme/api#1" in page.content.decode()
    assert html_url not in page.content.decode()
    assert 'href=""' not in page.content.decode()


def test_it_links_to_github_and_to_the_enterprise_server_it_is_set_for(
    client, member, deliver, repository, settings
):
    settings.GITHUB_WEB_URL = "https://github.example.com"
    on_github = _opened(deliver, 1, "https://github.com/acme/api/pull/1")
    on_enterprise = _opened(deliver, 2, "https://github.example.com/acme/api/pull/2")
    client.force_login(member)

    page = client.get(DRILL_DOWN.replace("days=365", "from=2098-12-31&to=2099-01-02"))

    assert on_github.html_url == "https://github.com/acme/api/pull/1"
    assert on_enterprise.html_url == "https://github.example.com/acme/api/pull/2"
    assert 'href="https://github.example.com/acme/api/pull/2"' in page.content.decode()


def test_every_page_carries_a_content_security_policy(client, member):
    pages = ["/", "/login/", "/signup/", "/teams/acme/", "/teams/acme/members/", "/nope/"]
    client.force_login(member)
    for path in pages:
        policy = client.get(path)["Content-Security-Policy"]
        assert "script-src 'self'" in policy, path
        assert "default-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy

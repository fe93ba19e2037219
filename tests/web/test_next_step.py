"""The team page says what to do next until the team has numbers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from apps.metrics.models import PullRequest
from apps.web.selectors import team_next_step
from tests.integrations.conftest import installation_for, repository_for


def _step(client, path="/teams/acme/") -> str | None:
    html = client.get(path).content.decode()
    marker = 'data-step="'
    if marker not in html:
        return None
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def test_it_asks_an_empty_team_to_connect_github(client, owner):
    client.force_login(owner)
    response = client.get("/teams/acme/")
    assert _step(client) == "connect"
    assert b'href="/teams/acme/github/"' in response.content
    assert b"Connect GitHub" in response.content


def test_it_tells_a_member_that_an_admin_does_the_step(client, member):
    client.force_login(member)
    response = client.get("/teams/acme/")
    assert b"A team admin does this step." in response.content
    assert b'class="button" href="/teams/acme/github/"' not in response.content


def test_it_asks_to_choose_repositories_once_connected(client, team, owner):
    installation = installation_for(team=team, installation_id=501, login="acme-org")
    repository_for(installation=installation, github_id=1, full_name="acme-org/api", tracked=False)
    client.force_login(owner)
    assert _step(client) == "repositories"


def test_it_says_history_is_loading_while_tracked_repositories_have_no_pull_requests(
    client, team, owner
):
    installation = installation_for(team=team, installation_id=502, login="acme-org")
    repository_for(installation=installation, github_id=1, full_name="acme-org/api")
    client.force_login(owner)
    assert _step(client) == "history"
    assert b"acme-org/api" in client.get("/teams/acme/").content


def test_it_names_the_first_three_tracked_repositories_of_live_installations(team):
    installation = installation_for(team=team, installation_id=504, login="acme-org")
    for github_id, name in enumerate(["web", "api", "docs", "cli"], start=1):
        repository_for(installation=installation, github_id=github_id, full_name=f"acme-org/{name}")
    repository_for(installation=installation, github_id=9, full_name="acme-org/aaa", tracked=False)
    removed = installation_for(team=team, installation_id=505, login="old-org")
    repository_for(installation=removed, github_id=10, full_name="old-org/aaa")
    removed.deleted_at = datetime(2025, 1, 1, tzinfo=UTC)
    removed.save(update_fields=["deleted_at"])

    step = team_next_step(team=team)

    assert step is not None and step.key == "history"
    assert step.text.startswith("Tracking acme-org/api, acme-org/cli, acme-org/docs and more.")


def test_it_shows_the_numbers_once_there_are_pull_requests(client, team, owner):
    installation = installation_for(team=team, installation_id=503, login="acme-org")
    repository = repository_for(installation=installation, github_id=1, full_name="acme-org/api")
    PullRequest.objects.create(
        team=team,
        repository=repository,
        github_id=1,
        number=1,
        title="First",
        state="merged",
        pr_created_at=datetime(2025, 1, 1, 10, tzinfo=UTC),
        merged_at=datetime(2025, 1, 2, 15, tzinfo=UTC),
        cycle_time_hours=29.0,
    )
    client.force_login(owner)
    response = client.get("/teams/acme/")
    assert _step(client) is None
    assert b'data-role="figures"' in response.content
    assert b"First" in response.content
    assert team_next_step(team=team) is None


def test_it_ignores_a_removed_installation(client, team, owner):
    installation = installation_for(team=team, installation_id=504, login="acme-org")
    installation.deleted_at = datetime(2025, 1, 1, tzinfo=UTC)
    installation.save()
    client.force_login(owner)
    assert _step(client) == "connect"


def test_it_offers_the_demo_only_on_a_machine_of_ones_own(client, owner, settings):
    client.force_login(owner)
    assert "make demo" not in client.get("/teams/acme/").content.decode()

    settings.DEBUG = True  # as make run sets it

    assert "make demo" in client.get("/teams/acme/").content.decode()


def test_it_shows_the_next_step_on_the_members_page_too(client, owner):
    client.force_login(owner)
    assert _step(client, "/teams/acme/members/") == "connect"


@pytest.mark.parametrize("path", ["/teams/acme/", "/teams/acme/members/"])
def test_it_hides_the_team_pages_from_an_outsider(client, team, outsider, path):
    client.force_login(outsider)
    assert client.get(path).status_code == 404


def test_it_sends_anonymous_visitors_to_log_in(client, team):
    response = client.get("/teams/acme/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")

"""The deployment settings page: each repository's source (automatic explained),
the production environments and failure window, and the installations that
still have to accept the permissions deployments need."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from apps.integrations.models import Installation
from apps.metrics.models import Deployment, DeploymentSettings, RepositoryDeploymentSource
from tests.integrations.conftest import installation_for, repository_for

pytestmark = pytest.mark.django_db

URL = "/teams/acme/deployments/settings/"
ALL_PERMISSIONS = {
    "members": "read",
    "metadata": "read",
    "pull_requests": "read",
    "deployments": "read",
    "actions": "read",
    "contents": "read",
}


@pytest.fixture
def repository(team):
    installation = installation_for(team=team, installation_id=42, login="acme")
    Installation.objects.filter(pk=installation.pk).update(permissions=ALL_PERMISSIONS)
    return repository_for(installation=installation, github_id=100, full_name="acme/api")


def deployment(team, repository, *, key: str, source: str, environment: str = "production"):
    return Deployment.objects.create(
        team=team,
        repository=repository,
        repository_github_id=repository.github_id,
        key=key,
        source=source,
        sha="a" * 40,
        environment=environment,
        is_production=environment == "production",
        status="success",
        finished_at=datetime(2025, 1, 1, tzinfo=UTC),
    )


def test_it_explains_the_automatic_source_of_each_repository(client, member, repository, team):
    client.force_login(member)
    page = client.get(URL).content.decode()
    assert 'Merges to the default branch <span class="muted">(automatic)' in page
    deployment(team, repository, key="release:1", source="release")
    assert 'Releases <span class="muted">(automatic)' in client.get(URL).content.decode()
    deployment(team, repository, key="github:1", source="github")
    assert "GitHub deployments <span" in client.get(URL).content.decode()
    assert 'name="choice"' not in page  # a member sees, does not change


def test_an_admin_picks_a_workflow_and_it_counts(client, owner, repository, team):
    client.force_login(owner)
    response = client.post(
        URL,
        {
            "form": "source",
            "repository": repository.pk,
            "choice": "workflow",
            "workflow_path": ".github/workflows/deploy.yml",
        },
    )
    assert response.status_code == 302
    row = RepositoryDeploymentSource.objects.get()
    assert (row.repository_github_id, row.choice, row.workflow_path) == (
        100,
        "workflow",
        ".github/workflows/deploy.yml",
    )
    assert "Actions workflow" in client.get(URL).content.decode()


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"choice": "workflow", "workflow_path": ""}, "Name the workflow file"),
        ({"choice": "workflow", "workflow_path": "../../etc/passwd"}, "is a path such as"),
        ({"choice": "nightly", "workflow_path": ""}, "Unknown deployment source"),
        ({"choice": "auto", "repository": "٣"}, "Unknown repository"),
    ],
)
def test_it_refuses_a_bad_source_with_its_reason(client, owner, repository, fields, reason):
    client.force_login(owner)
    sent = {"form": "source", "repository": repository.pk, **fields}
    response = client.post(URL, sent, follow=True)
    assert reason in response.content.decode()
    assert not RepositoryDeploymentSource.objects.exists()


def test_changing_the_environments_rederives_which_deployments_are_production(
    client, owner, repository, team
):
    staging = deployment(team, repository, key="github:1", source="github", environment="staging")
    client.force_login(owner)
    client.post(
        URL, {"form": "environments", "environments": "Staging, prod", "failure_window_days": "3"}
    )
    settings = DeploymentSettings.objects.get()
    assert (settings.production_environments, settings.failure_window_days) == (
        ["staging", "prod"],
        3,
    )
    staging.refresh_from_db()
    assert staging.is_production


@pytest.mark.parametrize(
    ("environments", "days", "reason"),
    [
        ("", "7", "at least one production environment"),
        ("prod<script>", "7", "is not an environment name"),
        ("prod", "0", "from 1 to 90"),
        ("prod", "\u0667", "from 1 to 90"),
        ("prod", "91", "from 1 to 90"),
    ],
)
def test_it_refuses_bad_environments_or_window(
    client, owner, repository, environments, days, reason
):
    client.force_login(owner)
    response = client.post(
        URL,
        {"form": "environments", "environments": environments, "failure_window_days": days},
        follow=True,
    )
    assert reason in response.content.decode()
    assert not DeploymentSettings.objects.exists()


def test_a_member_cannot_change_them(client, member, repository):
    client.force_login(member)
    response = client.post(
        URL, {"form": "environments", "environments": "x", "failure_window_days": "3"}
    )
    assert response.status_code in (403, 404)
    assert not DeploymentSettings.objects.exists()


def test_it_lists_installations_that_must_accept_the_new_permissions(
    client, member, team, repository
):
    old = installation_for(team=team, installation_id=7, login="legacy-org")
    Installation.objects.filter(pk=old.pk).update(
        permissions={"members": "read", "metadata": "read", "pull_requests": "read"},
        account_type="Organization",
    )
    client.force_login(member)
    page = client.get(URL).content.decode()
    assert "legacy-org" in page
    assert "actions, contents, deployments" in page
    assert "https://github.com/organizations/legacy-org/settings/installations/7" in page
    assert "acme</strong> (installation 42)" not in page


def test_the_permissions_accepted_on_github_take_an_installation_off_the_list(
    client, member, team, repository, deliver
):
    old = installation_for(team=team, installation_id=7, login="legacy-org")
    Installation.objects.filter(pk=old.pk).update(permissions={"metadata": "read"})
    client.force_login(member)
    assert "legacy-org" in client.get(URL).content.decode()
    payload = {
        "action": "new_permissions_accepted",
        "installation": {
            "id": 7,
            "account": {"login": "legacy-org", "id": 9, "type": "Organization"},
            "repository_selection": "selected",
            "permissions": ALL_PERMISSIONS,
            "events": ["pull_request", "deployment_status"],
            "created_at": "2025-01-01T00:00:00Z",
            "updated_at": "2025-02-01T00:00:00Z",
        },
        "sender": {"login": "owner", "id": 1},
    }
    assert deliver("installation", payload).status_code == 202
    assert "legacy-org" not in client.get(URL).content.decode()

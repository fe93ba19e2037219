"""A tracked repository's past deployments, releases and workflow runs, read
from GitHub's REST API (faked at its real paths) once its pull requests'
history is done, through the one entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import respx

from apps.integrations import tasks
from apps.integrations.services import history
from apps.metrics.models import Deployment, PullRequest, RepositoryDeploymentSource
from github_app.webhook_payloads import (
    deployment_object,
    iso,
    release_payload,
    repository,
    workflow_run_payload,
)
from tests.github_app.keys import private_key_pem
from tests.integrations.conftest import installation_for, repository_for
from tests.payloads.graphql import FakeGraphQL, pr_node

pytestmark = pytest.mark.django_db

API = "https://api.github.com"
INSTALLATION_ID = 42
REPOSITORY_ID = 100
REPO = "/repos/acme/api"
NOW = datetime.now(UTC).replace(microsecond=0)


def ago(days: float) -> str:
    return iso(NOW - timedelta(days=days))


@pytest.fixture(autouse=True)
def github_app_env(settings):
    settings.GITHUB_APP_ID = "12345"
    settings.GITHUB_APP_PRIVATE_KEY = private_key_pem()
    settings.GITHUB_API_URL = API
    settings.TFORMANCE_HISTORY_DAYS = 30


@pytest.fixture
def tracked(team):
    installation = installation_for(team=team, installation_id=INSTALLATION_ID, login="acme")
    return repository_for(installation=installation, github_id=REPOSITORY_ID, full_name="acme/api")


def status(state: str, at: str, status_id: int) -> dict:
    return {"id": status_id, "state": state, "created_at": at, "updated_at": at}


@pytest.fixture
def github():
    with respx.mock(base_url=API, assert_all_called=False) as mock:
        mock.post(f"/app/installations/{INSTALLATION_ID}/access_tokens").respond(
            201, json={"token": "ghs_history", "expires_at": iso(NOW + timedelta(hours=1))}
        )
        mock.get(REPO).respond(200, json=repository(REPOSITORY_ID, "acme/api"))
        old, new = (
            deployment_object(deployment_id=1, sha="a" * 40, created_at=ago(10)),
            deployment_object(deployment_id=2, sha="b" * 40, created_at=ago(5)),
        )
        too_old = deployment_object(deployment_id=0, sha="c" * 40, created_at=ago(60))
        second_page = f'<{API}{REPO}/deployments?page=2>; rel="next"'

        def deployments(request):
            if request.url.params.get("page") == "2":
                return respx.MockResponse(200, json=[old, too_old])
            return respx.MockResponse(200, json=[new], headers={"Link": second_page})

        mock.get(f"{REPO}/deployments").mock(side_effect=deployments)
        mock.get(f"{REPO}/deployments/2/statuses").respond(
            200, json=[status("failure", ago(4.9), 22)]
        )
        mock.get(f"{REPO}/deployments/1/statuses").respond(
            200, json=[status("success", ago(9.9), 11)]
        )
        published = release_payload(
            release_id=7,
            tag_name="v1",
            target_commitish="d" * 40,
            published_at=ago(3),
            created_at=ago(3.1),
        )["release"]
        draft = release_payload(release_id=8, draft=True, published_at=None, created_at=ago(2))[
            "release"
        ]
        mock.get(f"{REPO}/releases").respond(200, json=[draft, published])
        run = workflow_run_payload(
            run_id=9, head_sha="e" * 40, updated_at=ago(1), run_started_at=ago(1.1)
        )["workflow_run"]
        mock.workflow_runs = mock.get(f"{REPO}/actions/workflows/deploy.yml/runs").respond(
            200, json={"total_count": 1, "workflow_runs": [run]}
        )
        mock.get(url__regex=rf"{REPO}/compare/.*").respond(200, json={"commits": []})
        yield mock


def test_it_reads_the_windows_deployments_releases_and_runs_through_the_one_entry(
    tracked, github, team
):
    RepositoryDeploymentSource.objects.create(
        team=team,
        repository_github_id=REPOSITORY_ID,
        choice="auto",
        workflow_path=".github/workflows/deploy.yml",
    )
    since = (NOW - timedelta(days=30)).isoformat()
    applied = tasks.deployment_history_fetch(tracked.pk, since)

    assert applied == 4
    rows = {row.key: row for row in Deployment.objects.all()}
    assert set(rows) == {"github:1", "github:2", "release:7", "workflow_run:9"}
    assert (rows["github:1"].status, rows["github:2"].status) == ("success", "failure")
    assert rows["github:2"].failed and rows["github:2"].failure_reason == "status"
    assert rows["release:7"].sha == "d" * 40
    assert rows["workflow_run:9"].sha == "e" * 40
    assert github.workflow_runs.calls.last.request.url.params["branch"] == "main"
    # Again: the same rows (keyed as the webhooks' are).
    tasks.deployment_history_fetch(tracked.pk, since)
    assert Deployment.objects.count() == 4


def test_a_finished_pull_request_history_queues_the_deployments(
    tracked, github, team, django_capture_on_commit_callbacks
):
    fake = FakeGraphQL(repository_id=REPOSITORY_ID, full_name="acme/api")
    github.post("/graphql").mock(side_effect=fake.respond)
    fake.add(
        pr_node(
            number=1,
            state="MERGED",
            created_at=ago(12),
            merged_at=ago(11),
            closed_at=ago(11),
            updated_at=ago(11),
            merge_commit="a" * 40,
        )
    )
    with django_capture_on_commit_callbacks(execute=True):
        run = history.history_run_start(repository=tracked)
        tasks.continue_history_run(run.pk)

    assert Deployment.objects.filter(key="github:1").exists()
    # The first deployment shipped the pull request merged before it.
    pull_request = PullRequest.objects.get(number=1)
    assert pull_request.deployment.key == "github:1"
    # Opened 12 days ago, deployed 9.9 days ago.
    assert pull_request.lead_time_hours == pytest.approx(24 * 2.1, abs=0.01)

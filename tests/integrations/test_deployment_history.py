"""A tracked repository's past deployments, releases and workflow runs, read
from GitHub's REST API (faked at its real paths) once its pull requests'
history is done, through the one entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import respx
from django.db import transaction
from django.utils import timezone

from apps.integrations import tasks
from apps.integrations.models import DeploymentHistoryCursor
from apps.integrations.services import deployment_history, history
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


def test_it_keeps_a_release_published_in_the_window_from_an_old_commit(tracked, github, team):
    # A release's created_at is its commit's date (GitHub's REST docs), and the
    # list is in that order: the walk stopped at it and lost the release.
    old_commit = release_payload(
        release_id=11, tag_name="v2", published_at=ago(1), created_at=ago(60)
    )["release"]
    older = release_payload(release_id=12, tag_name="v0", published_at=ago(90), created_at=ago(90))[
        "release"
    ]
    github.get(f"{REPO}/releases").respond(200, json=[old_commit, older])
    RepositoryDeploymentSource.objects.create(
        team=team, repository_github_id=REPOSITORY_ID, choice="release"
    )

    tasks.deployment_history_fetch(tracked.pk, (NOW - timedelta(days=30)).isoformat())

    assert set(Deployment.objects.values_list("key", flat=True)) >= {"release:11"}
    assert not Deployment.objects.filter(key="release:12").exists()


def _pick_the_workflow(team) -> None:
    RepositoryDeploymentSource.objects.create(
        team=team,
        repository_github_id=REPOSITORY_ID,
        choice="workflow",
        workflow_path=".github/workflows/deploy.yml",
    )


def test_it_reads_past_the_thousand_runs_github_answers_to_one_query(tracked, github, team):
    # GitHub answers at most 1,000 runs to a query filtered by branch, status
    # or creation, with no next page after them: the rest were silently lost.
    newer = workflow_run_payload(
        run_id=21, head_sha="1" * 40, updated_at=ago(1), run_started_at=ago(1.1)
    )["workflow_run"]
    older = workflow_run_payload(
        run_id=22, head_sha="2" * 40, updated_at=ago(20), run_started_at=ago(20.1)
    )["workflow_run"]
    asked = []

    def runs(request):
        created = request.url.params["created"]
        asked.append(created)
        if created.startswith(">="):
            # The thousandth run's page: the last GitHub gives to this query.
            return respx.MockResponse(200, json={"total_count": 1500, "workflow_runs": [newer]})
        return respx.MockResponse(200, json={"total_count": 500, "workflow_runs": [older]})

    github.get(f"{REPO}/actions/workflows/deploy.yml/runs").mock(side_effect=runs)
    _pick_the_workflow(team)

    tasks.deployment_history_fetch(tracked.pk, (NOW - timedelta(days=30)).isoformat())

    keys = set(Deployment.objects.values_list("key", flat=True))
    assert {"workflow_run:21", "workflow_run:22"} <= keys
    since = (NOW - timedelta(days=30)).strftime("%Y-%m-%d")
    assert asked == [f">={since}", f"{since}..{newer['created_at']}"]


def test_it_asks_for_no_older_runs_by_a_created_time_github_did_not_give(tracked, github, team):
    run = workflow_run_payload(
        run_id=23, head_sha="3" * 40, updated_at=ago(1), run_started_at=ago(1.1)
    )["workflow_run"]
    run["created_at"] = "\u0662\u0660\u0662\u0665-01-01T00:00:00Z"  # not ASCII digits
    route = github.get(f"{REPO}/actions/workflows/deploy.yml/runs").respond(
        200, json={"total_count": 1500, "workflow_runs": [run]}
    )
    _pick_the_workflow(team)

    tasks.deployment_history_fetch(tracked.pk, (NOW - timedelta(days=30)).isoformat())

    assert route.call_count == 1  # the junk never reached a query


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


# --- resuming ------------------------------------------------------------------------


class WorkerKilled(BaseException):
    """The worker dies while GitHub answers (nothing catches it)."""


def paged_deployments(mock, *, second_page: list) -> dict:
    """GitHub's deployments of acme/api in two pages (4, 3 | 2, 1 and one
    before the window), each with its newest status; ``second_page`` says
    what the first few requests for page 2 get (then its deployments)."""
    objects = {
        n: deployment_object(deployment_id=n, sha=f"{n:040x}", created_at=ago(20 - 4 * n))
        for n in range(1, 5)
    }
    too_old = deployment_object(deployment_id=9, sha="c" * 40, created_at=ago(60))
    answers = list(second_page)
    asked: list[str | None] = []

    def deployments(request):
        asked.append(request.url.params.get("page"))
        if request.url.params.get("page") == "2":
            if answers:
                answer = answers.pop(0)
                if isinstance(answer, BaseException):
                    raise answer
                return answer
            return respx.MockResponse(200, json=[objects[2], objects[1], too_old])
        link = f'<{API}{REPO}/deployments?per_page=100&page=2>; rel="next"'
        return respx.MockResponse(200, json=[objects[4], objects[3]], headers={"Link": link})

    routes: dict = {"list": mock.get(f"{REPO}/deployments").mock(side_effect=deployments)}
    routes["pages"] = asked
    for n in range(1, 5):
        routes[n] = mock.get(f"{REPO}/deployments/{n}/statuses").respond(
            200, json=[status("success", ago(20 - 4 * n + 0.1), n * 10)]
        )
    mock.get(f"{REPO}/releases").respond(200, json=[])
    mock.get(url__regex=rf"{REPO}/compare/.*").respond(200, json={"commits": []})
    return routes


@pytest.fixture
def rest():
    with respx.mock(base_url=API, assert_all_called=False) as mock:
        mock.post(f"/app/installations/{INSTALLATION_ID}/access_tokens").respond(
            201, json={"token": "ghs_history", "expires_at": iso(NOW + timedelta(hours=1))}
        )
        mock.get(REPO).respond(200, json=repository(REPOSITORY_ID, "acme/api"))
        yield mock


def test_it_resumes_a_read_whose_worker_died_after_page_1_at_page_2_without_duplicates(
    tracked, rest, django_capture_on_commit_callbacks
):
    routes = paged_deployments(rest, second_page=[WorkerKilled()])
    since = NOW - timedelta(days=30)
    # Queued as a finished pull request history queues it; the task dies on page 2.
    with (
        pytest.raises(WorkerKilled),
        django_capture_on_commit_callbacks(execute=True),
        transaction.atomic(),
    ):
        deployment_history.deployment_history_queue(repository_id=tracked.pk, since=since)

    # Page 1 is stored with its cursor; page 2 was lost with the worker.
    cursor = DeploymentHistoryCursor.objects.get(repository=tracked, source="deployments")
    assert (cursor.status, cursor.pages_done, cursor.items_stored) == ("reading", 1, 2)
    assert cursor.next_url.endswith("/deployments?per_page=100&page=2")
    assert set(Deployment.objects.values_list("key", flat=True)) == {"github:3", "github:4"}

    # Nothing moves it for five minutes: the resumer (beat) takes it up.
    DeploymentHistoryCursor.objects.filter(repository=tracked).update(
        updated_at=timezone.now() - timedelta(minutes=6)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.resume_history_runs() == 1

    keys = list(Deployment.objects.order_by("key").values_list("key", flat=True))
    assert keys == ["github:1", "github:2", "github:3", "github:4"]
    assert Deployment.objects.filter(status="success").count() == 4
    # Page 1 and its statuses were read once; page 2 twice (the lost answer).
    assert routes["pages"] == [None, "2", "2"]
    assert [routes[n].call_count for n in range(1, 5)] == [1, 1, 1, 1]
    cursor.refresh_from_db()
    assert (cursor.status, cursor.pages_done, cursor.items_stored) == ("done", 2, 4)
    # 2 pages and 4 statuses (the lost request is not counted: it was not stored).
    assert cursor.requests_made == 6
    assert set(
        DeploymentHistoryCursor.objects.filter(repository=tracked).values_list("status", flat=True)
    ) == {"done"}
    # Nothing is due any more.
    assert deployment_history.deployment_histories_due() == []


def test_a_rate_limit_waits_for_githubs_reset_then_goes_on_from_the_same_page(
    tracked, rest, django_capture_on_commit_callbacks
):
    reset = (NOW + timedelta(minutes=20)).replace(microsecond=0)
    limited = respx.MockResponse(
        403,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(reset.timestamp()))},
        json={"message": "API rate limit exceeded for installation ID 42."},
    )
    routes = paged_deployments(rest, second_page=[limited])
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        deployment_history.deployment_history_queue(
            repository_id=tracked.pk, since=NOW - timedelta(days=30)
        )

    # In-process, the read waits (no worker asleep, no loop) until the reset.
    waiting = DeploymentHistoryCursor.objects.filter(repository=tracked)
    assert set(waiting.values_list("status", "resume_at")) == {("waiting_rate_limit", reset)}
    assert deployment_history.deployment_histories_due(now=reset - timedelta(seconds=1)) == []
    assert deployment_history.deployment_histories_due(now=reset) == [tracked.pk]
    assert Deployment.objects.count() == 2

    tasks.deployment_history_fetch(tracked.pk)

    assert Deployment.objects.count() == 4
    assert routes["list"].call_count == 3
    assert set(waiting.values_list("status", flat=True)) == {"done"}


def test_github_down_waits_longer_each_time_and_fails_the_fifth_time_in_a_row(
    tracked, rest, no_sleep
):
    paged_deployments(rest, second_page=[respx.MockResponse(502)] * 100)
    deployment_history.deployment_history_start(
        repository_id=tracked.pk, since=NOW - timedelta(days=30)
    )
    waits = []
    for _ in range(5):
        assert tasks.deployment_history_fetch(tracked.pk) == -1
        cursor = DeploymentHistoryCursor.objects.get(repository=tracked, source="deployments")
        waits.append(cursor.resume_at and round((cursor.resume_at - timezone.now()).seconds, -1))

    assert waits == [30, 60, 120, 240, None]
    assert (cursor.status, cursor.pages_done, cursor.failures) == ("failed", 1, 5)
    assert "502" in cursor.error or "failing" in cursor.error


# --- on the settings page -----------------------------------------------------------


def _settings_page(client, team) -> str:
    return client.get(f"/teams/{team.slug}/github/").content.decode()


def _retry(client, team, repository):
    return client.post(f"/teams/{team.slug}/github/repositories/{repository.pk}/deployments/retry/")


def test_it_shows_what_the_read_stored_of_each_source_on_the_settings_page(
    client, owner, team, tracked, github
):
    RepositoryDeploymentSource.objects.create(
        team=team,
        repository_github_id=REPOSITORY_ID,
        choice="auto",
        workflow_path=".github/workflows/deploy.yml",
    )
    client.force_login(owner)
    assert 'data-role="deployment-history"' not in _settings_page(client, team)

    tasks.deployment_history_fetch(tracked.pk, (NOW - timedelta(days=30)).isoformat())

    page = _settings_page(client, team)
    assert (
        '<span class="badge ok" data-role="deployment-history-text">deployments read: '
        "2 GitHub deployments, 1 release, 1 workflow run</span>"
    ) in page
    assert "Read deployments again" in page
    assert 'http-equiv="refresh"' not in page


def test_it_shows_a_read_under_way_and_refreshes_the_page(client, owner, team, tracked):
    deployment_history.deployment_history_start(repository_id=tracked.pk, since=None)
    DeploymentHistoryCursor.objects.filter(source="deployments").update(items_stored=1200)
    client.force_login(owner)

    page = _settings_page(client, team)
    assert (
        "deployments: reading, 1,200 GitHub deployments, 0 releases, 0 workflow runs so far"
    ) in page
    assert 'http-equiv="refresh"' in page
    assert "Read deployments again" not in page

    reset = datetime(2026, 1, 5, 14, 5, tzinfo=UTC)
    deployment_history.deployment_history_wait(repository_id=tracked.pk, until=reset)
    page = _settings_page(client, team)
    assert "so far; waiting for GitHub&#x27;s rate limit until 14:05" in page
    assert 'http-equiv="refresh"' in page


def test_it_shows_a_failed_read_with_its_reason_to_admins_only(
    client, owner, member, team, tracked
):
    deployment_history.deployment_history_start(repository_id=tracked.pk, since=None)
    deployment_history.deployment_history_fail(
        repository_id=tracked.pk, error="GitHub answered 404 (GITHUB_API_URL=https://ghe.example)"
    )

    client.force_login(member)
    page = _settings_page(client, team)
    assert "deployments: failed (0 GitHub deployments, 0 releases, 0 workflow runs stored)" in page
    assert "A team admin sees why and can read them again." in page
    assert "GITHUB_API_URL" not in page
    assert "Retry deployments" not in page

    client.force_login(owner)
    page = _settings_page(client, team)
    assert "GitHub answered 404 (GITHUB_API_URL=https://ghe.example)" in page
    assert "Retry deployments" in page


# Committed for real, as in production: with in-process tasks the read is over
# before the view answers.
@pytest.mark.django_db(transaction=True)
def test_it_lets_an_admin_read_a_failed_repositorys_deployments_again(
    client, owner, team, tracked, github
):
    since = NOW - timedelta(days=30)
    deployment_history.deployment_history_start(repository_id=tracked.pk, since=since)
    deployment_history.deployment_history_fail(repository_id=tracked.pk, error="boom")
    client.force_login(owner)

    response = _retry(client, team, tracked)

    assert response.status_code == 302
    cursors = DeploymentHistoryCursor.objects.filter(repository=tracked)
    # Over the same window: the deployment older than it is not read.
    assert set(cursors.values_list("status", "window_start", "error")) == {("done", since, "")}
    assert set(Deployment.objects.values_list("key", flat=True)) == {
        "github:1",
        "github:2",
        "release:7",
    }
    page = client.get(response.url).content.decode()
    assert "acme/api: deployments read: 2 GitHub deployments, 1 release, 0 workflow runs." in page


def test_it_refuses_to_read_again_while_a_read_is_under_way(client, owner, team, tracked):
    deployment_history.deployment_history_start(repository_id=tracked.pk, since=None)
    client.force_login(owner)

    response = _retry(client, team, tracked)

    assert response.status_code == 302
    assert (
        "The deployments of acme/api are being read." in client.get(response.url).content.decode()
    )
    assert set(DeploymentHistoryCursor.objects.values_list("status", flat=True)) == {"reading"}


def test_it_refuses_to_read_before_the_pull_requests_history_started_one(
    client, owner, team, tracked
):
    client.force_login(owner)

    response = _retry(client, team, tracked)

    page = client.get(response.url).content.decode()
    assert "are read once its pull requests&#x27; history is loaded" in page
    assert not DeploymentHistoryCursor.objects.exists()


def test_it_refuses_to_read_an_untracked_repositorys_deployments(client, owner, team, tracked):
    deployment_history.deployment_history_start(repository_id=tracked.pk, since=None)
    deployment_history.deployment_history_fail(repository_id=tracked.pk, error="boom")
    tracked.tracked = False
    tracked.save()
    client.force_login(owner)

    response = _retry(client, team, tracked)

    assert "Track acme/api first." in client.get(response.url).content.decode()
    assert set(DeploymentHistoryCursor.objects.values_list("status", flat=True)) == {"failed"}


def test_it_does_not_let_a_member_or_an_outsider_read_again(
    client, member, outsider, team, tracked
):
    deployment_history.deployment_history_start(repository_id=tracked.pk, since=None)
    deployment_history.deployment_history_fail(repository_id=tracked.pk, error="boom")

    client.force_login(member)
    assert _retry(client, team, tracked).status_code == 403
    client.force_login(outsider)
    assert _retry(client, team, tracked).status_code == 404
    assert set(DeploymentHistoryCursor.objects.values_list("status", flat=True)) == {"failed"}


@pytest.mark.parametrize("pk", ["0", "99999999999999999999999", "١٢", "1%00"])
def test_it_answers_404_for_a_repository_that_cannot_be(client, owner, tracked, pk):
    client.force_login(owner)
    response = client.post(f"/teams/acme/github/repositories/{pk}/deployments/retry/")
    assert response.status_code == 404
    assert not DeploymentHistoryCursor.objects.exists()

"""Deployments through the real webhook endpoint: GitHub's deployment and
deployment_status events become rows (newest status by GitHub's time), and a
successful production deployment ships the merged pull requests its commits
merged (GitHub's compare API, faked at its real path with respx)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import respx

from apps.metrics.models import (
    Deployment,
    DeploymentSettings,
    PullRequest,
    RepositoryDeploymentSource,
)
from github_app.webhook_payloads import (
    deployment_payload,
    deployment_status_payload,
    iso,
    pull_request_payload,
    release_payload,
    workflow_run_payload,
)
from tests.github_app.keys import private_key_pem
from tests.integrations.conftest import installation_for, repository_for

pytestmark = pytest.mark.django_db

API = "https://api.github.com"
INSTALLATION_ID = 42
REPOSITORY_ID = 186853002
FULL_NAME = "acme/api"
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
SHA = {name: (name * 40)[:40] for name in "abcdef"}


def at(hours: float) -> str:
    return iso(T0 + timedelta(hours=hours))


@pytest.fixture(autouse=True)
def github_app_env(settings):
    settings.GITHUB_APP_ID = "12345"
    settings.GITHUB_APP_PRIVATE_KEY = private_key_pem()
    settings.GITHUB_API_URL = API


@pytest.fixture
def repository(team):
    installation = installation_for(team=team, installation_id=INSTALLATION_ID, login="acme")
    return repository_for(installation=installation, github_id=REPOSITORY_ID, full_name=FULL_NAME)


@pytest.fixture
def github():
    """GitHub's API at its real paths: the installation token and compare."""
    with respx.mock(base_url=API, assert_all_called=False) as mock:
        mock.post(f"/app/installations/{INSTALLATION_ID}/access_tokens").respond(
            201, json={"token": "ghs_deploy", "expires_at": iso(datetime.now(UTC) + timedelta(1))}
        )
        yield mock


def compare_answers(mock, base: str, head: str, pages: list[list[str]]) -> Any:
    """GitHub's compare answer for base...head, paged with Link headers."""
    path = f"/repos/{FULL_NAME}/compare/{base}...{head}"
    responses = []
    for index, shas in enumerate(pages):
        headers = {}
        if index + 1 < len(pages):
            headers["Link"] = f'<{API}{path}?page={index + 2}>; rel="next"'
        body = {"status": "ahead", "commits": [{"sha": sha} for sha in shas]}
        responses.append(respx.MockResponse(200, json=body, headers=headers))
    return mock.get(path).mock(side_effect=responses)


def merged_pull_request(
    deliver, *, pr_id: int, number: int, opened: float, merged: float, sha: str, **fields
):
    payload = pull_request_payload(
        "closed",
        pr_id=pr_id,
        number=number,
        state="closed",
        merged=True,
        created_at=at(opened),
        merged_at=at(merged),
        closed_at=at(merged),
        merge_commit_sha=sha,
        **fields,
    )
    assert deliver("pull_request", payload).status_code == 202


def deploy(
    deliver, *, deployment_id: int, sha: str, hours: float, state: str = "success", **fields
):
    payload = deployment_status_payload(
        state=state,
        status_id=deployment_id * 10 + len(state),
        status_at=at(hours),
        deployment_id=deployment_id,
        sha=sha,
        created_at=at(hours - 0.25),
        **fields,
    )
    assert deliver("deployment_status", payload).status_code == 202


def row(deployment_id: int) -> Deployment:
    return Deployment.objects.get(key=f"github:{deployment_id}")


# --- rows and their status ------------------------------------------------------------


def test_it_keeps_the_newest_status_by_githubs_time_whatever_order_they_arrive_in(
    deliver, repository
):
    deploy(deliver, deployment_id=1, sha=SHA["a"], hours=2, state="success")
    deploy(deliver, deployment_id=1, sha=SHA["a"], hours=1, state="in_progress")
    deployment = row(1)
    assert (deployment.status, deployment.finished_at) == ("success", T0 + timedelta(hours=2))
    assert deployment.started_at == T0 + timedelta(hours=0.75)


def test_it_keeps_the_finish_of_a_deployment_made_inactive_before_its_success_arrived(
    deliver, repository
):
    deploy(deliver, deployment_id=1, sha=SHA["a"], hours=5, state="inactive")
    deploy(deliver, deployment_id=1, sha=SHA["a"], hours=2, state="success")
    deployment = row(1)
    assert (deployment.status, deployment.finished_at) == ("inactive", T0 + timedelta(hours=2))
    assert deployment.succeeded


def test_it_ignores_a_redelivered_status(deliver, repository):
    deploy(deliver, deployment_id=1, sha=SHA["a"], hours=2, state="failure")
    deploy(deliver, deployment_id=1, sha=SHA["a"], hours=2, state="failure")
    assert Deployment.objects.count() == 1
    assert (row(1).status, row(1).failed, row(1).failure_reason) == ("failure", True, "status")


def test_it_reads_production_from_githubs_flag_or_the_teams_environments(deliver, repository, team):
    deploy(deliver, deployment_id=1, sha=SHA["a"], hours=1, environment="staging")
    deploy(
        deliver,
        deployment_id=2,
        sha=SHA["a"],
        hours=1,
        environment="eu-1",
        production_environment=True,
    )
    deploy(deliver, deployment_id=3, sha=SHA["a"], hours=1, environment="Live")
    assert [row(n).is_production for n in (1, 2, 3)] == [False, True, True]

    DeploymentSettings.objects.create(team=team, production_environments=["staging"])
    deploy(deliver, deployment_id=4, sha=SHA["a"], hours=1, environment="staging")
    deploy(deliver, deployment_id=5, sha=SHA["a"], hours=1, environment="live")
    assert [row(n).is_production for n in (4, 5)] == [True, False]


def test_it_fails_a_payload_whose_sha_is_not_a_commit(deliver, repository):
    payload = deployment_payload(deployment_id=1, sha="main; drop table")
    assert deliver("deployment", payload, delivery_id="bad-sha").status_code == 202
    from apps.integrations.models import WebhookDelivery

    delivery = WebhookDelivery.objects.get(delivery_id="bad-sha")
    assert delivery.status == "failed"
    assert "deployment.sha" in delivery.last_error
    assert not Deployment.objects.exists()


@pytest.mark.parametrize("far", ["9999-12-31T23:59:59Z", "2999-01-01T00:00:00Z"])
def test_it_fails_a_status_dated_in_the_future_with_the_reason(deliver, repository, far):
    # 9999-12-31 overflowed the rework window's arithmetic: the delivery failed
    # with an OverflowError for its reason.
    payload = deployment_status_payload(
        deployment_id=7, status_id=70, sha=SHA["a"], status_at=far, created_at=at(0)
    )
    assert deliver("deployment_status", payload, delivery_id="far").status_code == 202
    from apps.integrations.models import WebhookDelivery

    delivery = WebhookDelivery.objects.get(delivery_id="far")
    assert delivery.status == "failed"
    assert "deployment_status.updated_at: the time is in the future" in delivery.last_error
    assert not Deployment.objects.exists()


# --- what each deployment shipped --------------------------------------------------------


def test_it_ships_the_pull_requests_between_the_previous_deployment_and_this_one(
    deliver, repository, github
):
    merged_pull_request(deliver, pr_id=1, number=1, opened=0, merged=1, sha=SHA["a"])
    # The first deployment: nothing to compare with, it ships what was merged before it.
    deploy(deliver, deployment_id=1, sha=SHA["a"], hours=2)
    merged_pull_request(deliver, pr_id=2, number=2, opened=1, merged=3, sha=SHA["b"])
    merged_pull_request(deliver, pr_id=3, number=3, opened=2, merged=4, sha=SHA["c"])
    merged_pull_request(deliver, pr_id=4, number=4, opened=2, merged=4.5, sha=SHA["d"])
    compare = compare_answers(github, SHA["a"], SHA["c"], [[SHA["e"], SHA["b"]], [SHA["c"]]])
    deploy(deliver, deployment_id=2, sha=SHA["c"], hours=6)

    assert compare.call_count == 2  # both pages
    by_number = {pr.number: pr for pr in PullRequest.objects.all()}
    assert by_number[1].deployment == row(1)
    assert by_number[1].deployed_at == T0 + timedelta(hours=2)
    assert by_number[1].lead_time_hours == 2
    assert [by_number[n].deployment for n in (2, 3)] == [row(2), row(2)]
    assert by_number[2].lead_time_hours == 5
    assert by_number[3].lead_time_hours == 4
    assert by_number[4].deployment is None and by_number[4].lead_time_hours is None
    assert row(2).previous == row(1)


def test_it_gives_a_pull_request_the_first_deployment_that_contains_it(deliver, repository, github):
    merged_pull_request(deliver, pr_id=1, number=1, opened=0, merged=1, sha=SHA["a"])
    deploy(deliver, deployment_id=1, sha=SHA["a"], hours=2)
    merged_pull_request(deliver, pr_id=2, number=2, opened=1, merged=3, sha=SHA["b"])
    compare_answers(github, SHA["a"], SHA["c"], [[SHA["b"], SHA["c"]]])
    deploy(deliver, deployment_id=3, sha=SHA["c"], hours=8)
    # A deployment of b that finished earlier arrives late: it shipped #2 first.
    compare_answers(github, SHA["a"], SHA["b"], [[SHA["b"]]])
    deploy(deliver, deployment_id=2, sha=SHA["b"], hours=5)

    pull_request = PullRequest.objects.get(number=2)
    assert pull_request.deployment == row(2)
    assert pull_request.deployed_at == T0 + timedelta(hours=5)


def test_it_retries_compare_on_githubs_transient_errors(deliver, repository, github):
    merged_pull_request(deliver, pr_id=1, number=1, opened=0, merged=1, sha=SHA["a"])
    deploy(deliver, deployment_id=1, sha=SHA["a"], hours=2)
    merged_pull_request(deliver, pr_id=2, number=2, opened=1, merged=3, sha=SHA["b"])
    path = f"/repos/{FULL_NAME}/compare/{SHA['a']}...{SHA['b']}"
    github.get(path).mock(
        side_effect=[
            respx.MockResponse(502),
            respx.MockResponse(200, json={"commits": [{"sha": SHA["b"]}]}),
        ]
    )
    deploy(deliver, deployment_id=2, sha=SHA["b"], hours=4)
    assert PullRequest.objects.get(number=2).deployment == row(2)


# --- failures, rework and recovery ----------------------------------------------------


def test_it_says_why_each_failed_deployment_failed_and_when_it_recovered(
    deliver, repository, github
):
    github.get(url__regex=rf"/repos/{FULL_NAME}/compare/.*").respond(200, json={"commits": []})
    deploy(deliver, deployment_id=1, sha=SHA["a"], hours=1)
    deploy(deliver, deployment_id=2, sha=SHA["b"], hours=2, state="failure")
    deploy(deliver, deployment_id=3, sha=SHA["b"], hours=3)
    deploy(deliver, deployment_id=4, sha=SHA["c"], hours=4)
    # Back to b: c was rolled back.
    deploy(deliver, deployment_id=5, sha=SHA["b"], hours=6)

    assert (row(2).failed, row(2).failure_reason) == (True, "status")
    assert row(2).recovery_time_hours == 1
    assert (row(4).failed, row(4).failure_reason) == (True, "rolled_back")
    assert row(4).recovery_time_hours == 2
    assert row(5).is_rework and not row(5).failed
    assert not row(1).failed and not row(3).failed


def test_it_fails_a_deployment_whose_pull_request_is_reverted_within_the_window(
    deliver, repository, github
):
    merged_pull_request(deliver, pr_id=1, number=1, opened=0, merged=1, sha=SHA["a"])
    deploy(deliver, deployment_id=1, sha=SHA["a"], hours=2)
    merged_pull_request(
        deliver,
        pr_id=2,
        number=2,
        opened=3,
        merged=4,
        sha=SHA["b"],
        title='Revert "Update the README"',
        body="Reverts acme/api#1",
    )
    compare_answers(github, SHA["a"], SHA["b"], [[SHA["b"]]])
    deploy(deliver, deployment_id=2, sha=SHA["b"], hours=5)

    assert (row(1).failed, row(1).failure_reason) == (True, "reverted")
    assert "#2" in row(1).failure_detail
    assert row(2).is_rework and not row(2).failed
    assert row(1).recovery_time_hours == 3


def test_it_fails_the_deployment_a_hotfix_followed_but_not_after_the_window(
    deliver, repository, github, team
):
    DeploymentSettings.objects.create(team=team, failure_window_days=1)
    github.get(url__regex=rf"/repos/{FULL_NAME}/compare/.*").respond(200, json={"commits": []})
    deploy(deliver, deployment_id=1, sha=SHA["a"], hours=1)
    merged_pull_request(
        deliver, pr_id=1, number=1, opened=2, merged=3, sha=SHA["b"], head_ref="hotfix/login"
    )
    deploy(deliver, deployment_id=2, sha=SHA["b"], hours=4)
    merged_pull_request(
        deliver, pr_id=2, number=2, opened=30, merged=40, sha=SHA["c"], head_ref="hotfix/late"
    )
    deploy(deliver, deployment_id=3, sha=SHA["c"], hours=41)

    assert (row(1).failed, row(1).failure_reason) == (True, "hotfixed")
    assert not row(2).failed  # the hotfix 36 hours later is outside the 1-day window


def test_a_revert_not_deployed_yet_fails_its_deployment_as_it_merges_and_at_recompute(
    deliver, repository, github
):
    from django.core.management import call_command

    merged_pull_request(deliver, pr_id=1, number=1, opened=0, merged=1, sha=SHA["a"])
    deploy(deliver, deployment_id=1, sha=SHA["a"], hours=2)
    merged_pull_request(
        deliver,
        pr_id=2,
        number=2,
        opened=3,
        merged=4,
        sha=SHA["b"],
        title='Revert "Update the README"',
        body="Reverts acme/api#1",
    )
    # Its merge writes the repository's deployments (a merge is one), which
    # derives their failures again.
    assert (row(1).failed, row(1).failure_reason) == (True, "reverted")
    assert row(1).recovery_time_hours is None  # nothing deployed since
    Deployment.objects.update(failed=False, failure_reason="")
    call_command("metrics_recompute", "--team", "acme")
    assert (row(1).failed, row(1).failure_reason) == (True, "reverted")


# --- the other sources ---------------------------------------------------------------------


def test_a_release_ships_from_its_tags_commit_read_from_github(deliver, repository, github, team):
    place = {"repository_id": REPOSITORY_ID, "repository_full_name": FULL_NAME}
    merged_pull_request(deliver, pr_id=1, number=1, opened=0, merged=1, sha=SHA["a"])
    first = release_payload(
        **place,
        release_id=1,
        tag_name="v1",
        target_commitish=SHA["a"],
        created_at=at(1.5),
        published_at=at(2),
    )
    assert deliver("release", first).status_code == 202
    merged_pull_request(deliver, pr_id=2, number=2, opened=2, merged=3, sha=SHA["b"])
    tag = github.get(f"/repos/{FULL_NAME}/commits/v2").respond(200, json={"sha": SHA["b"]})
    compare_answers(github, SHA["a"], SHA["b"], [[SHA["b"]]])
    second = release_payload(
        **place,
        release_id=2,
        tag_name="v2",
        target_commitish="main",
        created_at=at(3.5),
        published_at=at(4),
    )
    assert deliver("release", second).status_code == 202

    assert tag.called
    release = Deployment.objects.get(key="release:2")
    assert (release.sha, release.ref, release.source) == (SHA["b"], "v2", "release")
    assert PullRequest.objects.get(number=1).deployment.key == "release:1"
    assert PullRequest.objects.get(number=2).deployed_at == T0 + timedelta(hours=4)


def test_a_workflow_run_of_the_picked_workflow_is_a_deployment(deliver, repository, team):
    RepositoryDeploymentSource.objects.create(
        team=team,
        repository_github_id=REPOSITORY_ID,
        choice="workflow",
        workflow_path=".github/workflows/deploy.yml",
    )
    failed = workflow_run_payload(
        run_id=5,
        head_sha=SHA["a"],
        conclusion="failure",
        repository_id=REPOSITORY_ID,
        repository_full_name=FULL_NAME,
        updated_at=at(1),
    )
    retried = workflow_run_payload(
        run_id=5,
        run_attempt=2,
        head_sha=SHA["a"],
        conclusion="success",
        repository_id=REPOSITORY_ID,
        repository_full_name=FULL_NAME,
        updated_at=at(2),
    )
    assert deliver("workflow_run", retried).status_code == 202
    assert deliver("workflow_run", failed).status_code == 202  # the older attempt, late
    deployment = Deployment.objects.get()
    assert (deployment.status, deployment.finished_at) == ("success", T0 + timedelta(hours=2))


def test_a_repository_without_deployments_deploys_every_merge_to_its_default_branch(
    deliver, repository, github
):
    merged_pull_request(deliver, pr_id=1, number=1, opened=0, merged=3, sha=SHA["a"])
    merged_pull_request(
        deliver, pr_id=2, number=2, opened=0, merged=4, sha=SHA["b"], base_ref="release-1"
    )
    first = PullRequest.objects.get(number=1)
    assert first.deployment.key == "merge:1"
    assert first.deployed_at == first.merged_at
    assert first.lead_time_hours == first.cycle_time_hours == 3
    # A merge into another branch than the default one deploys nothing.
    assert not Deployment.objects.filter(key="merge:2").exists()

    # GitHub deployments appear: they are the source now, and the first one
    # ships what merges no longer count for.
    deploy(deliver, deployment_id=1, sha=SHA["a"], hours=5)
    first.refresh_from_db()
    assert first.deployment == row(1)
    assert first.lead_time_hours == 5


def test_deploying_the_rolled_back_commit_again_is_a_roll_forward_not_a_rollback(
    deliver, repository, github
):
    github.get(url__regex=rf"/repos/{FULL_NAME}/compare/.*").respond(200, json={"commits": []})
    deploy(deliver, deployment_id=1, sha=SHA["a"], hours=1)
    deploy(deliver, deployment_id=2, sha=SHA["b"], hours=2)
    deploy(deliver, deployment_id=3, sha=SHA["a"], hours=3)  # back to a
    deploy(deliver, deployment_id=4, sha=SHA["b"], hours=4)  # b again, fixed elsewhere

    assert (row(2).failed, row(2).failure_reason) == (True, "rolled_back")
    assert row(3).is_rework and not row(3).failed
    assert not row(4).failed and not row(4).is_rework
    assert row(2).recovery_time_hours == 1  # the rollback itself restored service


def test_an_earlier_first_deployment_arriving_late_takes_back_what_it_shipped_first(
    deliver, repository, github
):
    merged_pull_request(deliver, pr_id=1, number=1, opened=0, merged=1, sha=SHA["a"])
    merged_pull_request(deliver, pr_id=2, number=2, opened=0, merged=3, sha=SHA["b"])
    deploy(deliver, deployment_id=2, sha=SHA["b"], hours=4)  # seen first: ships both
    assert PullRequest.objects.get(number=1).deployment == row(2)
    deploy(deliver, deployment_id=1, sha=SHA["a"], hours=2)  # finished before it

    assert PullRequest.objects.get(number=1).deployment == row(1)
    assert PullRequest.objects.get(number=1).lead_time_hours == 2
    assert PullRequest.objects.get(number=2).deployment == row(2)


def test_it_ships_a_batch_of_merges_in_the_batch_and_derives_them_once(
    repository, github, monkeypatch, django_capture_on_commit_callbacks
):
    """A history page of merges (the repository deploys every merge): each
    merge deployment ships exactly its pull request in the batch that writes
    it, with no task and no compare (respx refuses any other path), and the
    repository's deployments are derived once for the batch, not per merge."""
    from apps.metrics.services import deployments as deployment_kind
    from apps.metrics.services.processors import MetricsEvent, Source, events_apply

    sent: list[tuple[str, Any]] = []
    monkeypatch.setattr(deployment_kind, "task_send", lambda name, **kw: sent.append((name, kw)))
    assessed: list[int | None] = []
    assess = deployment_kind.deployments_assess

    def counting(**kwargs: Any) -> int:
        assessed.append(kwargs["repository_github_id"])
        return assess(**kwargs)

    monkeypatch.setattr(deployment_kind, "deployments_assess", counting)
    events = [
        MetricsEvent(
            team=repository.installation.team,
            repository=repository,
            name="pull_request",
            payload=pull_request_payload(
                "closed",
                pr_id=100 + n,
                number=n,
                state="closed",
                merged=True,
                created_at=at(n),
                merged_at=at(n + 1),
                closed_at=at(n + 1),
                # Every merge commit differs but one: a shared sha ships nothing more.
                merge_commit_sha=f"{n:040x}" if n != 3 else f"{2:040x}",
                **({"head_ref": "hotfix/login"} if n == 5 else {}),
            ),
            source=Source.HISTORY,
        )
        for n in range(1, 21)
    ]

    with django_capture_on_commit_callbacks(execute=True):
        results = events_apply(events=events)

    assert all(result.ok for result in results)
    assert sent == []
    assert assessed == [REPOSITORY_ID]
    for pull_request in PullRequest.objects.order_by("number"):
        assert pull_request.deployment.key == f"merge:{pull_request.github_id}"
        assert pull_request.deployed_at == pull_request.merged_at
        assert pull_request.deployment.shipped_at is not None
    # The hotfix (5) fails the merge deployment before it, derived in the same batch.
    fourth = Deployment.objects.get(key="merge:104")
    assert (fourth.failed, fourth.failure_reason) == (True, "hotfixed")
    assert Deployment.objects.get(key="merge:105").is_rework

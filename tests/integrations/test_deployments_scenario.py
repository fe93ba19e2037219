"""A repository's life of pull requests and deployments, posted to the real
webhook endpoint (signed) and the deployments API, with GitHub's compare
faked at its real path; the JSON figures of `GET /api/teams/<slug>/metrics/`
and the deployments list equal the ones computed by hand below.

All four sources appear (merges, a release, the deployment workflow's run,
GitHub's deployments, and one from the API): GitHub's (with the API's) are the
repository's source once seen, so the others are stored but never counted.
Events arrive out of order and redelivered; there is a rollback, a revert, a
hotfix and a failed status."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import respx
from django.test import Client

from apps.integrations.models import Repository
from apps.metrics.models import APIToken, Deployment, PullRequest
from apps.metrics.services.api_tokens import api_token_create
from apps.metrics.services.deployment_settings import repository_deployment_source_set
from github_app.webhook_payloads import (
    deployment_status_payload,
    iso,
    pull_request_payload,
    release_payload,
    workflow_run_payload,
)
from tests.integrations.conftest import repository_for

# The deployments tests' GitHub, repository and clock (their fixtures too: the
# app's settings, autouse, and the repository).
from tests.integrations.test_deployments import (  # noqa: F401
    API,
    FULL_NAME,
    INSTALLATION_ID,
    REPOSITORY_ID,
    T0,
    at,
    github_app_env,
    repository,
)

pytestmark = pytest.mark.django_db

# Monday 3 March 2025; the period asked is two weeks from it.
PERIOD = "from=2025-03-03&to=2025-03-16"
# The merge commits, in the order of the default branch's (linear) history.
M = {n: f"{n:x}" * 40 for n in range(1, 8)}
HISTORY = [M[n] for n in range(1, 8)]
# Three more repositories of the team, one source each (the second test).
WEB, LIB, DOCS = (200, "acme/web"), (300, "acme/lib"), (400, "acme/docs")
WEB_HISTORY = ["a1" * 20, "a2" * 20]
LIB_SHA = "b1" * 20


@pytest.fixture
def github():
    """GitHub's token and compare paths: the commits after base up to head on
    the linear history (none when head is behind: a rollback)."""

    def compare(request, base: str, head: str):
        ahead = []
        for history in (HISTORY, WEB_HISTORY):
            if base in history and head in history and history.index(head) > history.index(base):
                ahead = history[history.index(base) + 1 : history.index(head) + 1]
        status = "ahead" if ahead else "behind"
        return respx.MockResponse(
            200, json={"status": status, "commits": [{"sha": sha} for sha in ahead]}
        )

    with respx.mock(base_url=API, assert_all_called=False) as mock:
        mock.post(f"/app/installations/{INSTALLATION_ID}/access_tokens").respond(
            201, json={"token": "ghs_deploy", "expires_at": iso(datetime.now(UTC) + timedelta(1))}
        )
        mock.compare = mock.get(
            url__regex=r"/repos/acme/[a-z]+/compare/(?P<base>[0-9a-f]+)\.\.\.(?P<head>[0-9a-f]+)"
        ).mock(side_effect=compare)
        # A release of a branch: its tag's commit, read from GitHub.
        mock.get("/repos/acme/lib/commits/v1").respond(200, json={"sha": LIB_SHA})
        # A merged pull request's commits (GraphQL): unknown here, so each
        # pull request's lead time starts at its opening.
        mock.post("/graphql").respond(502)
        yield mock


def merge(
    deliver,
    number: int,
    *,
    opened: float,
    merged: float,
    repo: tuple[int, str] = (REPOSITORY_ID, FULL_NAME),
    sha: str = "",
    **fields: Any,
) -> None:
    payload = pull_request_payload(
        "closed",
        pr_id=repo[0] * 100 + number,
        number=number,
        state="closed",
        merged=True,
        created_at=at(opened),
        merged_at=at(merged),
        closed_at=at(merged),
        merge_commit_sha=sha or M[number],
        repository_id=repo[0],
        repository_full_name=repo[1],
        **fields,
    )
    assert deliver("pull_request", payload).status_code == 202


def status(
    deliver,
    deployment_id: int,
    *,
    sha: str,
    state: str,
    hours: float,
    delivery_id: str | None = None,
    answer: int = 202,
) -> None:
    payload = deployment_status_payload(
        state=state,
        status_id=deployment_id * 100 + int(hours * 10) % 100,
        status_at=at(hours),
        deployment_id=deployment_id,
        sha=sha,
        created_at=at(hours - 0.5),
        repository_id=REPOSITORY_ID,
        repository_full_name=FULL_NAME,
    )
    assert deliver("deployment_status", payload, delivery_id=delivery_id).status_code == answer


@pytest.fixture
def post_deployment(django_capture_on_commit_callbacks):
    """POST a deployment to the API as a CI would, and run what the view
    queues after commit (what it shipped)."""

    def post(token: str, **fields: Any) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            response = Client(enforce_csrf_checks=True).post(
                "/api/teams/acme/deployments/",
                json.dumps({"repository": FULL_NAME, "environment": "production", **fields}),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {token}",
            )
        return response.status_code

    return post


def test_a_repositorys_life_through_the_endpoints_gives_the_hand_computed_figures(
    team,
    owner,
    repository,  # noqa: F811 (the deployments tests' fixture, imported)
    github,
    deliver,
    post_deployment,
    no_sleep,
):
    write = api_token_create(
        team=team, name="ci", created_by=owner, scopes=[APIToken.Scope.DEPLOYMENTS_WRITE]
    )[1]
    read = api_token_create(team=team, name="read", created_by=owner, scopes=["read"])[1]

    # Hours from T0. Pull requests (opened → merged): 1 (0 → 2), 2 (1 → 5),
    # 3 (24 → 26), 4 reverts 3 (30 → 31), 5 a hotfix (50 → 52), 6 (70 → 72).
    # Deployments: D1 m2 success at 6; D2 m3 at 27; D3 (the API's) m4 at 32;
    # D4 m5 fails at 53; D5 m5 at 54; D6 m6 at 73; D7 m5 again at 75 (a rollback).
    merge(deliver, 1, opened=0, merged=2)
    merge(deliver, 2, opened=1, merged=5)
    # Until a deployment is seen, each merge deploys itself.
    assert PullRequest.objects.get(number=1).deployment.source == "merge"
    status(deliver, 1, sha=M[2], state="success", hours=6)
    merge(deliver, 3, opened=24, merged=26)
    # The revert is delivered before the deployment of what it reverts.
    merge(
        deliver,
        4,
        opened=30,
        merged=31,
        title='Revert "Change 3"',
        body="Reverts #3",
        head_ref="revert-3-change",
    )
    status(deliver, 2, sha=M[3], state="success", hours=27, delivery_id="d2-success")
    # GitHub redelivers it (200: already received).
    status(deliver, 2, sha=M[3], state="success", hours=27, delivery_id="d2-success", answer=200)
    status(deliver, 2, sha=M[3], state="in_progress", hours=26.8)  # older, late
    started = {"started_at": at(31.75), "finished_at": at(32), "idempotency_key": "run-3"}
    assert post_deployment(write, sha=M[4], status="success", **started) == 201
    assert post_deployment(write, sha=M[4], status="success", **started) == 200
    # A release and the workflow's run: stored, not counted (GitHub's are the source).
    release = release_payload(
        release_id=77,
        tag_name="v1",
        target_commitish=M[4],
        created_at=at(40),
        published_at=at(40),
        repository_id=REPOSITORY_ID,
        repository_full_name=FULL_NAME,
    )
    assert deliver("release", release).status_code == 202
    merge(deliver, 5, opened=50, merged=52, head_ref="hotfix/login")
    status(deliver, 4, sha=M[5], state="failure", hours=53)
    status(deliver, 5, sha=M[5], state="success", hours=54)
    status(deliver, 5, sha=M[5], state="in_progress", hours=53.9)  # older, late
    # The admin names the deployment workflow (the choice stays automatic).
    repository_deployment_source_set(
        team=team,
        repository_github_id=REPOSITORY_ID,
        choice="auto",
        workflow_path=".github/workflows/deploy.yml",
    )
    run = workflow_run_payload(
        run_id=88,
        head_sha=M[5],
        conclusion="success",
        run_started_at=at(53.5),
        updated_at=at(54.1),
        repository_id=REPOSITORY_ID,
        repository_full_name=FULL_NAME,
    )
    assert deliver("workflow_run", run).status_code == 202
    merge(deliver, 6, opened=70, merged=72)
    # The rollback is delivered before the deployment it rolls back.
    status(deliver, 7, sha=M[5], state="success", hours=75)
    status(deliver, 6, sha=M[6], state="success", hours=73)

    assert set(Deployment.objects.values_list("source", flat=True)) == {
        "github",
        "api",
        "release",
        "workflow",
        "merge",
    }
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {read}"}
    figures = client.get(f"/api/teams/acme/metrics/?{PERIOD}", **auth).json()["deployments"]
    listed = client.get(f"/api/teams/acme/deployments/?{PERIOD}", **auth).json()["deployments"]

    # By hand, the counted ones in the order they finished:
    #   D1 6 ok; D2 27 reverted (4 reverted 3, which it shipped, at 31);
    #   D3 32 hotfixed (hotfix 5 merged at 52, before the next success at 54);
    #   D4 53 its status; D5 54 ok; D6 73 rolled back (D7 deployed m5 again); D7 75 ok.
    # Attempts 7, successes 6 (6 ÷ 2 weeks = 3 a week), failed 4 (4/7).
    # Rework: D3 ships a revert, D5 a hotfix, D7 is a rollback: 3 of 6.
    # Recovery, to the next success that did not fail: D2 27 → 54 = 27 h,
    # D3 32 → 54 = 22, D4 53 → 54 = 1, D6 73 → 75 = 2: median 12, p90 at
    # 2.7 of 3: 22 + 0.7 * 5 = 25.5.
    # Lead time, from opening (no commit known) to the first deployment
    # containing it: 1 → D1 6 h, 2 → D1 5, 3 → D2 3, 4 → D3 2, 5 → D5 4,
    # 6 → D6 3: median 3.5, p90 at 4.5 of 5: 5 + 0.5 * 1 = 5.5.
    assert (figures["count"], figures["attempts"], figures["failed"]) == (6, 7, 4)
    assert figures["per_week"] == 3.0
    assert figures["change_failure_rate"] == round(4 / 7, 4)
    assert (figures["rework"], figures["rework_rate"]) == (3, 0.5)
    assert figures["recovery_time_hours"] == {"median": 12.0, "p90": 25.5, "count": 4}
    assert figures["lead_time_hours"] == {
        "median": 3.5,
        "p90": 5.5,
        "count": 6,
        "from_opening": 6,
    }
    assert [(week["deployments"], week["failed"]) for week in figures["weekly"]] == [
        (6, 4),
        (0, 0),
    ]
    by_sha_time = [
        (
            item["source"],
            item["sha"][:1],
            item["status"],
            item["failure_reason"],
            item["rework"],
            item["pull_requests"],
        )
        for item in sorted(listed, key=lambda item: item["finished_at"])
    ]
    assert by_sha_time == [
        ("github", "2", "success", None, False, [1, 2]),
        ("github", "3", "success", "reverted", False, [3]),
        ("api", "4", "success", "hotfixed", True, [4]),
        ("github", "5", "failure", "status", False, []),
        ("github", "5", "success", None, True, [5]),
        ("github", "6", "success", "rolled_back", False, [6]),
        ("github", "5", "success", None, True, []),
    ]


def test_three_repositories_of_the_other_sources_give_the_hand_computed_figures(
    team,
    owner,
    repository,  # noqa: F811 (the deployments tests' fixture, imported)
    github,
    deliver,
    no_sleep,
):
    installation = repository.installation
    for github_id, full_name in (WEB, LIB, DOCS):
        repository_for(installation=installation, github_id=github_id, full_name=full_name)
    # acme/api has nothing this time: the team's figures are the three's.
    repository_deployment_source_set(
        team=team,
        repository_github_id=WEB[0],
        choice="workflow",
        workflow_path=".github/workflows/deploy.yml",
    )
    read = api_token_create(team=team, name="read", created_by=owner, scopes=["read"])[1]

    def run(run_id: int, sha: str, conclusion: str, hours: float) -> None:
        payload = workflow_run_payload(
            run_id=run_id,
            head_sha=sha,
            conclusion=conclusion,
            run_started_at=at(hours - 0.5),
            updated_at=at(hours),
            repository_id=WEB[0],
            repository_full_name=WEB[1],
        )
        assert deliver("workflow_run", payload).status_code == 202

    def release(release_id: int, hours: float, **fields: Any) -> None:
        payload = release_payload(
            release_id=release_id,
            tag_name=f"v{release_id}",
            target_commitish="main",
            created_at=at(hours - 0.1),
            published_at=at(hours),
            repository_id=LIB[0],
            repository_full_name=LIB[1],
            **fields,
        )
        assert deliver("release", payload).status_code == 202

    # acme/web, its workflow's runs: web#1 (0 → 5) and web#2 (12 → 15); R1
    # w1 at 10, R2 w2 fails at 20, R3 w2 at 22, R4 cancelled (no deployment).
    merge(deliver, 1, opened=0, merged=5, repo=WEB, sha=WEB_HISTORY[0])
    merge(deliver, 2, opened=12, merged=15, repo=WEB, sha=WEB_HISTORY[1])
    run(1, WEB_HISTORY[0], "success", 10)
    run(3, WEB_HISTORY[1], "success", 22)  # before the failed attempt's event
    run(2, WEB_HISTORY[1], "failure", 20)
    run(4, WEB_HISTORY[1], "cancelled", 23)
    # acme/lib: lib#1 (25 → 28) deploys itself by its merge, until the first
    # release (30, of its branch main) takes it; a prerelease and a draft do nothing.
    merge(deliver, 1, opened=25, merged=28, repo=LIB, sha=LIB_SHA)
    assert Deployment.objects.get(key=f"merge:{LIB[0] * 100 + 1}").shipped_at is not None
    release(1, 30)
    release(2, 40, prerelease=True)
    release(3, 41, draft=True)
    # acme/docs, its merges: docs#1 (0 → 1), docs#2 (2 → 4), docs#3 reverts 2 (5 → 6).
    merge(deliver, 1, opened=0, merged=1, repo=DOCS, sha="d1" * 20)
    merge(deliver, 2, opened=2, merged=4, repo=DOCS, sha="d2" * 20)
    revert = {"title": 'Revert "Change 2"', "body": "Reverts #2", "head_ref": "revert-2-change"}
    merge(deliver, 3, opened=5, merged=6, repo=DOCS, sha="d3" * 20, **revert)

    auth = {"HTTP_AUTHORIZATION": f"Bearer {read}"}
    figures = Client().get(f"/api/teams/acme/metrics/?{PERIOD}", **auth).json()["deployments"]
    listed = Client().get(f"/api/teams/acme/deployments/?{PERIOD}", **auth).json()["deployments"]

    # By hand. Successes: web R1, R3; lib's release 1; docs' three merges: 6
    # (3 a week). Attempts: those and R2: 7. Failed: R2 (its status), docs#2's
    # merge (reverted by docs#3 two hours later): 2 of 7. Rework: docs#3's
    # merge (a revert): 1 of 6. Recovery: R2 20 → R3 22, docs#2 4 → docs#3 6:
    # 2 and 2. Lead time from opening: web#1 0 → 10, web#2 12 → 22, lib#1 25
    # → 30 (the release, not its merge), docs 1, 2, 1: 1, 1, 2, 5, 10, 10,
    # median 3.5, p90 at 4.5 of 5: 10.
    assert (figures["count"], figures["attempts"], figures["failed"]) == (6, 7, 2)
    assert figures["per_week"] == 3.0
    assert figures["change_failure_rate"] == round(2 / 7, 4)
    assert (figures["rework"], figures["rework_rate"]) == (1, round(1 / 6, 4))
    assert figures["recovery_time_hours"] == {"median": 2.0, "p90": 2.0, "count": 2}
    assert figures["lead_time_hours"] == {
        "median": 3.5,
        "p90": 10.0,
        "count": 6,
        "from_opening": 6,
    }
    summary = sorted(
        (
            item["repository"],
            item["finished_at"],
            item["source"],
            item["status"],
            item["failure_reason"],
            item["rework"],
            item["pull_requests"],
        )
        for item in listed
    )
    assert [row[:1] + row[2:] for row in summary] == [
        ("acme/docs", "merge", "success", None, False, [1]),
        ("acme/docs", "merge", "success", "reverted", False, [2]),
        ("acme/docs", "merge", "success", None, True, [3]),
        ("acme/lib", "release", "success", None, False, [1]),
        ("acme/web", "workflow", "success", None, False, [1]),
        ("acme/web", "workflow", "failure", "status", False, []),
        ("acme/web", "workflow", "success", None, False, [2]),
    ]
    assert Repository.objects.count() == 4

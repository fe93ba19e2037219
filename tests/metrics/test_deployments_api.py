"""POST and GET /api/teams/<slug>/deployments/: deployments from any CI, recorded
through the one entry with a token of the deployments:write scope, refused
with a clear 4xx for every bad field; and the list of a period."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from apps.metrics.models import APIToken, Deployment, PullRequest
from apps.metrics.services.api_tokens import api_token_create
from apps.metrics.services.shipping import deployment_ship

pytestmark = pytest.mark.django_db

URL = "/api/teams/acme/deployments/"
SHA = "a" * 40
Scope = APIToken.Scope


@pytest.fixture
def write_token(team, owner):
    return api_token_create(
        team=team, name="ci", created_by=owner, scopes=[Scope.DEPLOYMENTS_WRITE]
    )[1]


@pytest.fixture
def read_token(team, owner):
    return api_token_create(team=team, name="read", created_by=owner, scopes=[Scope.READ])[1]


def body(**changes: Any) -> dict[str, Any]:
    sent = {
        "repository": "acme/api",
        "sha": SHA,
        "environment": "production",
        "status": "success",
        "started_at": "2025-01-10T09:00:00Z",
        "finished_at": "2025-01-10T09:05:00Z",
        "idempotency_key": "run-1",
    }
    sent.update(changes)
    return {key: value for key, value in sent.items() if value is not ...}


def post(token: str, sent: Any, *, raw: bytes | None = None):
    client = Client(enforce_csrf_checks=True)
    return client.post(
        URL,
        raw if raw is not None else json.dumps(sent),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_it_records_a_deployment_then_answers_200_to_the_same_key(repository, write_token):
    first = post(write_token, body())
    assert first.status_code == 201, first.content
    assert first.json()["status"] == "success" and first.json()["production"] is True
    again = post(write_token, body())
    assert again.status_code == 200
    deployment = Deployment.objects.get()
    assert (deployment.key, deployment.source, deployment.repository) == (
        "api:run-1",
        "api",
        repository,
    )
    assert deployment.finished_at == datetime(2025, 1, 10, 9, 5, tzinfo=UTC)


def test_it_moves_a_deployment_forward_and_never_back(repository, write_token):
    started = body(status="in_progress", finished_at=None)
    assert post(write_token, started).status_code == 201
    assert post(write_token, body(status="failure")).status_code == 200
    assert post(write_token, started).status_code == 200  # older: changes nothing
    deployment = Deployment.objects.get()
    assert (deployment.status, deployment.failed, deployment.failure_reason) == (
        "failure",
        True,
        "status",
    )


def test_it_ships_the_pull_requests_merged_before_a_first_deployment(repository, write_token, team):
    PullRequest.objects.create(
        team=team,
        repository=repository,
        repository_github_id=repository.github_id,
        github_id=1,
        number=7,
        state="merged",
        pr_created_at=datetime(2025, 1, 9, 9, tzinfo=UTC),
        merged_at=datetime(2025, 1, 10, 8, tzinfo=UTC),
        merge_commit_sha=SHA,
    )
    response = post(write_token, body())
    assert response.status_code == 201
    # The shipping runs after the commit, which the test's transaction never makes.
    deployment_ship(deployment_id=Deployment.objects.get().pk, previous_id=None, shas=None)
    pull_request = PullRequest.objects.get()
    assert pull_request.deployed_at == datetime(2025, 1, 10, 9, 5, tzinfo=UTC)
    assert pull_request.lead_time_hours == 24 + 5 / 60


def test_it_refuses_a_reused_key_for_another_commit(repository, write_token):
    post(write_token, body())
    response = post(write_token, body(sha="b" * 40))
    assert response.status_code == 409
    assert "idempotency_key" in response.json()["error"]


@pytest.mark.parametrize(
    ("sent", "reason"),
    [
        (body(repository=...), "'repository' is missing"),
        (body(repository="acme"), "owner/name"),
        (body(repository="acme/other"), "Unknown repository 'acme/other'"),
        (body(sha="abc"), "'sha' must be a full commit sha"),
        (body(sha="g" * 40), "'sha' must be a full commit sha"),
        (body(sha=12), "'sha' must be a full commit sha"),
        (body(environment=""), "'environment' is empty"),
        (body(environment="prod\x00"), "NUL"),
        (body(environment="p" * 300), "too long"),
        (body(status="done"), "'status' must be one of"),
        (body(status=["success"]), "'status' must be a string"),
        (body(finished_at="yesterday"), "'finished_at' is not a time"),
        (body(finished_at="2025-01-10T09:05:00"), "'finished_at' is not a time"),
        (body(finished_at=1736500000), "'finished_at' must be an ISO 8601 time"),
        (body(finished_at=...), "'finished_at' is required"),
        (body(status="in_progress"), "'finished_at' is only for a finished deployment"),
        (body(status="pending", started_at=..., finished_at=...), "'started_at' is required"),
        (body(finished_at="2025-01-10T08:00:00Z"), "before 'started_at'"),
        (body(finished_at="2999-01-01T00:00:00Z"), "in the future"),
        (body(idempotency_key="two words"), "'idempotency_key' must be"),
        (body(idempotency_key="k" * 201), "too long"),
        (body(idempotency_key="١٢"), "'idempotency_key' must be"),
        (body(extra=1), "Unknown key(s): extra"),
        ([body()], "must be a JSON object"),
    ],
)
def test_it_refuses_every_bad_field_with_its_reason(repository, write_token, sent, reason):
    response = post(write_token, sent)
    assert response.status_code == 400, response.content
    assert reason in response.json()["error"]
    assert not Deployment.objects.exists()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b" " * 20000, "too large"),
        (b"[" * 5000 + b"]" * 5000, "not JSON"),
        (b'{"environment": "\\ud800"}', "not JSON"),
    ],
)
def test_it_refuses_a_body_that_is_not_a_json_object(repository, write_token, raw, reason):
    response = post(write_token, None, raw=raw)
    assert response.status_code == 400
    assert reason in response.json()["error"]


def test_it_needs_the_write_scope_to_record(repository, read_token):
    response = post(read_token, body())
    assert response.status_code == 403
    assert not Deployment.objects.exists()


def test_it_refuses_a_session_post_without_csrf(repository, owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    response = client.post(URL, json.dumps(body()), content_type="application/json")
    assert response.status_code == 403
    assert not Deployment.objects.exists()


def test_it_lists_the_deployments_of_a_period_with_what_they_shipped(
    repository, write_token, read_token, team
):
    assert post(write_token, body()).status_code == 201
    assert post(write_token, body(idempotency_key="staging", environment="staging")).status_code
    late = body(
        idempotency_key="run-2",
        sha="b" * 40,
        status="failure",
        started_at="2025-02-10T09:00:00Z",
        finished_at="2025-02-10T09:05:00Z",
    )
    assert post(write_token, late).status_code == 201
    PullRequest.objects.create(
        team=team,
        repository=repository,
        github_id=1,
        number=7,
        deployment=Deployment.objects.get(key="api:run-1"),
    )

    response = Client().get(
        URL + "?from=2025-01-01&to=2025-01-31", HTTP_AUTHORIZATION=f"Bearer {read_token}"
    )
    assert response.status_code == 200
    (listed,) = response.json()["deployments"]  # staging is not production
    assert listed == {
        "repository": "acme/api",
        "sha": SHA,
        "environment": "production",
        "source": "api",
        "status": "success",
        "started_at": "2025-01-10T09:00:00+00:00",
        "finished_at": "2025-01-10T09:05:00+00:00",
        "failed": False,
        "failure_reason": None,
        "failure_detail": None,
        "rework": False,
        "recovery_time_hours": None,
        "pull_requests": [7],
    }


def test_it_refuses_a_bad_period_and_a_write_token_reading(repository, write_token, read_token):
    bad = Client().get(
        URL + "?from=2025-02-01&to=2025-01-01", HTTP_AUTHORIZATION=f"Bearer {read_token}"
    )
    assert bad.status_code == 400 and "'from' is after 'to'" in bad.json()["error"]
    refused = Client().get(URL, HTTP_AUTHORIZATION=f"Bearer {write_token}")
    assert refused.status_code == 403


def test_it_answers_405_to_other_methods(read_token):
    response = Client().put(URL, HTTP_AUTHORIZATION=f"Bearer {read_token}")
    assert response.status_code == 405


def test_the_metrics_api_has_the_five_keys(repository, write_token, read_token):
    post(write_token, body())
    post(
        write_token,
        body(
            idempotency_key="run-2",
            sha="b" * 40,
            status="failure",
            started_at="2025-01-11T09:00:00Z",
            finished_at="2025-01-11T10:00:00Z",
        ),
    )
    post(
        write_token,
        body(
            idempotency_key="run-3",
            sha="c" * 40,
            started_at="2025-01-11T11:00:00Z",
            finished_at="2025-01-11T12:30:00Z",
        ),
    )
    response = Client().get(
        "/api/teams/acme/metrics/?from=2025-01-01&to=2025-01-14",
        HTTP_AUTHORIZATION=f"Bearer {read_token}",
    )
    deployments = response.json()["deployments"]
    assert deployments["count"] == 2
    assert deployments["per_week"] == 1.0
    assert deployments["failed"] == 1
    assert deployments["change_failure_rate"] == round(1 / 3, 4)
    assert deployments["recovery_time_hours"] == {"median": 2.5, "p90": 2.5, "count": 1}
    assert deployments["rework_rate"] == 0
    assert deployments["lead_time_hours"]["median"] is None
    # Weeks from Monday: 30 December, 6 January (both deployments), 13 January.
    assert [week["deployments"] for week in deployments["weekly"]] == [0, 2, 0]
    assert [week["failed"] for week in deployments["weekly"]] == [0, 1, 0]
    assert deployments["previous"]["count"] == 0

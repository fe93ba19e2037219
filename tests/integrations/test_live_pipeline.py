"""The whole pipeline with real processes: deliveries posted over HTTP to a
gunicorn server, processed by a Celery worker on Redis, on the PostgreSQL test
database that pytest-django created (committed data: transactional_db)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings
from django.db import connection

from apps.integrations.models import WebhookDelivery
from apps.metrics.models import PRReview, PullRequest
from github_app.signatures import sign
from github_app.webhook_payloads import pull_request_payload, review_payload
from tests.integrations.conftest import (
    SECRET,
    installation_for,
    own_redis_database,
    repository_for,
)
from tests.integrations.processes import Processes, app_env
from tests.payloads.installations import installation_repositories_event, repository_stub

pytestmark = pytest.mark.integration

# A Redis database of this test's own, so stray messages of other runs don't mix in.
REDIS_DB = 13
PROCESS_TIMEOUT = 60.0


def _database_url() -> str:
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@dataclass
class Live:
    base_url: str
    processes: Processes

    def post(
        self,
        event: str,
        payload: dict[str, Any],
        *,
        delivery_id: str | None = None,
        secret: str = SECRET,
    ) -> int:
        body = json.dumps(payload).encode()
        response = httpx.post(
            f"{self.base_url}/webhooks/github/",
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-GitHub-Event": event,
                "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
                "X-Hub-Signature-256": sign(body=body, secret=secret),
            },
            timeout=10,
        )
        return response.status_code

    def diagnostics(self) -> str:
        return self.processes.logs()


@pytest.fixture
def live(transactional_db: None, tmp_path: Path) -> Iterator[Live]:
    env = app_env(
        database_url=_database_url(),
        redis_url=own_redis_database(REDIS_DB),
        DJANGO_SECRET_KEY="integration-test-secret-key",
        LOG_LEVEL="INFO",
    )
    processes = Processes(env=env, folder=tmp_path)
    try:
        base_url = processes.web(workers=1)
        processes.worker()
        yield Live(base_url=base_url, processes=processes)
    finally:
        # Before transactional_db empties the tables under them.
        processes.stop_all()


def _wait_for_processing(expected: int) -> list[WebhookDelivery]:
    deadline = time.monotonic() + PROCESS_TIMEOUT
    while time.monotonic() < deadline:
        deliveries = list(WebhookDelivery.objects.order_by("delivery_id"))
        if len(deliveries) >= expected and all(d.status != "received" for d in deliveries):
            return deliveries
        time.sleep(0.1)
    return list(WebhookDelivery.objects.order_by("delivery_id"))


def test_it_processes_deliveries_posted_to_a_live_server_with_a_real_worker(live, team):
    assert connection.vendor == "postgresql"
    installation = installation_for(team=team, installation_id=42, login="acme")
    repository = repository_for(installation=installation, github_id=100, full_name="acme/api")
    where = {"installation_id": 42, "repository_id": 100, "repository_full_name": "acme/api"}

    statuses = {
        "1-repos": live.post(
            "installation_repositories",
            installation_repositories_event(
                action="added",
                installation_id=42,
                added=[repository_stub(repository_id=101, full_name="acme/web")],
            ),
            delivery_id="1-repos",
        ),
        "2-opened": live.post(
            "pull_request",
            pull_request_payload("opened", pr_id=7, **where),
            delivery_id="2-opened",
        ),
        "3-review": live.post(
            "pull_request_review",
            review_payload(pr_id=7, review_id=70, **where),
            delivery_id="3-review",
        ),
        "4-untracked": live.post(
            "pull_request",
            pull_request_payload(
                pr_id=8, installation_id=42, repository_id=101, repository_full_name="acme/web"
            ),
            delivery_id="4-untracked",
        ),
    }
    again = live.post(
        "pull_request", pull_request_payload("opened", pr_id=7, **where), delivery_id="2-opened"
    )
    forged = live.post("pull_request", pull_request_payload(**where), secret="not-the-secret")

    deliveries = _wait_for_processing(expected=4)

    assert statuses == dict.fromkeys(statuses, 202)
    assert (again, forged) == (200, 401)
    outcome = {d.delivery_id: (d.status, d.status_reason) for d in deliveries}
    assert outcome == {
        "1-repos": ("processed", ""),
        "2-opened": ("processed", ""),
        "3-review": ("processed", ""),
        "4-untracked": ("ignored", "acme/web is not tracked by Acme."),
    }, live.diagnostics()
    assert all(d.attempts == 1 for d in deliveries)
    pull_request = PullRequest.objects.get()
    assert (pull_request.team, pull_request.repository, pull_request.github_id) == (
        team,
        repository,
        7,
    )
    assert PRReview.objects.get().pull_request == pull_request
    assert installation.repositories.filter(github_id=101, accessible=True).exists()

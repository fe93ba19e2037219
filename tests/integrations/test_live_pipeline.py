"""The whole pipeline with real processes: deliveries posted over HTTP to a
gunicorn server, processed by a Celery worker on Redis, on the PostgreSQL test
database that pytest-django created (committed data: transactional_db)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
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
from tests.integrations.conftest import (
    SECRET,
    installation_for,
    own_redis_database,
    repository_for,
)
from tests.payloads.installations import installation_repositories_event, repository_stub
from tests.payloads.pull_requests import pull_request_payload, review_payload

pytestmark = pytest.mark.integration

# A Redis database of this test's own, so stray messages of other runs don't mix in.
REDIS_DB = 13
START_TIMEOUT = 60.0
PROCESS_TIMEOUT = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _database_url() -> str:
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Live:
    base_url: str
    logs: list[Path]

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
        return "\n\n".join(f"--- {log.name}\n{_tail(log)}" for log in self.logs)


def _wait_until_up(url: str, processes: list[subprocess.Popen[bytes]]) -> bool:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if any(process.poll() is not None for process in processes):
            return False
        try:
            httpx.get(url, timeout=2)
            return True
        except httpx.TransportError:
            time.sleep(0.2)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture
def live(transactional_db: None, tmp_path: Path) -> Iterator[Live]:
    redis_url = own_redis_database(REDIS_DB)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_SECRET_KEY": "integration-test-secret-key",
        "DJANGO_DEBUG": "",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": redis_url,
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "LOG_LEVEL": "INFO",
    }
    port = _free_port()
    base_dir = Path(settings.BASE_DIR)
    server_log, worker_log = tmp_path / "gunicorn.log", tmp_path / "celery.log"
    commands = {
        server_log: [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
        ],
        worker_log: [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
    }
    processes = []
    try:
        for log, command in commands.items():
            with log.open("wb") as out:
                processes.append(
                    subprocess.Popen(
                        command, cwd=base_dir, env=env, stdout=out, stderr=subprocess.STDOUT
                    )
                )
        live = Live(base_url=f"http://127.0.0.1:{port}", logs=list(commands))
        if not _wait_until_up(f"{live.base_url}/healthz", processes):
            pytest.fail(f"the server did not start\n{live.diagnostics()}")
        yield live
    finally:
        # Before transactional_db empties the tables under them.
        for process in processes:
            _stop(process)


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

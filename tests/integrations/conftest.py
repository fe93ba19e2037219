"""Helpers for posting signed webhook deliveries through the real URL."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlparse, urlunparse

import pytest
from django.http import HttpResponse
from django.test import Client

from apps.integrations.models import Installation, Repository
from apps.integrations.services.installations import (
    installation_claim,
    installation_upsert,
    repositories_sync,
)
from apps.teams.models import Team
from github_app.signatures import sign
from tests.payloads.installations import installation_block, repository_stub

WEBHOOK_URL = "/webhooks/github/"
SECRET = "test-webhook-secret"  # config/test_settings.py


def signed_headers(
    body: bytes, *, event: str, delivery_id: str | None = None, secret: str = SECRET
) -> dict[str, str]:
    return {
        "HTTP_X_HUB_SIGNATURE_256": sign(body=body, secret=secret),
        "HTTP_X_GITHUB_EVENT": event,
        "HTTP_X_GITHUB_DELIVERY": delivery_id or str(uuid.uuid4()),
        "HTTP_X_GITHUB_HOOK_ID": "424242",
        "HTTP_X_GITHUB_HOOK_INSTALLATION_TARGET_TYPE": "integration",
        "HTTP_X_GITHUB_HOOK_INSTALLATION_TARGET_ID": "424242",
    }


def own_redis_database(number: int) -> str:
    """REDIS_URL's server with a database of the test's own, emptied first, so
    messages of other runs or tests never mix in."""
    import redis

    url = urlunparse(urlparse(os.environ["REDIS_URL"])._replace(path=f"/{number}"))
    redis.Redis.from_url(url).flushdb()
    return url


Deliver = Callable[..., HttpResponse]


@pytest.fixture
def deliver(client: Client, django_capture_on_commit_callbacks: Any) -> Deliver:
    """POST a payload as GitHub would, signed, and run what the view queues
    after commit (tasks run in-process in unit tests)."""

    def post(
        event: str,
        payload: dict[str, Any],
        *,
        delivery_id: str | None = None,
        lose_wake_up: bool = False,
    ) -> HttpResponse:
        """``lose_wake_up``: drop what the view queues, as when the broker is down."""
        body = json.dumps(payload).encode()
        with django_capture_on_commit_callbacks(execute=not lose_wake_up):
            return client.post(
                WEBHOOK_URL,
                body,
                content_type="application/json",
                **signed_headers(body, event=event, delivery_id=delivery_id),
            )

    return post


def installation_for(*, team: Team | None, installation_id: int, login: str) -> Installation:
    """An installation as the install flow leaves it: recorded, then claimed by
    ``team`` (unclaimed when team is None)."""
    installation = installation_upsert(
        data=installation_block(installation_id=installation_id, login=login)
    )
    if team is None:
        return installation
    return installation_claim(installation=installation, team=team, user=None)


def repository_for(
    *, installation: Installation, github_id: int, full_name: str, tracked: bool = True
) -> Repository:
    (repository,) = repositories_sync(
        installation=installation,
        repositories=[repository_stub(repository_id=github_id, full_name=full_name)],
    )
    if tracked:
        # Tracking belongs to the settings page (another part); tests set it directly.
        repository.tracked = True
        repository.save(update_fields=["tracked"])
    return repository


@pytest.fixture
def graphql():
    """GitHub's GraphQL API for history, faked at its real path, for the
    installation 42's repository acme/api (186853002); an installation token
    for it."""
    from datetime import UTC, datetime, timedelta

    import respx

    from tests.payloads.graphql import FakeGraphQL

    fake = FakeGraphQL(repository_id=186853002, full_name="acme/api")
    with respx.mock(base_url="https://api.github.com", assert_all_called=False) as mock:
        expires = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        mock.post("/app/installations/42/access_tokens").respond(
            201, json={"token": "ghs_history", "expires_at": expires}
        )
        mock.post("/graphql").mock(side_effect=fake.respond)
        yield fake


def github_app_settings(settings: Any, *, api: str = "https://api.github.com") -> None:
    """A GitHub App configured (with a test key) to call ``api``, and history
    reading a repository's whole past: what the history tests start from."""
    from tests.github_app.keys import private_key_pem

    settings.GITHUB_APP_ID = "12345"
    settings.GITHUB_APP_PRIVATE_KEY = private_key_pem()
    settings.GITHUB_API_URL = api
    settings.TFORMANCE_HISTORY_DAYS = 0


def iso(moment: datetime) -> str:
    """A moment as GitHub writes it in its answers."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

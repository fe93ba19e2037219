"""Set the demo up and feed its story through the real webhook.

The team, its admin and the installation's claim are made with the same
services the install flow uses; every pull request and review then arrives as a
signed delivery posted to ``POST /webhooks/github/`` (Django's test client, in
this process: the real URL, middleware, signature check and headers). With
in-process tasks each delivery is processed as it is stored; with REDIS_URL
set the deliveries wait for a Celery worker, like GitHub's."""

from __future__ import annotations

import contextlib
import json
import secrets
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.http.request import validate_host
from django.test import Client
from django.test.utils import override_settings

from apps.integrations.demo import story
from apps.integrations.models import (
    GitHubApp,
    HistoryRun,
    Installation,
    Repository,
    WebhookDelivery,
)
from apps.integrations.services.app_config import webhook_secrets
from apps.integrations.services.installations import (
    InstallationClaimError,
    installation_claim,
    installation_upsert,
    repositories_sync,
)
from apps.integrations.services.repository_access import repository_set_tracked
from apps.teams.models import Membership, Team
from apps.teams.services.memberships import membership_add, membership_set_role
from apps.teams.services.teams import team_create
from github_app.signatures import sign

DEMO_TEAM_NAME = "Demo team"
DEMO_ADMIN_USERNAME = "demo-admin"
WEBHOOK_PATH = "/webhooks/github/"
# Deliveries posted per transaction (see demo_run).
BATCH = 50


class DemoError(Exception):
    """The demo cannot run; the message says why."""


@dataclass
class DemoResult:
    team: Team
    username: str
    # The admin's new password, or None: the one set before still works.
    password: str | None
    posted: int = 0
    accepted: int = 0
    repeats: int = 0
    statuses: Counter[str] = field(default_factory=Counter)


def demo_wanted() -> tuple[bool, str]:
    """Whether ``make run`` should run the demo: only on an empty database with
    no GitHub App configured (a real setup never gets demo data by itself)."""
    if settings.GITHUB_APP_ID or GitHubApp.objects.exists():
        return False, "a GitHub App is configured"
    if settings.GITHUB_WEBHOOK_SECRETS:
        return False, "GITHUB_WEBHOOK_SECRET is set"
    if get_user_model().objects.exists() or Team.objects.exists():
        return False, "the database already has users or teams"
    return True, ""


def demo_team() -> Team | None:
    """The team that holds the demo's installation, once the demo has run."""
    installation = demo_installation()
    return installation.team if installation is not None else None


def _admin(*, reset_password: bool) -> tuple[AbstractBaseUser, str | None]:
    """The demo's admin, and its password when this run set one: a new admin
    gets one; an existing admin keeps its own (and its sessions) unless asked."""
    users = get_user_model()
    user = users.objects.filter(username=DEMO_ADMIN_USERNAME).first()
    if user is None:
        password = secrets.token_urlsafe(12)
        return users.objects.create_user(DEMO_ADMIN_USERNAME, password=password), password
    if not reset_password:
        return user, None
    # A new password ends the admin's sessions (Django's session hash).
    password = secrets.token_urlsafe(12)
    user.set_password(password)
    user.save(update_fields=["password"])
    return user, password


def _team(admin: AbstractBaseUser) -> Team:
    """The team that holds the demo installation, or a new one."""
    installation = demo_installation()
    team = installation.team if installation is not None else None
    if team is None:
        team = team_create(name=DEMO_TEAM_NAME, creator=admin)
    membership = membership_add(team=team, user=admin, role=Membership.Role.ADMIN)
    if not membership.is_admin:
        membership_set_role(membership=membership, role=Membership.Role.ADMIN)
    return team


def _installation(
    team: Team, admin: AbstractBaseUser, deliveries: list[story.DemoDelivery]
) -> None:
    """The installation claimed by the team and its three repositories tracked,
    before any pull request arrives (with workers, deliveries are processed
    later and in passes: they must find the claim made)."""
    created = deliveries[0]
    installation = installation_upsert(data=created.payload["installation"])
    # Marked before anything is tracked: nothing is read from GitHub for it, so
    # tracking starts no history run (the story is its history). Runs an older
    # demo started failed for want of a GitHub App; they go.
    if not installation.demo:
        installation.demo = True
        installation.save(update_fields=["demo", "updated_at"])
    HistoryRun.objects.filter(repository__installation=installation).delete()
    repositories_sync(installation=installation, repositories=created.payload["repositories"])
    try:
        installation_claim(installation=installation, team=team, user=admin)
    except InstallationClaimError as error:
        raise DemoError(f"The demo installation cannot be claimed: {error}") from None
    for repo in story.TRACKED:
        repository = Repository.objects.get(installation=installation, github_id=repo.github_id)
        if not repository.tracked:
            repository_set_tracked(repository=repository, tracked=True)


def _allowed_host() -> str:
    for host in ("localhost", "127.0.0.1", *settings.ALLOWED_HOSTS):
        candidate = host.lstrip(".")
        if candidate and candidate != "*" and validate_host(candidate, settings.ALLOWED_HOSTS):
            return candidate
    return "localhost"


@contextlib.contextmanager
def _signing_secret() -> Iterator[str]:
    """A secret the endpoint accepts: the configured one, or, with none (a local
    trial), a random one accepted by this process only while the demo posts.
    Nothing is stored and no other process accepts it; unsigned bodies are still
    refused."""
    configured = webhook_secrets()
    if configured:
        yield configured[0]
        return
    one_off = secrets.token_urlsafe(32)
    with override_settings(GITHUB_WEBHOOK_SECRETS=[one_off]):
        yield one_off


def demo_run(
    *, reset_password: bool = False, progress: Callable[[str], None] = lambda _: None
) -> DemoResult:
    """Create (or refresh) the demo team and post its deliveries. Safe to run
    again: the deliveries keep their ids, so a second run stores nothing new,
    and the admin keeps its password unless ``reset_password``."""
    deliveries = story.demo_deliveries(anchor=story.demo_anchor())
    with transaction.atomic():
        admin, password = _admin(reset_password=reset_password)
        team = _team(admin)
        _installation(team, admin, deliveries)
    result = DemoResult(team=team, username=DEMO_ADMIN_USERNAME, password=password)
    client = Client(HTTP_HOST=_allowed_host())
    # GitHub redelivers now and then with the same delivery id: one is sent twice.
    repeated = next(d for d in deliveries if d.event == "pull_request")
    to_post = [*deliveries, repeated]
    with _signing_secret() as secret:
        for first in range(0, len(to_post), BATCH):
            # One transaction per batch: the webhook's wake-ups run at its
            # commit, and one drain pass takes the batch (one commit per
            # request made the SQLite trial take a minute, mostly waiting on
            # the disk).
            with transaction.atomic():
                batch = to_post[first : first + BATCH]
                for delivery in batch:
                    status = _post(client, delivery, secret)
                    result.posted += 1
                    if status == 202:
                        result.accepted += 1
                    else:
                        result.repeats += 1
                # Stored as the webhook stores any delivery; said to be the
                # demo's before the drain takes them (at this commit), so its
                # rows and lifecycle events carry the demo as their source.
                WebhookDelivery.objects.filter(
                    delivery_id__in=[d.delivery_id for d in batch],
                    source=WebhookDelivery.Source.WEBHOOK,
                ).update(source=WebhookDelivery.Source.DEMO)
            progress(f"  {result.posted} of {len(to_post)} deliveries posted")
    ids = [delivery.delivery_id for delivery in deliveries]
    result.statuses = Counter(
        WebhookDelivery.objects.filter(delivery_id__in=ids).values_list("status", flat=True)
    )
    return result


def _post(client: Client, delivery: story.DemoDelivery, secret: str) -> int:
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    response = client.post(
        WEBHOOK_PATH,
        body,
        content_type="application/json",
        HTTP_X_GITHUB_EVENT=delivery.event,
        HTTP_X_GITHUB_DELIVERY=delivery.delivery_id,
        HTTP_X_GITHUB_HOOK_ID="4190019",
        HTTP_X_GITHUB_HOOK_INSTALLATION_TARGET_TYPE="integration",
        HTTP_X_GITHUB_HOOK_INSTALLATION_TARGET_ID=str(story.ORGANIZATION["id"]),
        HTTP_X_HUB_SIGNATURE_256=sign(body=body, secret=secret),
        HTTP_USER_AGENT="GitHub-Hookshot/demo",
    )
    if response.status_code not in (200, 202):
        raise DemoError(
            f"The webhook answered {response.status_code} to delivery {delivery.delivery_id} "
            f"({delivery.event}): {response.content.decode(errors='replace').strip()}"
        )
    return response.status_code


def demo_installation() -> Installation | None:
    return Installation.objects.filter(installation_id=story.INSTALLATION_ID).first()

"""Set the demo up and feed its story in as webhook deliveries.

The team, its admin and the installation's claim are made with the same
services the install flow uses; every pull request and review then arrives as a
delivery stored by the webhook's own store (`pipeline.store.store_delivery`,
one statement keyed by the delivery id, as the endpoint and the recovery of
GitHub's delivery log store theirs), with the demo as its source, and the drain
is woken as the endpoint wakes it. With in-process tasks each pass is processed
at its commit; with REDIS_URL set the deliveries wait for a Celery worker, like
GitHub's. (No server needs to be up: `make run` loads the demo before it serves.)"""

from __future__ import annotations

import json
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from apps.demo import story
from apps.demo.answers import demo_answers
from apps.demo.commits import demo_commits
from apps.integrations.models import (
    GitHubApp,
    HistoryRun,
    Installation,
    Repository,
    WebhookDelivery,
)
from apps.integrations.pipeline.store import store_delivery
from apps.integrations.scheduling import wake_drain
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
from github_app.deliveries import DeliveryHeaders

DEMO_TEAM_NAME = "Demo team"
DEMO_ADMIN_USERNAME = "demo-admin"
# The hook id GitHub would show on the demo app's deliveries.
DEMO_HOOK_ID = 4190019
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
    # The merge questions asked of the demo's people, and answered; None when
    # the deliveries still wait for a worker (the pull requests are not there yet).
    questions_asked: int | None = None
    questions_answered: int | None = None
    # The merged pull requests given their commits (apps/demo/commits.py); None
    # when the deliveries were not all processed yet.
    commits_listed: int | None = None


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
    # GitHub redelivers now and then with the same delivery id: one is sent twice.
    repeated = next(d for d in deliveries if d.event == "pull_request")
    to_store = [*deliveries, repeated]
    for first in range(0, len(to_store), BATCH):
        # One transaction per batch: the drain is woken at its commit, and one
        # pass takes the batch (one commit per delivery made the SQLite trial
        # take a minute, mostly waiting on the disk).
        with transaction.atomic():
            for delivery in to_store[first : first + BATCH]:
                result.posted += 1
                if _store(delivery):
                    result.accepted += 1
                else:
                    result.repeats += 1
            transaction.on_commit(wake_drain, robust=True)
        progress(f"  {result.posted} of {len(to_store)} deliveries stored")
    ids = [delivery.delivery_id for delivery in deliveries]
    result.statuses = Counter(
        WebhookDelivery.objects.filter(delivery_id__in=ids).values_list("status", flat=True)
    )
    if not result.statuses.get(WebhookDelivery.Status.RECEIVED):
        answers = demo_answers(team=team, admin=admin)
        result.questions_asked, result.questions_answered = answers.asked, answers.answered
        result.commits_listed = demo_commits(team=team)
    return result


def _store(delivery: story.DemoDelivery) -> bool:
    """Store the delivery as the webhook stores GitHub's; False when its id was
    stored before (the endpoint answers such a repeat 200, "already received")."""
    body = json.dumps(delivery.payload, separators=(",", ":"))
    headers = DeliveryHeaders(
        delivery_id=delivery.delivery_id,
        event=delivery.event,
        hook_id=DEMO_HOOK_ID,
        target_type="integration",
        target_id=story.ORGANIZATION["id"],
    )
    return store_delivery(
        headers=headers, body=body, payload=delivery.payload, source=WebhookDelivery.Source.DEMO
    )


def demo_installation() -> Installation | None:
    return Installation.objects.filter(installation_id=story.INSTALLATION_ID).first()

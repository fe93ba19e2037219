"""A tracked repository's past deployments, read from GitHub when its pull
requests' history is done (so what each deployment shipped finds them): its
GitHub deployments (each with its newest status), its published releases and
the runs of its deployment workflow, over the same window, shaped as the
webhooks' payloads and applied through the one entry (`events_apply`, source
history).

Resumable: each source has a cursor (`DeploymentHistoryCursor`: GitHub's
`Link: rel="next"` of the last page stored), and each page is applied (oldest
first) and its cursor moved in one transaction, so a read that stops (a killed
worker, a rate limit, GitHub down) goes on from the page after the last one
stored; a page another worker stored meanwhile is not applied twice. Pages come
newest first: what a deployment shipped does not depend on the order its
neighbours are stored in (the earliest to contain a pull request keeps it).
GitHub's rate limit waits for its reset, with no worker asleep on it
(`deployment_history_fetch` in apps/integrations/tasks.py; the resumer continues
a read whose wait is over or whose worker died). Its cost is in docs/history.md."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.common.scheduling import task_send
from apps.integrations.models import DeploymentHistoryCursor, Repository
from apps.integrations.services.app_config import github_app_config
from apps.integrations.services.github_api import installation_github
from apps.metrics.services.deployments import repository_workflow_path
from apps.metrics.services.processors import MetricsEvent, Source, events_apply
from github_app.api import (
    deployment_latest_status,
    deployments_page,
    releases_page,
    repository_block,
    workflow_runs_page,
)
from github_app.client import GitHubClient, InstallationStrategy
from github_app.errors import GitHubError, NotConfigured
from github_app.pagination import ListPage
from github_app.values import timestamp_or_none

logger = logging.getLogger(__name__)

TASK = "apps.integrations.tasks.deployment_history_fetch"
Cursor = DeploymentHistoryCursor
# The order the sources are read in (each to its end).
SOURCES = (Cursor.Source.DEPLOYMENTS, Cursor.Source.RELEASES, Cursor.Source.WORKFLOW_RUNS)
# A read that has not stored a page for this long lost its worker.
STALE_AFTER = timedelta(minutes=5)
# GitHub down: wait 30 s, 1, 2, 4 minutes; the fifth failure in a row fails the source.
FAILURE_BACKOFF = timedelta(seconds=30)
MAX_FAILURES = 5


def deployment_history_start(*, repository_id: int, since: datetime | None) -> None:
    """Every source's cursor back at its first page, over the window from ``since``
    (None: everything GitHub lists)."""
    for source in SOURCES:
        Cursor.objects.update_or_create(
            repository_id=repository_id,
            source=source,
            defaults={
                "status": Cursor.Status.READING,
                "window_start": since,
                "next_url": "",
                "pages_done": 0,
                "items_stored": 0,
                "requests_made": 0,
                "error": "",
                "failures": 0,
                "resume_at": None,
            },
        )


def deployment_history_queue(*, repository_id: int, since: datetime | None) -> None:
    """Start reading the repository's past deployments (its cursors, in the
    caller's transaction), and queue the read once it commits."""
    deployment_history_start(repository_id=repository_id, since=since)
    transaction.on_commit(lambda: deployment_history_send(repository_id))


def deployment_history_send(repository_id: int, *, eta: datetime | None = None) -> None:
    try:
        task_send(TASK, args=[repository_id, None], eta=eta)
    except Exception:  # the broker's errors vary by transport
        logger.exception(
            "could not queue the deployment history of %s; the resumer will", repository_id
        )


class DeploymentHistoryRetryRefused(Exception):
    """The deployments cannot be read again now; the message says why."""


def deployment_history_retry(*, repository: Repository) -> None:
    """Read the repository's deployments again from each source's first page,
    over the window of the read before (storing them again is safe: a
    deployment is keyed by its source's id). Refused, with the reason, while a
    read is under way, before the pull requests' history has started one, or
    when it could only fail the same way (untracked, the demo's, no GitHub App)."""
    name = repository.full_name
    if not repository.tracked:
        raise DeploymentHistoryRetryRefused(f"Track {name} first.")
    if repository.installation.demo:
        raise DeploymentHistoryRetryRefused(
            f"{name} is the demo's: its deployments are the demo's story, not read from GitHub."
        )
    try:
        github_app_config()
    except NotConfigured as exc:
        raise DeploymentHistoryRetryRefused(
            f"The deployments of {name} cannot be read: {exc}."
        ) from None
    with transaction.atomic():
        cursors = list(Cursor.objects.select_for_update().filter(repository=repository))
        if not cursors:
            raise DeploymentHistoryRetryRefused(
                f"The deployments of {name} are read once its pull requests' history is loaded."
            )
        if any(cursor.status in Cursor.ACTIVE for cursor in cursors):
            raise DeploymentHistoryRetryRefused(f"The deployments of {name} are being read.")
        deployment_history_queue(repository_id=repository.pk, since=cursors[0].window_start)


def deployment_histories_due(*, now: datetime | None = None) -> list[int]:
    """Repositories whose deployments' read should go on: a wait that is over,
    or a read that has not stored a page for `STALE_AFTER` (its worker died)."""
    now = now or timezone.now()
    waits_over = Cursor.objects.filter(status=Cursor.Status.WAITING, resume_at__lte=now)
    stale = Cursor.objects.filter(status=Cursor.Status.READING, updated_at__lt=now - STALE_AFTER)
    return sorted(
        {
            *waits_over.values_list("repository_id", flat=True),
            *stale.values_list("repository_id", flat=True),
        }
    )


def deployment_history_wait(*, repository_id: int, until: datetime, error: str = "") -> None:
    """The repository's unfinished sources wait until ``until`` (a rate limit's reset)."""
    Cursor.objects.filter(repository_id=repository_id, status__in=Cursor.ACTIVE).update(
        status=Cursor.Status.WAITING, resume_at=until, error=error, updated_at=timezone.now()
    )


def deployment_history_failure(*, repository_id: int, error: GitHubError) -> datetime | None:
    """A transient failure (GitHub down): when to try again, or None when it
    was the last one in a row allowed (the unfinished sources have failed)."""
    now = timezone.now()
    resume_at: datetime | None = None
    for cursor in Cursor.objects.filter(repository_id=repository_id, status__in=Cursor.ACTIVE):
        cursor.failures += 1
        cursor.error = str(error)
        if cursor.failures >= MAX_FAILURES:
            cursor.status, cursor.resume_at = Cursor.Status.FAILED, None
        else:
            cursor.status = Cursor.Status.WAITING
            cursor.resume_at = now + FAILURE_BACKOFF * 2 ** (cursor.failures - 1)
            resume_at = cursor.resume_at
        cursor.save()
    return resume_at


def deployment_history_fail(*, repository_id: int, error: str) -> None:
    """An error that can never succeed: the unfinished sources have failed."""
    Cursor.objects.filter(repository_id=repository_id, status__in=Cursor.ACTIVE).update(
        status=Cursor.Status.FAILED, error=error, resume_at=None, updated_at=timezone.now()
    )


def deployment_history_read(*, repository_id: int, since: datetime | None = None) -> int:
    """Read and apply the repository's deployments on from where each source's
    cursor stands, every page to the end of its window; how many events this
    call applied. A read queued before the cursors existed starts them from
    ``since``. GitHub's errors propagate (the task waits or fails), the pages
    stored so far kept."""
    repository = (
        Repository.objects.select_related("installation__team").filter(pk=repository_id).first()
    )
    if repository is None:
        return 0
    if repository.installation.team is None or not repository.tracked:
        Cursor.objects.filter(repository_id=repository_id, status__in=Cursor.ACTIVE).update(
            status=Cursor.Status.STOPPED, error="The repository is not tracked any more."
        )
        return 0
    if not Cursor.objects.filter(repository_id=repository_id).exists():
        with transaction.atomic():
            deployment_history_start(repository_id=repository_id, since=since)
    order = {source: index for index, source in enumerate(SOURCES)}
    pending = sorted(
        Cursor.objects.filter(repository_id=repository_id, status__in=Cursor.ACTIVE),
        key=lambda cursor: order[cursor.source],
    )
    if not pending:
        return 0
    reader = _Reader(repository=repository)
    applied = 0
    for cursor in pending:
        while cursor.status in Cursor.ACTIVE:
            cursor, stored = reader.next_page(cursor)
            applied += stored
    return applied


@dataclass
class _Page:
    events: list[MetricsEvent]
    next_url: str | None
    requests: int


class _Reader:
    """One call's reading: the installation's client, the repository's block."""

    def __init__(self, *, repository: Repository) -> None:
        self.repository = repository
        self.team = repository.installation.team
        self.full_name = repository.full_name
        self.github: GitHubClient[InstallationStrategy] = installation_github(
            installation_id=repository.installation.installation_id
        )
        self.block = repository_block(self.github, full_name=self.full_name)

    def next_page(self, cursor: Cursor) -> tuple[Cursor, int]:
        """Read the cursor's next page and store it with the cursor moved, in one
        transaction; the cursor as it now stands, and the events applied."""
        page = self._read(cursor)
        with transaction.atomic():
            locked = Cursor.objects.select_for_update().get(pk=cursor.pk)
            if (locked.next_url, locked.pages_done) != (cursor.next_url, cursor.pages_done):
                return locked, 0  # another worker stored this page meanwhile
            results = events_apply(events=page.events) if page.events else []
            locked.next_url = page.next_url or ""
            locked.pages_done += 1
            locked.items_stored += len(page.events)
            locked.requests_made += page.requests
            locked.status = Cursor.Status.READING if page.next_url else Cursor.Status.DONE
            locked.error, locked.failures, locked.resume_at = "", 0, None
            locked.save()
        for result in results:
            if not result.ok:
                logger.warning("deployment history of %s: %s", self.full_name, result.error)
        return locked, len(page.events)

    def _read(self, cursor: Cursor) -> _Page:
        after = cursor.window_start
        if cursor.source == Cursor.Source.DEPLOYMENTS:
            listed = deployments_page(
                self.github, full_name=self.full_name, next_url=cursor.next_url
            )
            deployments, ended = _within(listed, "created_at", after)
            payloads: list[tuple[str, dict[str, Any]]] = []
            for deployment in deployments:
                status = deployment_latest_status(
                    self.github, full_name=self.full_name, deployment_id=deployment.get("id") or 0
                )
                if status is None:
                    payloads.append(("deployment", {"action": "created", "deployment": deployment}))
                else:
                    payload = {"deployment": deployment, "deployment_status": status}
                    payloads.append(("deployment_status", {"action": "created", **payload}))
            return self._page(payloads, None if ended else listed.next_url, 1 + len(deployments))
        if cursor.source == Cursor.Source.RELEASES:
            listed = releases_page(self.github, full_name=self.full_name, next_url=cursor.next_url)
            # GitHub's release list is in the order of created_at, "the date of
            # the commit used for the release, and not the date when the release
            # was drafted or published": a release published yesterday from an
            # old commit sits among old ones. So every page is read (a
            # repository has few releases), each kept by its publication.
            published = [
                ("release", {"action": "published", "release": release})
                for release in listed.items
                if _since(release.get("published_at"), after)
            ]
            return self._page(published, listed.next_url, 1)
        workflow = repository_workflow_path(team=self.team, repository=self.repository)
        branch = self.block.get("default_branch")
        if not workflow or not isinstance(branch, str):
            return self._page([], None, 0)  # no deployment workflow picked: nothing to read
        listed = workflow_runs_page(
            self.github,
            full_name=self.full_name,
            workflow_file=workflow.rsplit("/", 1)[-1],
            branch=branch,
            since=after.strftime("%Y-%m-%d") if after else "1970-01-01",
            next_url=cursor.next_url,
        )
        runs = [
            ("workflow_run", {"action": "completed", "workflow_run": run}) for run in listed.items
        ]
        return self._page(runs, listed.next_url, 1)

    def _page(
        self, payloads: list[tuple[str, dict[str, Any]]], next_url: str | None, requests: int
    ) -> _Page:
        events = [
            MetricsEvent(
                team=self.team,
                repository=self.repository,
                name=name,
                payload={**payload, "repository": self.block},
                source=Source.HISTORY,
            )
            for name, payload in sorted(payloads, key=_when)
        ]
        return _Page(events=events, next_url=next_url, requests=requests)


def _since(value: object, after: datetime | None) -> bool:
    moment = timestamp_or_none(value)
    return moment is not None and (after is None or moment >= after)


def _within(page: ListPage, key: str, after: datetime | None) -> tuple[list[dict[str, Any]], bool]:
    """The page's items (newest first) created since ``after``, and whether the
    window ended on it (an item created before it: the rest are older)."""
    kept = []
    for item in page.items:
        if not _since(item.get(key), after):
            return kept, True
        kept.append(item)
    return kept, False


def _when(item: tuple[str, Mapping[str, Any]]) -> str:
    """Oldest first: a deployment's creation, a release's publication, a run's start."""
    _, payload = item
    block = payload.get("deployment") or payload.get("release") or payload.get("workflow_run")
    for key in ("created_at", "published_at", "run_started_at"):
        moment = timestamp_or_none(block.get(key)) if isinstance(block, Mapping) else None
        if moment is not None:
            return moment.isoformat()
    return ""

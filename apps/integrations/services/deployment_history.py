"""A tracked repository's past deployments, read from GitHub when its pull
requests' history is done (so what each deployment shipped finds them): its
GitHub deployments (each with its newest status), its published releases and
the runs of its deployment workflow, over the same window, shaped as the
webhooks' payloads and applied through the one entry (`events_apply`, source
history), oldest first, in one transaction: the shipping of each (queued
after the commit) then finds the deployment before it.

Idempotent (keyed as the webhooks' rows are), so a run that stops is simply
run again; GitHub's rate limit is the task's to wait for (`deployment_history_fetch`
in apps/integrations/tasks.py). Its cost is in docs/history.md."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction

from apps.common.scheduling import task_send
from apps.integrations.models import Repository
from apps.integrations.services.github_api import installation_github
from apps.metrics.services.deployments import repository_workflow_path
from apps.metrics.services.processors import MetricsEvent, Source, events_apply
from github_app.api import (
    deployment_latest_status,
    repository_block,
    repository_deployments,
    repository_releases,
    workflow_runs,
)
from github_app.values import timestamp_or_none

logger = logging.getLogger(__name__)


TASK = "apps.integrations.tasks.deployment_history_fetch"


def deployment_history_queue(*, repository_id: int, since: datetime | None) -> None:
    """Read the repository's past deployments once this transaction commits."""

    def send() -> None:
        try:
            task_send(TASK, args=[repository_id, since.isoformat() if since else None])
        except Exception:
            logger.exception("could not queue the deployment history of %s", repository_id)

    transaction.on_commit(send)


def deployment_history_read(*, repository_id: int, since: datetime | None) -> int:
    """Read and apply the repository's deployments since ``since`` (None:
    every one GitHub lists); how many events were applied."""
    repository = (
        Repository.objects.select_related("installation__team").filter(pk=repository_id).first()
    )
    if repository is None or repository.installation.team is None or not repository.tracked:
        return 0
    team = repository.installation.team
    github = installation_github(installation_id=repository.installation.installation_id)
    full_name = repository.full_name
    after = since.strftime("%Y-%m-%dT%H:%M:%SZ") if since else ""
    block = repository_block(github, full_name=full_name)
    payloads: list[tuple[str, dict]] = []
    for deployment in repository_deployments(github, full_name=full_name, since=after):
        status = deployment_latest_status(
            github, full_name=full_name, deployment_id=deployment.get("id") or 0
        )
        if status is None:
            payloads.append(("deployment", {"action": "created", "deployment": deployment}))
        else:
            payloads.append(
                (
                    "deployment_status",
                    {"action": "created", "deployment": deployment, "deployment_status": status},
                )
            )
    for release in repository_releases(github, full_name=full_name, since=after):
        payloads.append(("release", {"action": "published", "release": release}))
    workflow = repository_workflow_path(team=team, repository=repository)
    if workflow and isinstance(block.get("default_branch"), str):
        runs = workflow_runs(
            github,
            full_name=full_name,
            workflow_file=workflow.rsplit("/", 1)[-1],
            branch=block["default_branch"],
            since=after[:10] or "1970-01-01",
        )
        for run in runs:
            payloads.append(("workflow_run", {"action": "completed", "workflow_run": run}))
    events = [
        MetricsEvent(
            team=team,
            repository=repository,
            name=name,
            payload={**payload, "repository": block},
            source=Source.HISTORY,
        )
        for name, payload in sorted(payloads, key=_when)
    ]
    with transaction.atomic():
        results = events_apply(events=events) if events else []
    for result in results:
        if not result.ok:
            logger.warning("deployment history of %s: %s", full_name, result.error)
    return len(events)


def _when(item: tuple[str, dict]) -> str:
    """Oldest first: a deployment's creation, a release's publication, a run's start."""
    _, payload = item
    block = payload.get("deployment") or payload.get("release") or payload.get("workflow_run")
    for key in ("created_at", "published_at", "run_started_at"):
        moment = timestamp_or_none(block.get(key)) if isinstance(block, dict) else None
        if moment is not None:
            return moment.isoformat()
    return ""

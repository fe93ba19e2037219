"""Celery tasks of the integrations: thin, each calls a service or the drain.

What queues them is `apps/integrations/scheduling.py` (by task name): the drain
woken after a store and at a failed delivery's retry, a history run's next
pages. This module imports the services; no service imports it."""

from __future__ import annotations

import logging
from datetime import datetime

from celery import Task, shared_task
from django.db import OperationalError

from apps.integrations import scheduling
from apps.integrations.models import ReconcileRun
from apps.integrations.pipeline import drain
from apps.integrations.services import commits, deployment_history, deployments, history
from apps.integrations.services.reconcile import ReconcileBusy, deliveries_reconcile
from github_app.errors import GitHubError, RateLimited, Unavailable
from github_app.history import PageTooLarge

logger = logging.getLogger(__name__)


@shared_task(bind=True)
def drain_deliveries(self: Task, woken_for: float | None = None) -> int:
    # A message redelivered (its worker died mid-drain) may be for deliveries
    # that dead drain held locked, which a drain started since skipped.
    if (self.request.delivery_info or {}).get("redelivered"):
        woken_for = None
    return drain.drain_deliveries(woken_for=woken_for, on_retry=scheduling.drain_retry_at)


@shared_task
def sweep_pending_deliveries() -> int:
    return drain.sweep_pending(on_retry=scheduling.drain_retry_at)


@shared_task
def reconcile_deliveries() -> int:
    """Celery beat: deliveries GitHub failed to make, fetched from its delivery log."""
    try:
        return deliveries_reconcile(trigger=ReconcileRun.Trigger.SCHEDULE).recovered
    except ReconcileBusy:
        # The run holding the lock reads the same log.
        return 0


@shared_task
def continue_history_run(run_id: int) -> str:
    """Some pages of a history run, then its continuation queued: at once for
    more pages, at GitHub's reset time for a rate limit.

    In-process (no broker) the pages go on in this call, and a rate-limited run
    stays waiting: an eta means nothing there, and looping on it would spin.
    `resume_history_runs` (or the next `github_history`) continues it."""
    while True:
        step = history.history_run_step(run_id=run_id)
        if step.kind == "continue" and scheduling.is_in_process():
            continue
        if step.kind == "continue":
            scheduling.history_run_send(run_id)
        elif step.kind == "wait" and not scheduling.is_in_process():
            scheduling.history_run_send(run_id, eta=step.resume_at)
        return step.kind


@shared_task
def resume_history_runs() -> int:
    """Continue runs (and deployments' reads) whose wait is over or whose worker
    died (every minute, by beat)."""
    due = history.history_runs_due()
    for run_id in due:
        if scheduling.is_in_process():
            continue_history_run(run_id)
        else:
            scheduling.history_run_send(run_id)
    # The deployments' reads too (apps/integrations/services/deployment_history.py).
    repositories = deployment_history.deployment_histories_due()
    for repository_id in repositories:
        if scheduling.is_in_process():
            deployment_history_fetch(repository_id)
        else:
            deployment_history.deployment_history_send(repository_id)
    return len(due) + len(repositories)


@shared_task(
    bind=True,
    autoretry_for=(Unavailable, RateLimited),
    retry_backoff=30,
    retry_backoff_max=3600,
    max_retries=8,
)
def deployment_ship_fetch(self: Task, deployment_id: int) -> str:
    """The pull requests a deployment shipped, read from GitHub's compare API.
    GitHub's transient errors are retried; an app not configured, or an error
    that can never succeed, leaves the deployment unshipped (logged)."""
    try:
        return deployments.deployment_ship_read(deployment_id=deployment_id)
    except (Unavailable, RateLimited):
        raise
    except GitHubError:
        logger.exception("deployment %s: what it shipped could not be read", deployment_id)
        return "failed"


@shared_task
def deployment_history_fetch(repository_id: int, since: str | None = None) -> int:
    """A tracked repository's past deployments, releases and workflow runs, on
    from where each source's cursor stands. A rate limit waits for GitHub's
    reset, and GitHub down waits longer each time (the read queued again for
    then; in-process, `resume_history_runs` continues it): no worker sleeps.
    An error that can never succeed fails the read (logged)."""
    try:
        return deployment_history.deployment_history_read(
            repository_id=repository_id, since=datetime.fromisoformat(since) if since else None
        )
    except RateLimited as limit:
        deployment_history.deployment_history_wait(
            repository_id=repository_id, until=limit.reset_at, error=str(limit)
        )
        if not scheduling.is_in_process():
            deployment_history.deployment_history_send(repository_id, eta=limit.reset_at)
        return -1
    except Unavailable as error:
        resume_at = deployment_history.deployment_history_failure(
            repository_id=repository_id, error=error
        )
        if resume_at is not None and not scheduling.is_in_process():
            deployment_history.deployment_history_send(repository_id, eta=resume_at)
        return -1
    except GitHubError as error:
        logger.exception("the deployment history of repository %s could not be read", repository_id)
        deployment_history.deployment_history_fail(repository_id=repository_id, error=str(error))
        return -1


# A merged pull request's commits: retried on GitHub's transient errors (10 s,
# 20 s, 40 s … an hour) and at a rate limit's reset; an answer that can never
# be used (no such pull request, no app configured) is given up at once.
COMMITS_MAX_RETRIES = 8


@shared_task(bind=True, max_retries=COMMITS_MAX_RETRIES)
def fetch_pull_request_commits(self: Task, pull_request_id: int) -> str:
    try:
        return commits.pull_request_commits_fetch(pull_request_id=pull_request_id)
    except RateLimited as limit:
        if self.request.retries >= COMMITS_MAX_RETRIES:
            logger.error("gave up reading commits of pull request %s: %s", pull_request_id, limit)
            return "gave up"
        raise self.retry(eta=limit.reset_at) from limit
    except (Unavailable, PageTooLarge, OperationalError) as error:
        if self.request.retries >= COMMITS_MAX_RETRIES:
            logger.error("gave up reading commits of pull request %s: %s", pull_request_id, error)
            return "gave up"
        raise self.retry(countdown=min(10 * 2**self.request.retries, 3600)) from error
    except GitHubError as error:
        logger.warning("commits of pull request %s not read: %s", pull_request_id, error)
        return f"not read: {error}"

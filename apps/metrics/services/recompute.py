"""Recomputing what is derived from stored values: how a change of definition
(or of a team's calendar) reaches rows written before it.

For each pull request, from its stored timestamps, its reviews and its
commits: the first review and first approval (`rules`), the first commit time
and the AI signals under its team's rules (`ai_signals`), the revert and hotfix flags, and every
stored duration for its team's calendars (`durations`), exactly as the write
path derives them (`formulas`); only what changed is written.

A run (`RecomputeRun`) goes through its pull requests in lock order (team, then
GitHub id), a batch at a time; each batch locks its rows (as the write path
does, in the same order, so a webhook's batch and this one wait for each other
and cannot deadlock), writes and records its position in one transaction. So a
run is safe while webhooks arrive, and one that stops resumes where it was
(`manage.py metrics_recompute`, the task `continue_recompute_run`, or Celery
beat's `resume_recompute_runs`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.common.bulk import update_rows
from apps.common.scheduling import task_send
from apps.metrics.models import Commit, PRReview, PullRequest, RecomputeRun
from apps.metrics.services.ai_rules import ai_rules_by_team
from apps.metrics.services.ai_signals import first_commit_at, pull_request_ai_derive
from apps.metrics.services.batches import changed_fields, tracked_values
from apps.metrics.services.deployments import deployments_reassess
from apps.metrics.services.durations import Calendar, team_calendars
from apps.metrics.services.formulas import pull_request_derive, pull_request_reviews_derive
from apps.teams.models import Team

logger = logging.getLogger(__name__)

# Pull requests per batch: one transaction, three statements, whatever the size.
BATCH_SIZE = 500
# Batches one task invocation does before it queues the next (a worker is
# never held for long; a deploy's restart loses at most this many batches).
BATCHES_PER_STEP = 20
# A running run whose row has not moved for this long lost its worker.
STALE_AFTER = timedelta(minutes=5)
RECOMPUTE_TASK = "apps.metrics.tasks.continue_recompute_run"
# What the derivations read of a commit.
COMMIT_FIELDS = (
    "pk",
    "pull_request_id",
    "sha",
    "message",
    "authored_at",
    "author_logins",
    "trailers",
)

StepKind = Literal["continue", "done", "busy"]


@dataclass(frozen=True, slots=True)
class Step:
    kind: StepKind
    run: RecomputeRun | None


def pull_requests_recompute(rows: Sequence[PullRequest]) -> int:
    """Derive the rows' values again from what is stored, and write what changed
    (two queries: their reviews, and one UPDATE). How many rows changed. The
    caller holds the rows locked (or owns them, as a test's fixture does)."""
    if not rows:
        return 0
    reviews: dict[int, list[PRReview]] = {row.pk: [] for row in rows}
    for review in PRReview.objects.filter(pull_request_id__in=reviews).select_related("reviewer"):
        reviews[review.pull_request_id].append(review)
    commits: dict[int, list[Commit]] = {row.pk: [] for row in rows}
    for commit in Commit.objects.filter(pull_request_id__in=commits).only(*COMMIT_FIELDS):
        commits[commit.pull_request_id].append(commit)
    rules = ai_rules_by_team(row.team_id for row in rows)
    calendars: dict[int, dict[str, Calendar]] = {}
    loaded = []
    for row in rows:
        loaded.append((row, tracked_values(row)))
        if row.team_id not in calendars:
            calendars[row.team_id] = team_calendars(row.team)
        pull_request_reviews_derive(row, reviews[row.pk])
        # As the commit kind derives them (services/commits.py), before the durations.
        row.first_commit_at = first_commit_at(commits[row.pk])
        pull_request_ai_derive(row, commits=commits[row.pk], rules=rules[row.team_id])
        pull_request_derive(row, calendars=calendars[row.team_id])
    changed, fields = changed_fields(loaded)
    update_rows(model=PullRequest, rows=changed, fields=fields)
    return len(changed)


def _scope(run: RecomputeRun) -> QuerySet[PullRequest]:
    queryset = PullRequest.objects.all()
    if run.team_id is not None:
        queryset = queryset.filter(team_id=run.team_id)
    return queryset


def recompute_run_start(*, team: Team | None, reason: str = "") -> RecomputeRun:
    """The active run for this scope (a team, or every team with None), or a new
    queued one: a second request while one runs joins it."""
    active = RecomputeRun.objects.filter(team=team, status__in=RecomputeRun.ACTIVE).first()
    if active is not None:
        return active
    return RecomputeRun.objects.create(team=team, reason=reason[:200])


def recompute_queue(*, team: Team | None, reason: str = "") -> RecomputeRun:
    """Start (or join) a run and have a worker do it once this transaction
    commits: how a settings page (a calendar changed) asks for one."""
    run = recompute_run_start(team=team, reason=reason)
    transaction.on_commit(lambda: recompute_run_send(run.pk))
    return run


def recompute_run_send(run_id: int) -> None:
    try:
        task_send(RECOMPUTE_TASK, args=[run_id])
    except Exception:  # the broker's errors vary by transport
        logger.warning("recompute run %s could not be queued; the resumer will", run_id)


def recompute_run_step(*, run_id: int, batch_size: int = BATCH_SIZE) -> Step:
    """Recompute the run's next batch, in one transaction with its position."""
    with transaction.atomic():
        # skip_locked: a second worker on the same run (a duplicate message, the
        # resumer, the command) leaves the batch to the one already on it.
        run = (
            RecomputeRun.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("team")
            .filter(pk=run_id)
            .first()
        )
        if run is None:
            return Step("busy", None)
        if not run.is_active:
            return Step("done", run)
        now = timezone.now()
        if run.started_at is None:
            run.started_at = now
            run.total = _scope(run).count()
        after = Q(team_id__gt=run.last_team_id) | Q(
            team_id=run.last_team_id, github_id__gt=run.last_github_id
        )
        rows = list(
            _scope(run)
            .filter(after)
            .select_for_update(of=("self",))
            .select_related("team", "author")
            .order_by("team_id", "github_id")[:batch_size]
        )
        run.changed += pull_requests_recompute(rows)
        run.done += len(rows)
        if rows:
            run.last_team_id, run.last_github_id = rows[-1].team_id, rows[-1].github_id
        if len(rows) < batch_size:
            run.status, run.finished_at = RecomputeRun.Status.DONE, now
            # Deployments' failures (reverts, hotfixes), rework and recovery
            # times derive from the pull requests just recomputed.
            deployments_reassess(team=run.team)
            # Rows written since it started were derived by the write path itself.
            run.total = max(run.total or 0, run.done)
        else:
            run.status = RecomputeRun.Status.RUNNING
        run.save()
        return Step("done" if run.status == RecomputeRun.Status.DONE else "continue", run)


def recompute_run_continue(
    *,
    run_id: int,
    batches: int | None = BATCHES_PER_STEP,
    batch_size: int = BATCH_SIZE,
    on_batch: Callable[[RecomputeRun], None] | None = None,
) -> StepKind:
    """Do up to ``batches`` batches of the run (None: all of them)."""
    done = 0
    while batches is None or done < batches:
        step = recompute_run_step(run_id=run_id, batch_size=batch_size)
        if on_batch is not None and step.run is not None:
            on_batch(step.run)
        if step.kind != "continue":
            return step.kind
        done += 1
    return "continue"


def recompute_runs_due(*, now: datetime | None = None) -> list[int]:
    """Runs to continue: those never started (queued by a migration, or whose
    message was lost) and those no worker has moved for `STALE_AFTER` (killed)."""
    now = now or timezone.now()
    never_started = Q(status=RecomputeRun.Status.QUEUED, started_at__isnull=True)
    stale = Q(updated_at__lt=now - STALE_AFTER)
    return list(
        RecomputeRun.objects.filter(status__in=RecomputeRun.ACTIVE)
        .filter(never_started | stale)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def recompute_run_fail(*, run_id: int, error: str) -> None:
    RecomputeRun.objects.filter(pk=run_id, status__in=RecomputeRun.ACTIVE).update(
        status=RecomputeRun.Status.FAILED, error=error[:2000], finished_at=timezone.now()
    )

"""Celery tasks for the webhook pipeline: thin, they call the pipeline's drain.

The tasks own scheduling: waking the drain after a store (`wake_drain`), and
the retry of a failed delivery, queued for when it is due; a history run's
next pages, queued at once or for when GitHub's rate limit allows."""

from __future__ import annotations

import logging
from datetime import datetime

from celery import Task, current_app, shared_task
from django.db import transaction

from apps.integrations.models import ReconcileRun
from apps.integrations.pipeline import drain
from apps.integrations.pipeline.wake import WAKE_INTERVAL_SECONDS, DrainWaker
from apps.integrations.services import history

logger = logging.getLogger(__name__)


def _schedule_retry(at: datetime) -> None:
    # retry=False: with the broker down, fail at once; the sweeper finds it.
    drain_deliveries.apply_async(kwargs={"woken_for": at.timestamp()}, eta=at, retry=False)


@shared_task(bind=True)
def drain_deliveries(self: Task, woken_for: float | None = None) -> int:
    # A message redelivered (its worker died mid-drain) may be for deliveries
    # that dead drain held locked, which a drain started since skipped.
    if (self.request.delivery_info or {}).get("redelivered"):
        woken_for = None
    return drain.drain_deliveries(woken_for=woken_for, on_retry=_schedule_retry)


@shared_task
def sweep_pending_deliveries() -> int:
    return drain.sweep_pending(on_retry=_schedule_retry)


def send_drain(woken_for: float | None, countdown: float | None) -> None:
    # retry=False: with the broker down, fail at once; the delivery is stored.
    drain_deliveries.apply_async(kwargs={"woken_for": woken_for}, countdown=countdown, retry=False)


_waker = DrainWaker(
    send=send_drain,
    interval=WAKE_INTERVAL_SECONDS,
    in_process=lambda: bool(current_app.conf.task_always_eager),
)


def wake_drain() -> None:
    """Wake the drain for deliveries just stored (call it on commit)."""
    _waker.wake()


@shared_task
def reconcile_deliveries() -> int:
    """Celery beat: deliveries GitHub failed to make, fetched from its delivery log."""
    # Imported here: the reconcile service wakes the drain through this module.
    from apps.integrations.services.reconcile import ReconcileBusy, deliveries_reconcile

    try:
        return deliveries_reconcile(trigger=ReconcileRun.Trigger.SCHEDULE).recovered
    except ReconcileBusy:
        # The run holding the lock reads the same log.
        return 0


def _eager() -> bool:
    return bool(current_app.conf.task_always_eager)


def _send_history(run_id: int, eta: datetime | None = None) -> None:
    try:
        # retry=False: with the broker down, fail at once; the resumer finds the run.
        continue_history_run.apply_async(args=[run_id], eta=eta, retry=False)
    except Exception:  # the broker's errors vary by transport
        logger.warning("history run %s could not be queued; the resumer will", run_id)


@shared_task
def continue_history_run(run_id: int) -> str:
    """Some pages of a history run, then its continuation queued: at once for
    more pages, at GitHub's reset time for a rate limit.

    In-process (no broker) the pages go on in this call, and a rate-limited run
    stays waiting: an eta means nothing there, and looping on it would spin.
    `resume_history_runs` (or the next `github_history`) continues it."""
    while True:
        step = history.history_run_step(run_id=run_id)
        if step.kind == "continue" and _eager():
            continue
        if step.kind == "continue":
            _send_history(run_id)
        elif step.kind == "wait" and not _eager():
            _send_history(run_id, eta=step.resume_at)
        return step.kind


@shared_task
def resume_history_runs() -> int:
    """Continue runs whose wait is over or whose worker died (every minute, by beat)."""
    due = history.history_runs_due()
    for run_id in due:
        if _eager():
            continue_history_run(run_id)
        else:
            _send_history(run_id)
    return len(due)


def queue_history_run(run_id: int) -> None:
    """Run the history run's task once the transaction that made it commits."""
    transaction.on_commit(lambda: _send_history(run_id))

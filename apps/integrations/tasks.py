"""Celery tasks for the webhook pipeline: thin, they call the pipeline's drain.

The tasks own scheduling: waking the drain after a store (`wake_drain`), and
the retry of a failed delivery, queued for when it is due."""

from __future__ import annotations

from datetime import datetime

from celery import Task, current_app, shared_task

from apps.integrations.models import ReconcileRun
from apps.integrations.pipeline import drain
from apps.integrations.pipeline.wake import WAKE_INTERVAL_SECONDS, DrainWaker


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

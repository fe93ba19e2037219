"""Scheduling of the integrations: the one place that queues their work for
later, below the services.

Services, the pipeline and views call these functions; each sends its Celery
task by name (`apps.common.scheduling.task_send`), so nothing here imports
`apps.integrations.tasks`: the tasks import the services, never the reverse.

- the drain: woken after deliveries are stored (`wake_drain`, at most once per
  interval per process: `wake.py`), and queued for a failed delivery's retry
  (`drain_retry_at`);
- a history run's next pages (`history_run_queue`, `history_run_send`).
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction

from apps.common.scheduling import task_send, tasks_in_process
from apps.integrations.scheduling.wake import WAKE_INTERVAL_SECONDS, DrainWaker

logger = logging.getLogger(__name__)

DRAIN_TASK = "apps.integrations.tasks.drain_deliveries"
HISTORY_TASK = "apps.integrations.tasks.continue_history_run"


def is_in_process() -> bool:
    """Whether tasks run in this process as they are sent (no broker)."""
    return tasks_in_process()


def send_drain(woken_for: float | None, countdown: float | None) -> None:
    task_send(DRAIN_TASK, kwargs={"woken_for": woken_for}, countdown=countdown)


_waker = DrainWaker(send=send_drain, interval=WAKE_INTERVAL_SECONDS, in_process=is_in_process)


def wake_drain() -> None:
    """Wake the drain for deliveries just stored (call it on commit)."""
    _waker.wake()


def drain_retry_at(at: datetime) -> None:
    """Queue a drain for when a failed delivery's retry is due (the sweeper
    finds it if the broker is down)."""
    task_send(DRAIN_TASK, kwargs={"woken_for": at.timestamp()}, eta=at)


def history_run_send(run_id: int, *, eta: datetime | None = None) -> None:
    """Queue the history run's next pages now (or at ``eta``)."""
    try:
        task_send(HISTORY_TASK, args=[run_id], eta=eta)
    except Exception:  # the broker's errors vary by transport
        logger.warning("history run %s could not be queued; the resumer will", run_id)


def history_run_queue(run_id: int) -> None:
    """Run the history run's task once the transaction that made it commits."""
    transaction.on_commit(lambda: history_run_send(run_id))

"""Sending a Celery task by its name: how services queue work without importing
a tasks module (each app's tasks import its services, never the reverse).

With in-process tasks (no REDIS_URL: `CELERY_TASK_ALWAYS_EAGER`) a task sent
runs at once, in this process."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from celery import current_app


def tasks_in_process() -> bool:
    """Whether tasks run in this process as they are sent (no broker)."""
    return bool(current_app.conf.task_always_eager)


def task_send(
    name: str,
    *,
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    eta: datetime | None = None,
    countdown: float | None = None,
) -> None:
    """Queue the task registered under ``name`` (``apps.<app>.tasks.<function>``).
    retry=False: with the broker down this fails at once, and the caller's
    safety net (a sweeper, a resumer) finds the work later."""
    current_app.tasks[name].apply_async(
        args=list(args), kwargs=dict(kwargs or {}), eta=eta, countdown=countdown, retry=False
    )

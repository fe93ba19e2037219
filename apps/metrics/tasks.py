"""Celery tasks of the metrics: thin, they call services.

- lifecycle events (`services/lifecycle.py`): a consumer's events are one task
  per announcement, in order; a consumer that fails is retried on the events it
  had left, and the others are not told again;
- recompute runs (`services/recompute.py`): a run's next batches, then itself
  queued again until the run is done; beat resumes runs that stopped;
- day facts (`services/day_facts.py`): beat rebuilds the days whose rows
  changed;
- merge questions (`services/merge_questions.py`): the email of the questions
  a person was asked when their account was linked, retried while it fails.

Services queue these by name (`apps.common.scheduling`); none imports this module."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from celery import Task, shared_task
from django.db import OperationalError

from apps.common import scheduling
from apps.metrics.models import PullRequestEvent
from apps.metrics.services import day_facts, lifecycle, merge_question_mail, recompute
from apps.metrics.signals import lifecycle_events_announced

logger = logging.getLogger(__name__)

# A consumer failing this many times in a row on one event gives it up (logged).
CONSUMER_MAX_RETRIES = 8
# The on-commit announcement has had this long before the sweeper takes an event.
ANNOUNCE_GRACE = timedelta(minutes=1)


@shared_task(bind=True, max_retries=CONSUMER_MAX_RETRIES)
def consume_lifecycle_events(self: Task, consumer: str, event_ids: list[int]) -> int:
    try:
        return lifecycle.lifecycle_events_consume(consumer=consumer, event_ids=event_ids)
    except lifecycle.ConsumerFailed as failure:
        if self.request.retries >= CONSUMER_MAX_RETRIES:
            logger.error(
                "lifecycle consumer %s gave up on events %s: %s",
                consumer,
                failure.remaining,
                failure,
            )
            return 0
        # Backoff 10 s, 20 s, 40 s ... capped at an hour.
        countdown = min(10 * 2**self.request.retries, 3600)
        raise self.retry(
            kwargs={"consumer": consumer, "event_ids": failure.remaining}, countdown=countdown
        ) from failure


# Sending email is retried as lifecycle consumers are: 10 s, 20 s, 40 s … an hour.
EMAIL_MAX_RETRIES = 8


@shared_task(bind=True, max_retries=EMAIL_MAX_RETRIES)
def send_merge_question_emails(self: Task, question_ids: list[int]) -> int:
    try:
        return merge_question_mail.merge_questions_email(question_ids=question_ids)
    except Exception as error:
        if self.request.retries >= EMAIL_MAX_RETRIES:
            logger.error("gave up emailing merge questions %s: %s", question_ids, error)
            return 0
        countdown = min(10 * 2**self.request.retries, 3600)
        raise self.retry(countdown=countdown) from error


@shared_task
def announce_pending_lifecycle_events() -> int:
    """Celery beat: live events whose on-commit announcement was lost."""
    return lifecycle.lifecycle_events_announce(older_than=ANNOUNCE_GRACE)


def queue_consumers(*, events: Sequence[PullRequestEvent], **_: Any) -> None:
    """Receiver of `lifecycle_events_announced`: one task per consumer."""
    for consumer, event_ids in lifecycle.consumer_events(events).items():
        try:
            # retry=False: with the broker down, fail at once (and say so).
            consume_lifecycle_events.apply_async(
                kwargs={"consumer": consumer, "event_ids": event_ids}, retry=False
            )
        except Exception:  # the broker's errors vary by transport
            logger.exception("could not queue lifecycle consumer %s for %s", consumer, event_ids)


def connect_consumers() -> None:
    lifecycle_events_announced.connect(queue_consumers, dispatch_uid="metrics_lifecycle_consumers")


@shared_task
def continue_recompute_run(run_id: int) -> str:
    """Some batches of a recompute run, then its continuation queued (in-process:
    the whole run in this call)."""
    batches = None if scheduling.tasks_in_process() else recompute.BATCHES_PER_STEP
    try:
        kind = recompute.recompute_run_continue(run_id=run_id, batches=batches)
    except OperationalError:
        # A deadlock or a lost connection: the batch rolled back, and the
        # resumer continues the run from its last committed batch.
        logger.warning("recompute run %s stopped on a database error; resumed later", run_id)
        raise
    except Exception as error:
        recompute.recompute_run_fail(run_id=run_id, error=f"{type(error).__name__}: {error}")
        raise
    if kind == "continue":
        recompute.recompute_run_send(run_id)
    return kind


@shared_task
def resume_recompute_runs() -> int:
    """Celery beat: runs never started (queued by a migration) or left by a dead worker."""
    due = recompute.recompute_runs_due()
    for run_id in due:
        recompute.recompute_run_send(run_id)
    return len(due)


# A beat tick rebuilds stale days for at most this long, then leaves the rest to
# the next tick (a worker is never held for long; the figures read stale days
# from the rows meanwhile, so they are exact either way).
DAY_FACTS_BUDGET_SECONDS = 20.0


@shared_task
def refresh_day_facts() -> int:
    """Celery beat: rebuild the day facts of the days whose rows changed."""
    return day_facts.day_facts_refresh_for(seconds=DAY_FACTS_BUDGET_SECONDS)

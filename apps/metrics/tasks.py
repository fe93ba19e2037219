"""Celery tasks for lifecycle events: thin, they call services.lifecycle.

A consumer's events are one task per announcement, in order; a consumer that
fails is retried on the events it had left, and the others are not told again."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from celery import Task, shared_task

from apps.metrics.models import PullRequestEvent
from apps.metrics.services import lifecycle

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
    from apps.metrics.signals import lifecycle_events_announced

    lifecycle_events_announced.connect(queue_consumers, dispatch_uid="metrics_lifecycle_consumers")

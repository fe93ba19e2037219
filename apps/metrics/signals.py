"""Pull request lifecycle signals, sent once per live event after its commit.

Each kind's signal is sent with ``sender=PullRequestEvent`` and ``event=`` the
event (its ``pull_request`` and ``team`` loaded); ``lifecycle_events_announced``
follows once with ``events=`` every event of that announcement, in order.
Receivers run in the process that committed (a webhook drain, say): keep them
fast, and put slow or fallible work in a consumer (`services.lifecycle.CONSUMERS`),
which runs in its own Celery task with its own retries. docs/lifecycle.md."""

from __future__ import annotations

from django.dispatch import Signal

from apps.metrics.models import PullRequestEvent

Kind = PullRequestEvent.Kind

pull_request_opened = Signal()
pull_request_ready_for_review = Signal()
pull_request_first_review = Signal()
pull_request_approved = Signal()
pull_request_merged = Signal()
pull_request_closed = Signal()
pull_request_reopened = Signal()
pull_request_reverted = Signal()

# Every kind has its signal (tests/metrics/test_lifecycle.py checks it).
LIFECYCLE_SIGNALS: dict[Kind, Signal] = {
    Kind.OPENED: pull_request_opened,
    Kind.READY_FOR_REVIEW: pull_request_ready_for_review,
    Kind.FIRST_REVIEW: pull_request_first_review,
    Kind.APPROVED: pull_request_approved,
    Kind.MERGED: pull_request_merged,
    Kind.CLOSED: pull_request_closed,
    Kind.REOPENED: pull_request_reopened,
    Kind.REVERTED: pull_request_reverted,
}

lifecycle_events_announced = Signal()

__all__ = ["LIFECYCLE_SIGNALS", "Signal", "lifecycle_events_announced"]

"""Deliveries put back in the queue: a team admin's Retry, a repository tracked."""

from __future__ import annotations

from django.db import transaction

from apps.integrations.models import Installation, WebhookDelivery
from apps.integrations.scheduling import wake_drain
from apps.metrics.services.processors import EVENT_NAMES

Status = WebhookDelivery.Status


class RetryRefused(Exception):
    """The delivery cannot be retried; the message says why, for the page."""


def retry_delivery(*, delivery: WebhookDelivery) -> None:
    """Put a failed delivery back in the queue (a team admin pressed Retry).

    Only while its installation is still connected to the delivery's team: once
    disconnected (or claimed by another team), a retry would route the event to
    whoever holds the installation now."""
    still_connected = (
        delivery.team_id is not None
        and delivery.installation_id is not None
        and Installation.objects.filter(
            installation_id=delivery.installation_id, team_id=delivery.team_id
        ).exists()
    )
    if not still_connected:
        raise RetryRefused(
            f"Delivery {delivery.delivery_id} was not retried: its installation is no "
            "longer connected to this team."
        )
    requeued = WebhookDelivery.objects.filter(pk=delivery.pk, status=Status.FAILED).update(
        status=Status.RECEIVED, next_attempt_at=None
    )
    if not requeued:
        raise RetryRefused(f"Delivery {delivery.delivery_id} has not failed: nothing to retry.")
    transaction.on_commit(wake_drain, robust=True)


def requeue_ignored_deliveries(*, installation_id: int, repository_github_id: int) -> int:
    """Put a repository's ignored pull request and review deliveries back in the
    queue (it has just been tracked): they were kept for this. The processors
    take events in any order, so old ones go through as well as new. Returns how
    many were queued."""
    requeued = WebhookDelivery.objects.filter(
        status=Status.IGNORED,
        installation_id=installation_id,
        repository_github_id=repository_github_id,
        event__in=EVENT_NAMES,
    ).update(status=Status.RECEIVED, status_reason="", processed_at=None)
    if requeued:
        transaction.on_commit(wake_drain, robust=True)
    return requeued

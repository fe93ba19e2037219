"""Celery tasks for the webhook pipeline: thin, they call the delivery services."""

from celery import shared_task

from apps.integrations.services import deliveries


@shared_task
def drain_deliveries(woken_for: float | None = None) -> int:
    return deliveries.drain_deliveries(woken_for=woken_for)


@shared_task
def sweep_pending_deliveries() -> int:
    return deliveries.sweep_pending()

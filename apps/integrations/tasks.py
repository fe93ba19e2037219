"""Celery tasks for the webhook pipeline: thin, they call the delivery services."""

from celery import Task, shared_task

from apps.integrations.services import deliveries


@shared_task(bind=True)
def drain_deliveries(self: Task, woken_for: float | None = None) -> int:
    # A message redelivered (its worker died mid-drain) may be for deliveries
    # that dead drain held locked, which a drain started since skipped.
    if (self.request.delivery_info or {}).get("redelivered"):
        woken_for = None
    return deliveries.drain_deliveries(woken_for=woken_for)


@shared_task
def sweep_pending_deliveries() -> int:
    return deliveries.sweep_pending()

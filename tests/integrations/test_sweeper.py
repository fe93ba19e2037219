"""Nothing is lost when the wake-up is: the sweeper (Celery beat and
``process_pending``) picks up what was left behind."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone

from apps.integrations.models import WebhookDelivery
from apps.integrations.pipeline.drain import drain_deliveries
from apps.integrations.pipeline.store import store_delivery
from config.celery import app
from github_app.deliveries import parse_delivery_headers
from tests.payloads.installations import installation_event, ping_event


def _age(delivery_id: str, *, by: timedelta) -> None:
    WebhookDelivery.objects.filter(delivery_id=delivery_id).update(received_at=timezone.now() - by)


@pytest.mark.django_db
def test_it_processes_a_delivery_whose_queueing_failed(deliver):
    response = deliver(
        "installation",
        installation_event(action="created", installation_id=77),
        delivery_id="lost",
        lose_wake_up=True,
    )
    assert response.status_code == 202
    assert WebhookDelivery.objects.get(delivery_id="lost").status == "received"
    _age("lost", by=timedelta(minutes=2))

    call_command("process_pending")

    assert WebhookDelivery.objects.get(delivery_id="lost").status == "processed"


@pytest.mark.django_db
def test_it_leaves_fresh_deliveries_to_their_own_wake_up(deliver):
    deliver("ping", ping_event(), delivery_id="fresh", lose_wake_up=True)

    call_command("process_pending")

    assert WebhookDelivery.objects.get(delivery_id="fresh").status == "received"


@pytest.mark.django_db
def test_it_sweeps_younger_deliveries_when_asked(deliver):
    deliver("ping", ping_event(), delivery_id="fresh", lose_wake_up=True)

    call_command("process_pending", "--older-than", "0")

    assert WebhookDelivery.objects.get(delivery_id="fresh").status == "ignored"


@pytest.mark.django_db
def test_it_retries_a_failed_delivery_only_when_it_is_due(deliver):
    deliver("installation", {"action": "created", "installation": {}}, delivery_id="broken")

    call_command("process_pending")
    not_due = WebhookDelivery.objects.get(delivery_id="broken")
    WebhookDelivery.objects.filter(delivery_id="broken").update(next_attempt_at=timezone.now())
    call_command("process_pending")
    due = WebhookDelivery.objects.get(delivery_id="broken")

    assert (not_due.status, not_due.attempts) == ("failed", 1)
    assert (due.status, due.attempts) == ("failed", 2)


def test_it_runs_the_sweeper_every_minute_on_celery_beat():
    (entry,) = [
        e for e in settings.CELERY_BEAT_SCHEDULE.values() if "sweep_pending" in str(e["task"])
    ]
    assert entry["task"] in app.tasks
    assert entry["schedule"] == 60.0


def _store_without_wake_up(delivery_id: str) -> None:
    # Outside a test transaction on_commit runs at once: store through the service.
    payload = ping_event()
    store_delivery(
        headers=parse_delivery_headers(
            {"X-GitHub-Delivery": delivery_id, "X-GitHub-Event": "ping"}
        ),
        body=json.dumps(payload),
        payload=payload,
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_never_lets_two_workers_hold_the_same_delivery():
    _store_without_wake_up("held")
    _store_without_wake_up("free")
    locked = threading.Event()
    release = threading.Event()

    def other_worker() -> None:
        try:
            with transaction.atomic():
                WebhookDelivery.objects.select_for_update().get(delivery_id="held")
                locked.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    holder = threading.Thread(target=other_worker)
    holder.start()
    try:
        assert locked.wait(timeout=10)
        handled_while_held = drain_deliveries()
        statuses_while_held = dict(WebhookDelivery.objects.values_list("delivery_id", "status"))
    finally:
        release.set()
        holder.join()
    handled_after = drain_deliveries()

    assert handled_while_held == 1
    assert statuses_while_held == {"held": "received", "free": "ignored"}
    assert handled_after == 1
    assert WebhookDelivery.objects.get(delivery_id="held").status == "ignored"


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "garbage", "1e300", ""])
def test_it_refuses_an_age_that_is_no_number_of_seconds(value):
    with pytest.raises(CommandError, match="--older-than"):
        call_command("process_pending", "--older-than", value)

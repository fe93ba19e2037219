"""A delivery recovered from GitHub's log while the same one arrives by webhook
is stored once, whichever inserts first (PostgreSQL: two sessions at once)."""

from __future__ import annotations

import json
import uuid

import pytest
import respx
from django.db import transaction
from django.test import Client

from apps.integrations.models import ReconcileRun, WebhookDelivery
from apps.integrations.services.reconcile import deliveries_reconcile
from tests.integrations.conftest import WEBHOOK_URL, signed_headers
from tests.integrations.github_apps import stored_app
from tests.payloads.hook_deliveries import FakeDeliveryLog, LogEntry
from tests.payloads.installations import ping_event
from tests.sessions import OtherSession, wait_until_another_session_waits_for_a_lock

GITHUB_API = "https://api.github.com"

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def github(settings):
    settings.GITHUB_API_URL = GITHUB_API
    settings.GITHUB_APP_ID = ""
    stored_app()
    with respx.mock(assert_all_called=False) as router:
        log = FakeDeliveryLog(router, GITHUB_API)
        log.add(LogEntry(id=1, guid=str(uuid.uuid4()), event="ping", payload=ping_event()))
        yield log


def _post(entry: LogEntry):
    body = json.dumps(entry.payload).encode()
    return Client().post(
        WEBHOOK_URL,
        body,
        content_type="application/json",
        **signed_headers(body, event=entry.event, delivery_id=entry.guid),
    )


def test_a_webhook_inserting_first_keeps_the_delivery_and_reconcile_stores_nothing(github):
    (entry,) = github.entries
    reconcile = OtherSession(lambda: deliveries_reconcile(trigger=ReconcileRun.Trigger.COMMAND))
    with transaction.atomic():
        assert _post(entry).status_code == 202  # stored, not committed yet
        reconcile.start()
        # Reconcile saw no stored guid, fetched it, and its insert waits for ours.
        wait_until_another_session_waits_for_a_lock()
    result = reconcile.finish()

    assert (result.missing, result.recovered) == (1, 0)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.delivery_id, delivery.source) == (entry.guid, "webhook")


def test_a_recovery_inserting_first_keeps_the_delivery_and_the_webhook_answers_200(github):
    (entry,) = github.entries
    webhook = OtherSession(lambda: _post(entry).status_code)
    with transaction.atomic():
        result = deliveries_reconcile(trigger=ReconcileRun.Trigger.COMMAND)
        assert result.recovered == 1  # stored, not committed yet
        webhook.start()
        wait_until_another_session_waits_for_a_lock()
    assert webhook.finish() == 200  # "already received"
    delivery = WebhookDelivery.objects.get()
    assert (delivery.delivery_id, delivery.source) == (entry.guid, "recovery")

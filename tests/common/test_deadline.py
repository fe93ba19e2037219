"""The request deadline against a database that does not answer: a query that
sleeps on the server stands for a frozen one (the client waits the same way;
tests/integrations/test_faults.py freezes a real server)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import OperationalError, connection, transaction

from apps.common.deadline import DeadlinePassed, deadline
from apps.integrations.models import WebhookDelivery

pytestmark = pytest.mark.postgres


def _hang() -> None:
    with connection.cursor() as cursor:
        # No statement_timeout: only the deadline can end this wait.
        cursor.execute("SET statement_timeout = 0")
        cursor.execute("SELECT pg_sleep(60)")


def _in_thread(work) -> BaseException | None:
    """Run ``work`` in a thread of its own, as the web server runs requests;
    what it raised, or None."""
    raised: list[BaseException | None] = [None]

    def run() -> None:
        try:
            work()
        except BaseException as error:
            raised[0] = error
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive()
    return raised[0]


@pytest.mark.django_db(transaction=True)
def test_it_ends_a_wait_on_the_database_in_any_thread():
    def work() -> None:
        with deadline(at=time.monotonic() + 0.5):
            _hang()

    error = _in_thread(work)

    # Without the deadline pg_sleep returns after 60 s and nothing is raised.
    assert isinstance(error, DeadlinePassed)


@pytest.mark.django_db(transaction=True)
def test_the_thread_gets_a_new_connection_after_a_deadline():
    results: list[int] = []

    def work() -> None:
        with pytest.raises(DeadlinePassed), deadline(at=time.monotonic() + 0.3):
            _hang()
        with deadline(at=time.monotonic() + 30), connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            results.append(cursor.fetchone()[0])

    assert _in_thread(work) is None
    assert results == [1]


@pytest.mark.django_db(transaction=True)
def test_it_raises_at_once_when_no_time_is_left():
    with pytest.raises(DeadlinePassed), deadline(at=time.monotonic() - 1):
        pytest.fail("the block ran with no time left")


def _store(delivery_id: str, **options) -> None:
    from apps.integrations.pipeline.store import store_delivery
    from github_app.deliveries import DeliveryHeaders

    headers = DeliveryHeaders(
        delivery_id=delivery_id, event="ping", hook_id=None, target_type=None, target_id=None
    )
    store_delivery(headers=headers, body="{}", payload={}, **options)


def _stored() -> set[str]:
    return set(WebhookDelivery.objects.values_list("delivery_id", flat=True))


@pytest.mark.django_db(transaction=True)
def test_postgresql_refuses_a_webhook_delivery_committed_late():
    with pytest.raises(OperationalError, match="commit came too late"), transaction.atomic():
        _store("late", commit_within_seconds=2)
        with connection.cursor() as cursor:
            # The server held the COMMIT past the allowance (2 s after BEGIN).
            cursor.execute("SELECT pg_sleep(2.2)")

    assert _stored() == set()


@pytest.mark.django_db(transaction=True)
def test_it_commits_deliveries_in_time_or_stored_without_the_check():
    with transaction.atomic():
        _store("prompt", commit_within_seconds=2)
    with transaction.atomic():
        # A long transaction storing deliveries (reconcile, replay) is not checked.
        _store("recovered")
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(2.2)")

    assert _stored() == {"prompt", "recovered"}

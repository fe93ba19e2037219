"""A Celery worker's database connection outlives its tasks; one the database
dropped must not outlive the next task's start."""

from __future__ import annotations

import pytest
from celery.signals import task_prerun
from django.db import OperationalError, connection

from apps.integrations.tasks import drain_deliveries
from tests.sessions import drop_connection_from_the_server_side


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_reconnects_for_the_next_task_after_a_task_caught_a_dropped_connection():
    drop_connection_from_the_server_side()
    # A task that catches the error (a lifecycle consumer scheduling its retry).
    with pytest.raises(OperationalError), connection.cursor() as cursor:
        cursor.execute("SELECT 1")

    # The worker starts its next task (not in-process: a worker's request).
    task_prerun.send(
        sender=drain_deliveries, task_id="next", task=drain_deliveries, args=(), kwargs={}
    )

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)

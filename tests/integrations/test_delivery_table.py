"""The deliveries table is a queue: PostgreSQL must vacuum it often."""

from __future__ import annotations

import pytest
from django.db import connection

from apps.integrations.models import WebhookDelivery


@pytest.mark.postgres
@pytest.mark.django_db
def test_it_asks_postgresql_to_vacuum_the_deliveries_table_after_one_percent_changed():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reloptions FROM pg_class WHERE relname = %s", [WebhookDelivery._meta.db_table]
        )
        (options,) = cursor.fetchone()

    assert "autovacuum_vacuum_scale_factor=0.01" in options

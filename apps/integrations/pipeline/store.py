"""A verified delivery, stored once, in one statement.

The webhook view only stores (one ``INSERT … ON CONFLICT DO NOTHING``) and wakes
the drain: measured on a 2-core machine, an ORM ``create`` plus one Celery
message per request reached a third of that throughput. Recovered deliveries
(GitHub's delivery log) and replayed ones are stored by the same function, keyed
by the same delivery id, so each is stored once whichever way it came."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from django.db import connection
from django.utils import timezone

from apps.common.connections import cursor_binding_on_server
from apps.integrations.models import WebhookDelivery
from github_app.deliveries import DeliveryHeaders, delivery_columns

if TYPE_CHECKING:
    from django.db.models import Field

_STORED_FIELDS = (
    "delivery_id",
    "event",
    "action",
    "hook_id",
    "installation_id",
    "repository_full_name",
    "repository_github_id",
    "payload",
    "received_at",
    "status",
    "status_reason",
    "attempts",
    "last_error",
    "source",
)


# The transaction-local setting PostgreSQL's commit check reads (migration 0012
# of integrations): how long after its transaction began a delivery's commit may come.
COMMIT_WITHIN_SETTING = "tformance.webhook_commit_within"


@cache
def _insert_sql(vendor: str, *, commit_within: bool) -> str:
    # Same statement on PostgreSQL and SQLite (3.24+); the vendor is the cache
    # key because the quoting belongs to the connection.
    meta = WebhookDelivery._meta
    quote = connection.ops.quote_name

    def column(name: str) -> str:
        return quote(cast("Field[Any, Any]", meta.get_field(name)).column)

    columns = ", ".join(column(name) for name in _STORED_FIELDS)
    placeholders = ", ".join(["%s"] * len(_STORED_FIELDS))
    conflict = column("delivery_id")
    # Names come from the model, values go in as parameters.
    if commit_within:
        # The commit check's setting, set by the insert itself: no round trip more.
        return (
            f"INSERT INTO {quote(meta.db_table)} ({columns}) SELECT {placeholders} "
            f"WHERE set_config('{COMMIT_WITHIN_SETTING}', %s, true) IS NOT NULL "
            f"ON CONFLICT ({conflict}) DO NOTHING"
        )
    return (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders}) "  # noqa: S608
        f"ON CONFLICT ({conflict}) DO NOTHING"
    )


def store_delivery(
    *,
    headers: DeliveryHeaders,
    body: str,
    payload: Mapping[str, Any],
    source: str = WebhookDelivery.Source.WEBHOOK,
    commit_within_seconds: float | None = None,
) -> bool:
    """Store a verified delivery in one statement. False when its delivery id
    was stored before (GitHub keeps the id when it redelivers): nothing changes.

    ``body`` is the raw body, kept as GitHub signed it (for a delivery recovered
    from GitHub's log, the JSON text of GitHub's copy of the payload).
    ``source``: a ``WebhookDelivery.Source`` value, how the delivery came.
    ``commit_within_seconds``: PostgreSQL refuses to commit the transaction
    storing it later than this after the transaction began (the webhook's own
    transaction; see ``_store`` in apps/integrations/views/webhooks.py)."""
    # Checked columns: an id out of range or text with NUL is left blank, not a 500.
    columns = delivery_columns(payload)
    values = {
        "delivery_id": headers.delivery_id,
        "event": headers.event,
        "action": columns.action,
        "hook_id": headers.hook_id,
        "installation_id": columns.installation_id,
        "repository_full_name": columns.repository_full_name,
        "repository_github_id": columns.repository_github_id,
        "payload": body,
        # The one value the database may need converted (SQLite stores text);
        # the others are str and int already. Field.get_db_prep_save for all
        # of them was a twentieth of the request's time.
        "received_at": connection.ops.adapt_datetimefield_value(timezone.now()),
        "status": WebhookDelivery.Status.RECEIVED.value,
        "status_reason": "",
        "attempts": 0,
        "last_error": "",
        "source": WebhookDelivery.Source(source).value,
    }
    # The body goes as a parameter of its own, not quoted into the statement.
    parameters = [values[name] for name in _STORED_FIELDS]
    commit_within = commit_within_seconds is not None and connection.vendor == "postgresql"
    if commit_within:
        parameters.append(f"{commit_within_seconds} seconds")
    sql = _insert_sql(connection.vendor, commit_within=commit_within)
    with cursor_binding_on_server() as cursor:
        cursor.execute(sql, parameters)
        return bool(cursor.rowcount == 1)

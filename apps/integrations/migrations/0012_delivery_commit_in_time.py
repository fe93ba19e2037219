"""PostgreSQL refuses to commit a webhook delivery more than 2 seconds after
its transaction began (by the server's own clock), when the transaction asks
for it (the transaction-local setting tformance.webhook_commit_within, set by
the webhook's insert: other transactions storing deliveries, long ones too,
are not checked).

The webhook answers 503 once the database has not answered within its deadline
and sends COMMIT only while at least 2 seconds of it are left
(``COMMIT_ALLOWANCE_SECONDS`` in apps/integrations/views/webhooks.py: the two
numbers agree). A commit still unanswered at the deadline (the server frozen
with the COMMIT unread) is processed, when the server comes back, more than 2
seconds after its transaction began, so this trigger refuses it, and a delivery
answered 503 is not stored. Checked at commit (a deferred constraint trigger).
Nothing on SQLite."""

from django.db import migrations

FUNCTION = "integrations_webhook_delivery_commit_in_time"
TRIGGER = "webhook_delivery_commit_in_time"
# Set for its own transaction by the webhook's insert (apps/integrations/pipeline/store.py).
SETTING = "tformance.webhook_commit_within"


def _table(apps, schema_editor) -> str:
    model = apps.get_model("integrations", "WebhookDelivery")
    return schema_editor.quote_name(model._meta.db_table)


def create(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"""
        CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            allowed text := current_setting('{SETTING}', true);
        BEGIN
            IF coalesce(allowed, '') <> ''
               AND clock_timestamp() - transaction_timestamp() > allowed::interval THEN
                RAISE EXCEPTION 'webhook delivery %% not stored: its commit came too late',
                    NEW.delivery_id USING ERRCODE = 'query_canceled';
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    schema_editor.execute(
        f"CREATE CONSTRAINT TRIGGER {TRIGGER} AFTER INSERT ON {_table(apps, schema_editor)} "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
        f"EXECUTE FUNCTION {FUNCTION}()"
    )


def drop(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER} ON {_table(apps, schema_editor)}")
    schema_editor.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}()")


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0011_installation_demo"),
    ]

    operations = [
        migrations.RunPython(create, drop),
    ]

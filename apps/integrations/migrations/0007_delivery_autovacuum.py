"""Vacuum the webhook deliveries table after 1 % of it changed, not PostgreSQL's
default 20 %.

The table is a queue: each delivery is written when it arrives and again when it
is processed, and the drain finds waiting deliveries through a partial index
whose entries for processed rows are only removed by a vacuum. With the default,
a table of ten million deliveries would gather two million dead entries before
one. Nothing happens on SQLite, or where autovacuum is off."""

from django.db import migrations

SETTINGS = ("autovacuum_vacuum_scale_factor", "autovacuum_analyze_scale_factor")


def _table(apps, schema_editor) -> str:
    model = apps.get_model("integrations", "WebhookDelivery")
    return schema_editor.quote_name(model._meta.db_table)


def vacuum_sooner(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"ALTER TABLE {_table(apps, schema_editor)} SET "
        "(autovacuum_vacuum_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.02)"
    )


def vacuum_as_default(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"ALTER TABLE {_table(apps, schema_editor)} RESET ({', '.join(SETTINGS)})")


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0006_delivery_indexes"),
    ]

    operations = [
        migrations.RunPython(vacuum_sooner, vacuum_as_default),
    ]

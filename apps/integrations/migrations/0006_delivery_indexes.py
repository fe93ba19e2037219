"""Fewer indexes to write per delivery: each is written when a delivery is
stored and again when it is processed. The drain's, the retries' and the
re-queue's indexes become partial, so processed deliveries leave them; the
unique delivery id no longer brings a LIKE-pattern index on PostgreSQL; the team
is indexed by delivery_team_received alone.

The new indexes are built without CONCURRENTLY (which SQLite lacks and needs a
migration outside a transaction): on a large table, webhook inserts wait while
they are built."""

import django.db.models.deletion
from django.db import migrations, models


def _team_indexes(schema_editor, table):
    with schema_editor.connection.cursor() as cursor:
        constraints = schema_editor.connection.introspection.get_constraints(cursor, table)
    return [
        name
        for name, details in constraints.items()
        if details["columns"] == ["team_id"]
        and details["index"]
        and not (details["unique"] or details["primary_key"] or details["foreign_key"])
    ]


def drop_team_index(apps, schema_editor):
    table = apps.get_model("integrations", "WebhookDelivery")._meta.db_table
    for name in _team_indexes(schema_editor, table):
        schema_editor.execute(f"DROP INDEX {schema_editor.quote_name(name)}")


def create_team_index(apps, schema_editor):
    table = apps.get_model("integrations", "WebhookDelivery")._meta.db_table
    if not _team_indexes(schema_editor, table):
        name = schema_editor._create_index_name(table, ["team_id"], suffix="")
        schema_editor.execute(
            f"CREATE INDEX {schema_editor.quote_name(name)} ON "
            f"{schema_editor.quote_name(table)} ({schema_editor.quote_name('team_id')})"
        )


class Migration(migrations.Migration):

    dependencies = [
        ('integrations', '0005_delivery_repository_github_id'),
        ('teams', '0001_initial'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='webhookdelivery',
            name='delivery_status_received',
        ),
        migrations.AlterField(
            model_name='webhookdelivery',
            name='delivery_id',
            field=models.CharField(max_length=100),
        ),
        migrations.AlterField(
            model_name='webhookdelivery',
            name='installation_id',
            field=models.BigIntegerField(blank=True, null=True),
        ),
        # Only the index goes: altering the field would also drop the foreign key
        # and add it again, checking every row while the table is locked.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='webhookdelivery',
                    name='team',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='webhook_deliveries', to='teams.team'),
                ),
            ],
            database_operations=[
                migrations.RunPython(drop_team_index, create_team_index),
            ],
        ),
        migrations.AddIndex(
            model_name='webhookdelivery',
            index=models.Index(condition=models.Q(('status', 'received')), fields=['received_at'], name='delivery_waiting'),
        ),
        migrations.AddIndex(
            model_name='webhookdelivery',
            index=models.Index(condition=models.Q(('status', 'failed')), fields=['next_attempt_at'], name='delivery_retry_due'),
        ),
        migrations.AddIndex(
            model_name='webhookdelivery',
            index=models.Index(condition=models.Q(('status', 'ignored')), fields=['installation_id', 'repository_github_id'], name='delivery_ignored_repository'),
        ),
        migrations.AddConstraint(
            model_name='webhookdelivery',
            constraint=models.UniqueConstraint(fields=('delivery_id',), name='unique_delivery_id'),
        ),
    ]

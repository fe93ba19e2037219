"""Fewer indexes to write per delivery: each is written when a delivery is
stored and again when it is processed. The drain's, the retries' and the
re-queue's indexes become partial, so processed deliveries leave them; the
unique delivery id no longer brings a LIKE-pattern index on PostgreSQL; the team
is indexed by delivery_team_received alone."""

import django.db.models.deletion
from django.db import migrations, models


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
        migrations.AlterField(
            model_name='webhookdelivery',
            name='team',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='webhook_deliveries', to='teams.team'),
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

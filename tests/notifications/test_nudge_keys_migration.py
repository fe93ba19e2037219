"""The upgrade to keys by destination keeps a nudge sent before it from being
sent again after it (migration notifications/0003)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("notifications", "0002_squad_notification_settings")]
AFTER = [("notifications", "0003_nudge_keys_by_destination")]


@pytest.mark.django_db(transaction=True)
def test_it_gives_the_nudges_sent_before_the_upgrade_their_channel():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    state = executor.loader.project_state(BEFORE)
    Team = state.apps.get_model("teams", "Team")
    SlackMessage = state.apps.get_model("notifications", "SlackMessage")
    team = Team.objects.create(name="Acme", slug="acme")
    sent = {"kind": "waiting", "channel": "C0TEAM", "text": "waiting", "not_before": timezone.now()}
    SlackMessage.objects.create(team=team, key="nudge:waiting:7:31", **sent)
    SlackMessage.objects.create(team=team, key="nudge:waiting:7:32:C0OTHER", **sent)
    SlackMessage.objects.create(team=team, key="question:9", **sent)

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)

    keys = set(
        executor.loader.project_state(AFTER)
        .apps.get_model("notifications", "SlackMessage")
        .objects.values_list("key", flat=True)
    )
    # The key the nudge is made with now (services/nudges.py), so it is not made again.
    assert keys == {"nudge:waiting:7:31:C0TEAM", "nudge:waiting:7:32:C0OTHER", "question:9"}


@pytest.fixture(autouse=True)
def _every_migration_after():
    """The other tests' database: every migration applied again, whatever this left."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

"""Which part may know the notifications: they read the metrics and the teams;
nothing of the metrics, the teams or the integrations imports them (the
lifecycle's registry takes their consumers at start-up)."""

from __future__ import annotations

from tests.test_layout import _offenders


def test_the_notifications_know_only_the_metrics_the_teams_and_common():
    assert (
        _offenders("apps/notifications", "apps.integrations", "apps.web", "apps.demo", "github_app")
        == []
    )


def test_nothing_of_the_metrics_teams_or_integrations_imports_the_notifications():
    for folder in ("apps/metrics", "apps/teams", "apps/integrations", "apps/common"):
        assert _offenders(folder, "apps.notifications") == []


def test_the_notifications_consumers_are_in_the_lifecycle_registry():
    from apps.metrics.services.lifecycle import CONSUMERS
    from apps.notifications.services.consumers import NOTIFICATION_CONSUMERS

    assert set(NOTIFICATION_CONSUMERS) <= set(CONSUMERS)


def test_every_notifications_task_sent_by_name_is_registered():
    from apps.notifications.services import merge_question_slack, messages
    from config.celery import app

    assert {messages.SEND_TASK, merge_question_slack.UPDATE_TASK} <= set(app.tasks)

"""The notifications' lifecycle consumers, joined to `lifecycle.CONSUMERS` at
start-up (`NotificationsConfig.ready`): the metrics never import this app.
Each runs in its own Celery task with its own retries (docs/lifecycle.md)."""

from __future__ import annotations

from apps.metrics.models import PullRequestEvent
from apps.metrics.services.lifecycle import CONSUMERS, Consumer
from apps.notifications.services.merge_question_slack import slack_merge_question_on_merge
from apps.notifications.services.nudges import nudges_on_event
from apps.notifications.services.webhooks import outbound_webhooks_on_event

Kind = PullRequestEvent.Kind

NOTIFICATION_CONSUMERS: dict[str, Consumer] = {
    # The merge question as a Slack direct message with buttons.
    "slack-merge-question": Consumer(
        kinds=frozenset({Kind.MERGED}), handle=slack_merge_question_on_merge
    ),
    # Nudges to the team's channel: merged without review, a large pull request.
    "slack-nudges": Consumer(kinds=frozenset({Kind.OPENED, Kind.MERGED}), handle=nudges_on_event),
    # Signed outbound webhooks, every kind (each endpoint picks its own).
    "outbound-webhooks": Consumer(kinds=frozenset(Kind.values), handle=outbound_webhooks_on_event),
}


def consumers_register() -> None:
    CONSUMERS.update(NOTIFICATION_CONSUMERS)

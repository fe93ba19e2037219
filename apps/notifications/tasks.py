"""Celery tasks of the notifications: thin, they call services; each owns its retries.

- a Slack message: sent once it is due; Slack's rate limit retried after its
  ``Retry-After``, a transient failure after a growing pause (the message keeps
  the reason, and the beat task finds it again if the retries run out);
- the merge question's direct message updated with the answer;
- an outbound webhook delivery: POSTed once due, retried with back-off;
- the beat tick: due messages and deliveries sent.

Services queue these by name (`apps.common.scheduling`); none imports this module."""

from __future__ import annotations

import logging

from celery import Task, shared_task

from apps.notifications.services import digest, merge_question_slack, messages, nudges, webhooks

logger = logging.getLogger(__name__)

SEND_MAX_RETRIES = 8


@shared_task(bind=True, max_retries=SEND_MAX_RETRIES)
def send_slack_message(self: Task, message_id: int) -> str:
    try:
        return messages.slack_message_send(message_id=message_id)
    except messages.RetryLater as later:
        if self.request.retries >= SEND_MAX_RETRIES:
            logger.warning("slack message %s left to the beat task: %s", message_id, later)
            return "pending"
        raise self.retry(countdown=later.seconds) from later


@shared_task(bind=True, max_retries=SEND_MAX_RETRIES)
def update_merge_question_message(self: Task, question_id: int) -> bool:
    try:
        return merge_question_slack.merge_question_message_update(question_id=question_id)
    except messages.slack_api.SlackFailure as failure:
        if failure.permanent or failure.revoked or self.request.retries >= SEND_MAX_RETRIES:
            logger.warning("the message of question %s not updated: %s", question_id, failure)
            return False
        raise self.retry(countdown=failure.retry_after or 10 * 2**self.request.retries) from None


@shared_task(bind=True, max_retries=webhooks.MAX_ATTEMPTS)
def send_outbound_delivery(self: Task, delivery_id: int) -> str:
    try:
        return webhooks.outbound_delivery_send(delivery_id=delivery_id)
    except webhooks.RetryLater as later:
        if self.request.retries >= webhooks.MAX_ATTEMPTS:
            return "pending"
        raise self.retry(countdown=later.seconds) from later


@shared_task
def notifications_tick() -> int:
    """Celery beat, every minute: messages and webhook deliveries whose time has
    come (working hours begun, a rate limit or a back-off over, a connection
    mended), whose own task was lost; pull requests whose wait for a first
    review reached the target; merge questions asked without a direct message
    (an account linked later); digests whose weekday and time have come."""
    nudges.nudges_waiting_scan()
    merge_question_slack.merge_questions_slack_catch_up()
    digest.digests_due()
    messages.slack_messages_stranded_fail()
    due = messages.slack_messages_due()
    for message_id in due:
        send_slack_message.apply_async(kwargs={"message_id": message_id}, retry=False)
    deliveries = webhooks.outbound_deliveries_due()
    for delivery_id in deliveries:
        send_outbound_delivery.apply_async(kwargs={"delivery_id": delivery_id}, retry=False)
    return len(due) + len(deliveries)

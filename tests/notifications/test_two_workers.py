"""Two workers at once (PostgreSQL, two sessions): a Slack message and an
outbound delivery are each claimed by one of them, so sent once; two
consumers queueing the same cause make one message."""

from __future__ import annotations

import httpx
import pytest
import respx
from django.db import transaction
from django.utils import timezone

from apps.common.encryption import encrypt_secret
from apps.notifications.models import OutboundDelivery, SlackMessage, WebhookEndpoint
from apps.notifications.services import messages, webhooks
from apps.notifications.services.messages import Outgoing
from tests.sessions import OtherSession, wait_until_another_session_waits_for_a_lock

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

HOOK = "http://127.0.0.1:8765/hook"


def _race(work, row_query) -> list:
    """Start two sessions doing ``work`` while this one holds the row's lock,
    then let them go at once."""
    with transaction.atomic():
        list(row_query.select_for_update())
        first, second = OtherSession(work), OtherSession(work)
        first.start()
        wait_until_another_session_waits_for_a_lock()
        second.start()
        wait_until_another_session_waits_for_a_lock()
    return [first.finish(), second.finish()]


def test_two_workers_send_a_slack_message_once(team, connected, slack):
    message = SlackMessage.objects.create(
        team=team,
        key="nudge:large:1:1",
        kind="large",
        channel="C0NUDGE",
        text="a large pull request",
        not_before=timezone.now(),
    )

    results = _race(
        lambda: messages.slack_message_send(message_id=message.pk),
        SlackMessage.objects.filter(pk=message.pk),
    )

    assert sorted(results) == ["not_due", "sent"]
    assert len(slack.to("chat.postMessage")) == 1


def test_two_consumers_queueing_one_cause_make_one_message(team, connected, slack):
    outgoing = Outgoing(key="nudge:large:7:9", kind="large", channel="C0NUDGE", text="large")

    def queue() -> int:
        return messages.slack_message_queue(team_id=team.pk, message=outgoing).pk

    first, second = OtherSession(queue), OtherSession(queue)
    first.start()
    second.start()
    assert first.finish() == second.finish()
    assert SlackMessage.objects.count() == 1


@respx.mock
def test_two_workers_post_an_outbound_delivery_once(team, settings):
    settings.TFORMANCE_WEBHOOKS_ALLOW_PRIVATE = True
    route = respx.post(HOOK).mock(return_value=httpx.Response(200))
    endpoint = WebhookEndpoint.objects.create(
        team=team, url=HOOK, kinds=["merged"], secret_encrypted=encrypt_secret("whsec_" + "A" * 44)
    )
    delivery = OutboundDelivery.objects.create(
        endpoint=endpoint,
        message_id="msg_race",
        event_type="pull_request.merged",
        body="{}",
        next_attempt_at=timezone.now(),
    )

    results = _race(
        lambda: webhooks.outbound_delivery_send(delivery_id=delivery.pk),
        OutboundDelivery.objects.filter(pk=delivery.pk),
    )

    assert sorted(results) == ["delivered", "not_due"]
    assert len(route.calls) == 1

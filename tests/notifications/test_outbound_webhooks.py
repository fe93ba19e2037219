"""Signed outbound webhooks: a team admin registers URLs and picks lifecycle
kinds; each live event is POSTed once per endpoint, signed as Standard Webhooks
sign (checked with the `standardwebhooks` package's own verifier), retried with
back-off while it fails, logged, and redelivered on request. Receivers are
respx routes on 127.0.0.1; GitHub's deliveries go through the real endpoint."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx
from celery.exceptions import Retry
from standardwebhooks import Webhook

from apps.metrics.models import PullRequestEvent
from apps.metrics.services.lifecycle import lifecycle_events_consume
from apps.notifications import tasks
from apps.notifications.models import OutboundDelivery, WebhookEndpoint
from apps.notifications.services import webhooks
from tests.integrations.conftest import deliver, installation_for, repository_for  # noqa: F401
from tests.payloads.merges import merge_event as merged

pytestmark = pytest.mark.django_db

HOOK = "http://127.0.0.1:8765/hook"
PAGE = "/teams/acme/webhooks/"


@pytest.fixture
def repository(team):
    installation = installation_for(team=team, installation_id=42, login="acme")
    repository = repository_for(
        installation=installation, github_id=186853002, full_name="acme/api"
    )
    repository.tracked_at = datetime(2024, 12, 1, tzinfo=UTC)
    repository.save(update_fields=["tracked_at"])
    return repository


@pytest.fixture
def allow_local(settings):
    settings.TFORMANCE_WEBHOOKS_ALLOW_PRIVATE = True


def register(client, owner, *, url: str = HOOK, kinds=("merged",)) -> tuple[Any, str]:
    client.force_login(owner)
    response = client.post(PAGE, {"url": url, "kinds": list(kinds)})
    assert response.status_code == 200, response.content
    secret = response.context["new_secret"]
    return WebhookEndpoint.objects.get(url=url), secret


def verified(request: httpx.Request, secret: str) -> dict[str, Any]:
    """The body, as Standard Webhooks' own verifier accepts it (or raises)."""
    return Webhook(secret).verify(request.content, dict(request.headers))


# --- registering ---------------------------------------------------------------------


def test_an_admin_registers_an_endpoint_and_sees_its_secret_once(client, owner, allow_local):
    endpoint, secret = register(client, owner, kinds=("opened", "merged"))
    assert secret.startswith("whsec_") and len(secret) > 40
    assert endpoint.kinds == ["opened", "merged"]
    assert secret not in endpoint.secret_encrypted
    assert webhooks.webhook_endpoint_secret(endpoint=endpoint) == secret
    assert secret not in client.get(PAGE).content.decode()


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("ftp://tools.example.com/hook", "http"),
        ("javascript:alert(1)", "http"),
        ("https://", "http"),
        ("https://user:pw@tools.example.com/", "user name"),
        ("https://tools.example.com/" + "x" * 600, "500"),
        ("https://tools.example.com/a b", "without spaces"),
        ("https://tools.example.com/\x00", "without spaces"),
        ("http://[::1", "not a URL"),
        ("http://127.0.0.1:8765/hook", "private"),
        ("http://10.1.2.3/hook", "private"),
        ("http://192.168.0.10/hook", "private"),
        ("http://169.254.169.254/latest/meta-data/", "private"),
        ("http://[::1]/hook", "private"),
        ("http://[::ffff:127.0.0.1]/hook", "private"),
        ("http://localhost/hook", "private"),
        ("http://0.0.0.0/hook", "private"),
    ],
)
def test_it_refuses_urls_it_must_not_call(client, owner, url, said):
    client.force_login(owner)
    response = client.post(PAGE, {"url": url, "kinds": ["merged"]})
    assert response.status_code == 400
    assert said in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("kinds", [[], ["exploded"], ["merged", "exploded"]])
def test_it_refuses_unknown_or_no_kinds(client, owner, allow_local, kinds):
    client.force_login(owner)
    response = client.post(PAGE, {"url": HOOK, "kinds": kinds})
    assert response.status_code == 400 and not WebhookEndpoint.objects.exists()


def test_only_admins_see_or_change_webhooks(client, member, outsider):
    client.force_login(member)
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, {"url": HOOK, "kinds": ["merged"]}).status_code == 403
    client.force_login(outsider)
    assert client.get(PAGE).status_code == 404


# --- delivering ----------------------------------------------------------------------


@respx.mock
def test_a_live_merge_is_posted_once_signed_as_standard_webhooks_sign(
    client,
    owner,
    deliver,  # noqa: F811
    repository,
    allow_local,
):
    endpoint, secret = register(client, owner, kinds=("merged",))
    route = respx.post(HOOK).mock(return_value=httpx.Response(204))

    deliver("pull_request", merged())

    (call,) = route.calls
    body = verified(call.request, secret)
    assert body["type"] == "pull_request.merged"
    assert body["data"]["pull_request"]["number"] == 7
    assert body["data"]["pull_request"]["repository"] == "acme/api"
    assert body["data"]["team"] == "acme"
    assert call.request.headers["content-type"] == "application/json"
    delivery = OutboundDelivery.objects.get()
    assert call.request.headers["webhook-id"] == delivery.message_id
    assert (delivery.status, delivery.response_code, delivery.attempts) == ("delivered", 204, 1)
    assert delivery.endpoint == endpoint


@respx.mock
def test_a_forged_or_altered_delivery_fails_the_verifier(
    client,
    owner,
    deliver,  # noqa: F811
    repository,
    allow_local,
):
    from standardwebhooks.webhooks import WebhookVerificationError

    _, secret = register(client, owner)
    route = respx.post(HOOK).mock(return_value=httpx.Response(200))
    deliver("pull_request", merged())
    request = route.calls[0].request
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(request.content + b" ", dict(request.headers))
    other = Webhook("whsec_" + "A" * 43 + "=")
    with pytest.raises(WebhookVerificationError):
        other.verify(request.content, dict(request.headers))


@respx.mock
def test_each_endpoint_gets_only_the_kinds_it_chose(
    client,
    owner,
    deliver,  # noqa: F811
    repository,
    allow_local,
):
    register(client, owner, url=HOOK, kinds=("opened",))
    other = "http://127.0.0.1:8766/all"
    register(client, owner, url=other, kinds=tuple(webhooks.KINDS))
    opened_route = respx.post(HOOK).mock(return_value=httpx.Response(200))
    all_route = respx.post(other).mock(return_value=httpx.Response(200))

    deliver("pull_request", merged())

    assert [json.loads(c.request.content)["type"] for c in opened_route.calls] == [
        "pull_request.opened"
    ]
    assert sorted(json.loads(c.request.content)["type"] for c in all_route.calls) == [
        "pull_request.merged",
        "pull_request.opened",
    ]


@respx.mock
def test_redeliveries_and_a_second_run_of_the_consumer_post_once(
    client,
    owner,
    deliver,  # noqa: F811
    repository,
    allow_local,
):
    register(client, owner)
    route = respx.post(HOOK).mock(return_value=httpx.Response(200))
    deliver("pull_request", merged(), delivery_id="merge-1")
    deliver("pull_request", merged(), delivery_id="merge-1")
    deliver("pull_request", merged(), delivery_id="merge-2")
    event = PullRequestEvent.objects.get(kind="merged")
    lifecycle_events_consume(consumer="outbound-webhooks", event_ids=[event.pk])
    for delivery_id in OutboundDelivery.objects.values_list("pk", flat=True):
        webhooks.outbound_delivery_send(delivery_id=delivery_id)
    assert len(route.calls) == 1 and OutboundDelivery.objects.count() == 1


@respx.mock
def test_history_is_never_posted(
    client,
    owner,
    deliver,  # noqa: F811
    repository,
    allow_local,
):
    register(client, owner)
    route = respx.post(HOOK).mock(return_value=httpx.Response(200))
    # Merged before the repository was tracked: recorded, never announced.
    deliver("pull_request", merged(at="2024-11-20T10:00:00Z"))
    assert PullRequestEvent.objects.filter(kind="merged", live=False).exists()
    assert not route.calls and not OutboundDelivery.objects.exists()


@respx.mock
def test_a_failing_receiver_is_retried_with_back_off_until_it_answers(
    client,
    owner,
    deliver,  # noqa: F811
    repository,
    allow_local,
    clock,
    monkeypatch,
):
    from config.celery import app

    register(client, owner)
    route = respx.post(HOOK).mock(
        side_effect=[httpx.Response(503, text="down for maintenance"), httpx.Response(200)]
    )
    countdowns: list[float] = []
    task = app.tasks["apps.notifications.tasks.send_outbound_delivery"]

    def retry(**kwargs: Any) -> Exception:
        countdowns.append(kwargs["countdown"])
        return Retry()

    monkeypatch.setattr(task, "retry", retry)

    deliver("pull_request", merged())

    assert countdowns == [30.0]
    delivery = OutboundDelivery.objects.get()
    assert (delivery.status, delivery.response_code) == ("pending", 503)
    assert delivery.error == "HTTP 503: down for maintenance"
    assert delivery.next_attempt_at == clock.now + timedelta(seconds=30)
    assert tasks.notifications_tick() == 0
    clock.advance(seconds=30)
    assert tasks.notifications_tick() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.response_code, delivery.attempts) == ("delivered", 200, 2)
    first, second = route.calls
    assert first.request.headers["webhook-id"] == second.request.headers["webhook-id"]
    assert int(second.request.headers["webhook-timestamp"]) == int(clock.now.timestamp())


def test_the_back_off_doubles_up_to_an_hour():
    assert [webhooks._backoff(n).total_seconds() for n in (1, 2, 3, 8, 20)] == [
        30,
        60,
        120,
        3600,
        3600,
    ]


@respx.mock
def test_a_receiver_that_cannot_be_reached_is_retried(
    client,
    owner,
    deliver,  # noqa: F811
    repository,
    allow_local,
):
    register(client, owner)
    respx.post(HOOK).mock(side_effect=httpx.ConnectError("connection refused"))
    deliver("pull_request", merged())
    delivery = OutboundDelivery.objects.get()
    assert delivery.status == "pending" and "ConnectError" in delivery.error


@respx.mock
def test_gone_is_not_retried_and_the_last_attempt_fails(
    client,
    owner,
    deliver,  # noqa: F811
    repository,
    allow_local,
    clock,
):
    register(client, owner)
    respx.post(HOOK).mock(return_value=httpx.Response(410))
    deliver("pull_request", merged())
    delivery = OutboundDelivery.objects.get()
    assert (delivery.status, delivery.response_code, delivery.next_attempt_at) == (
        "failed",
        410,
        None,
    )
    OutboundDelivery.objects.filter(pk=delivery.pk).update(
        status="pending", attempts=webhooks.MAX_ATTEMPTS - 1, next_attempt_at=clock.now
    )
    respx.post(HOOK).mock(return_value=httpx.Response(500))
    assert webhooks.outbound_delivery_send(delivery_id=delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == webhooks.MAX_ATTEMPTS


@respx.mock
def test_an_address_no_longer_allowed_is_not_called(
    client,
    owner,
    deliver,  # noqa: F811
    repository,
    allow_local,
    settings,
):
    register(client, owner)
    route = respx.post(HOOK).mock(return_value=httpx.Response(200))
    settings.TFORMANCE_WEBHOOKS_ALLOW_PRIVATE = False
    deliver("pull_request", merged())
    delivery = OutboundDelivery.objects.get()
    assert delivery.status == "failed" and "private" in delivery.error
    assert not route.calls


@respx.mock
def test_the_log_shows_each_delivery_and_an_admin_redelivers_one(
    client,
    owner,
    deliver,  # noqa: F811
    repository,
    allow_local,
    django_capture_on_commit_callbacks,
):
    _, secret = register(client, owner)
    route = respx.post(HOOK).mock(return_value=httpx.Response(500, text="boom"))
    deliver("pull_request", merged())
    delivery = OutboundDelivery.objects.get()
    page = client.get(PAGE).content.decode()
    assert delivery.message_id in page and "HTTP 500: boom" in page and "Redeliver" in page

    route.mock(return_value=httpx.Response(200))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/teams/acme/webhooks/deliveries/{delivery.pk}/redeliver/")

    assert response.status_code == 302
    delivery.refresh_from_db()
    assert (delivery.status, delivery.response_code) == ("delivered", 200)
    assert verified(route.calls[-1].request, secret)["type"] == "pull_request.merged"
    assert route.calls[-1].request.headers["webhook-id"] == delivery.message_id


def test_another_teams_delivery_cannot_be_redelivered(client, owner, outsider, allow_local):
    endpoint, _ = register(client, owner)
    delivery = OutboundDelivery.objects.create(
        endpoint=endpoint, message_id="msg_x", event_type="pull_request.merged", body="{}"
    )
    client.force_login(outsider)
    response = client.post(f"/teams/other/webhooks/deliveries/{delivery.pk}/redeliver/")
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.attempts == 0 and delivery.status == "pending"


def test_removing_an_endpoint(client, owner, allow_local):
    endpoint, _ = register(client, owner)
    client.post(f"/teams/acme/webhooks/{endpoint.pk}/delete/")
    assert not WebhookEndpoint.objects.exists()


def test_the_signature_is_standard_webhooks_own():
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    at = datetime(2025, 1, 8, 12, 0, tzinfo=UTC)
    ours = webhooks.webhook_signature(
        secret=secret,
        message_id="msg_p5jXN8AQM9LWM0D4loKWxJek",
        timestamp=int(at.timestamp()),
        body=b'{"test": 2432232314}',
    )
    theirs = Webhook(secret).sign("msg_p5jXN8AQM9LWM0D4loKWxJek", at, b'{"test": 2432232314}')
    assert ours == theirs

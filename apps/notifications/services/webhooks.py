"""Signed outbound webhooks: a team's other tools are told of each live lifecycle
event of the kinds they chose, signed as Standard Webhooks signs
(https://www.standardwebhooks.com/).

- **Once per event and endpoint.** The consumer `outbound-webhooks` inserts one
  `OutboundDelivery` per (endpoint, event), or leaves the one there: a
  redelivered or recovered event, the sweeper's late announcement or a second
  worker never send twice. Each is claimed (pending → sending) before it is
  sent.
- **Signed.** ``webhook-id`` (the delivery's ``msg_…`` id, the same on every
  attempt, so a receiver can drop repeats), ``webhook-timestamp`` (seconds),
  ``webhook-signature``: ``v1,`` + base64 of HMAC-SHA256 over
  ``{id}.{timestamp}.{body}`` with the secret's bytes (base64 after ``whsec_``).
- **Retried.** A failure (no answer, a non-2xx status) is retried after 30 s,
  1, 2, 4 … minutes, at most an hour apart, 10 attempts; then it is failed, with
  the last status and error kept, and an admin may redeliver it.
- **Only where it may go.** http(s) URLs only; private, loopback and link-local
  addresses refused (at registration and before each send) unless
  TFORMANCE_WEBHOOKS_ALLOW_PRIVATE."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.common.encryption import decrypt_secret, encrypt_secret
from apps.common.scheduling import task_send
from apps.metrics.models import PullRequestEvent
from apps.notifications.models import OutboundDelivery, WebhookEndpoint
from apps.teams.models import Team

logger = logging.getLogger(__name__)

SEND_TASK = "apps.notifications.tasks.send_outbound_delivery"
Status = OutboundDelivery.Status
KINDS: tuple[str, ...] = tuple(PullRequestEvent.Kind.values)
TIMEOUT_SECONDS = 10
MAX_ATTEMPTS = 10
MAX_URL = 500
MAX_ENDPOINTS = 10
# What of a receiver's refusal is kept in the log.
ERROR_LENGTH = 300
DUE_BATCH = 200


class WebhookRefused(Exception):
    """An endpoint that cannot be registered, or a URL no longer allowed."""


class RetryLater(Exception):
    def __init__(self, seconds: float, reason: str) -> None:
        super().__init__(reason)
        self.seconds = seconds


def _address_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def webhook_url_check(url: str) -> str:
    """The URL, checked: http(s), a host, and (unless allowed) only public
    addresses. Raises WebhookRefused with the reason."""
    url = url.strip()
    if not url or len(url) > MAX_URL or any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise WebhookRefused(f"Give a URL of at most {MAX_URL} characters, without spaces.")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        raise WebhookRefused("That is not a URL.") from None
    if parts.scheme not in ("http", "https") or not host:
        raise WebhookRefused("Only http:// and https:// URLs can receive webhooks.")
    if parts.username or parts.password:
        raise WebhookRefused("Put no user name or password in the URL.")
    if settings.TFORMANCE_WEBHOOKS_ALLOW_PRIVATE:
        return url
    try:
        infos = socket.getaddrinfo(host, port or (443 if parts.scheme == "https" else 80))
    except (socket.gaierror, UnicodeError):
        raise WebhookRefused(f"The host {host} does not resolve.") from None
    if not infos or not all(_address_allowed(str(info[4][0])) for info in infos):
        raise WebhookRefused(
            f"{host} is a private, loopback or link-local address: not allowed here "
            "(TFORMANCE_WEBHOOKS_ALLOW_PRIVATE)."
        )
    return url


def _kinds(kinds: Sequence[str]) -> list[str]:
    chosen = [kind for kind in KINDS if kind in set(kinds)]
    if not chosen or len(set(kinds)) != len(chosen):
        raise WebhookRefused("Choose one or more of the lifecycle events.")
    return chosen


def webhook_endpoint_create(
    *, team: Team, url: str, kinds: Sequence[str], user_id: int | None
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; its secret (``whsec_…``) is returned once, to show."""
    checked = webhook_url_check(url)
    chosen = _kinds(kinds)
    if WebhookEndpoint.objects.filter(team=team).count() >= MAX_ENDPOINTS:
        raise WebhookRefused(f"A team has at most {MAX_ENDPOINTS} endpoints.")
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    endpoint = WebhookEndpoint.objects.create(
        team=team,
        url=checked,
        kinds=chosen,
        secret_encrypted=encrypt_secret(secret),
        created_by_id=user_id,
    )
    return endpoint, secret


def webhook_endpoint_delete(*, team: Team, endpoint_id: int) -> bool:
    deleted, _ = WebhookEndpoint.objects.filter(team=team, pk=endpoint_id).delete()
    return bool(deleted)


def webhook_endpoint_secret(*, endpoint: WebhookEndpoint) -> str:
    return decrypt_secret(endpoint.secret_encrypted, what="a webhook endpoint's secret")


def webhook_signature(*, secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks' ``v1,<base64 HMAC-SHA256>`` of ``{id}.{timestamp}.{body}``."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def event_body(event: PullRequestEvent) -> dict[str, Any]:
    """The JSON posted for a lifecycle event: Standard Webhooks' type, timestamp, data."""
    pr = event.pull_request
    return {
        "type": f"pull_request.{event.kind}",
        "timestamp": event.occurred_at.isoformat(),
        "data": {
            "event_id": event.pk,
            "team": event.team.slug,
            "kind": event.kind,
            "occurred_at": event.occurred_at.isoformat(),
            "pull_request": {
                "repository": pr.repository.full_name if pr.repository else None,
                "number": pr.number,
                "title": pr.title,
                "url": pr.html_url or None,
                "author": pr.author.login if pr.author else None,
                "state": pr.state,
                "created_at": pr.pr_created_at.isoformat() if pr.pr_created_at else None,
                "merged_at": pr.merged_at.isoformat() if pr.merged_at else None,
                "cycle_time_hours": pr.cycle_time_hours,
                "additions": pr.additions,
                "deletions": pr.deletions,
            },
        },
    }


def outbound_webhooks_on_event(event: PullRequestEvent) -> None:
    """Lifecycle consumer: one delivery per endpoint that takes this kind, once."""
    if not event.live:
        return
    endpoints = [
        e
        for e in WebhookEndpoint.objects.filter(team_id=event.team_id, active=True)
        if event.kind in e.kinds
    ]
    if not endpoints:
        return
    body = json.dumps(event_body(event), separators=(",", ":"), sort_keys=True)
    OutboundDelivery.objects.bulk_create(
        [
            OutboundDelivery(
                endpoint=endpoint,
                event=event,
                message_id=f"msg_{secrets.token_hex(12)}",
                event_type=f"pull_request.{event.kind}",
                body=body,
                next_attempt_at=timezone.now(),
            )
            for endpoint in endpoints
        ],
        ignore_conflicts=True,
    )
    for delivery_id in OutboundDelivery.objects.filter(
        event=event, endpoint__in=endpoints, status=Status.PENDING
    ).values_list("pk", flat=True):
        outbound_delivery_send_later(delivery_id=delivery_id)


def outbound_delivery_send_later(*, delivery_id: int) -> None:
    def send() -> None:
        try:
            task_send(SEND_TASK, kwargs={"delivery_id": delivery_id})
        except Exception:  # the broker's errors vary by transport; the beat task sends it
            logger.exception("could not queue outbound delivery %s", delivery_id)

    transaction.on_commit(send)


def _backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=30 * 2 ** max(attempts - 1, 0)), timedelta(hours=1))


def _failed(
    delivery: OutboundDelivery, *, now: datetime, code: int | None, error: str, final: bool
) -> str:
    retry = not final and delivery.attempts < MAX_ATTEMPTS
    wait = _backoff(delivery.attempts)
    OutboundDelivery.objects.filter(pk=delivery.pk).update(
        status=Status.PENDING if retry else Status.FAILED,
        response_code=code,
        error=error[:ERROR_LENGTH],
        next_attempt_at=now + wait if retry else None,
    )
    if retry:
        raise RetryLater(wait.total_seconds(), error)
    return "failed"


def outbound_delivery_send(*, delivery_id: int, now: datetime | None = None) -> str:
    """POST the delivery if it is due and not claimed: ``delivered``, ``failed``
    or ``not_due``. Raises RetryLater after a failure that is retried."""
    now = now or timezone.now()
    claimed = (
        OutboundDelivery.objects.filter(pk=delivery_id, status=Status.PENDING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .update(status=Status.SENDING, attempts=F("attempts") + 1)
    )
    if not claimed:
        return "not_due"
    delivery = OutboundDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    try:
        webhook_url_check(endpoint.url)
    except WebhookRefused as refused:
        return _failed(delivery, now=now, code=None, error=str(refused), final=True)
    body = delivery.body.encode()
    timestamp = int(now.timestamp())
    headers = {
        "content-type": "application/json",
        "user-agent": "tformance-webhooks",
        "webhook-id": delivery.message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": webhook_signature(
            secret=webhook_endpoint_secret(endpoint=endpoint),
            message_id=delivery.message_id,
            timestamp=timestamp,
            body=body,
        ),
    }
    try:
        # No redirects: a redirect could lead where the URL check would refuse.
        response = httpx.post(endpoint.url, content=body, headers=headers, timeout=TIMEOUT_SECONDS)
    except httpx.HTTPError as error:
        return _failed(
            delivery, now=now, code=None, error=f"{type(error).__name__}: {error}", final=False
        )
    if 200 <= response.status_code < 300:
        OutboundDelivery.objects.filter(pk=delivery.pk).update(
            status=Status.DELIVERED,
            response_code=response.status_code,
            error="",
            delivered_at=now,
            next_attempt_at=None,
        )
        return "delivered"
    # 410 Gone: the receiver says the endpoint is no more; retrying cannot help.
    return _failed(
        delivery,
        now=now,
        code=response.status_code,
        error=f"HTTP {response.status_code}: {response.text[:200]}",
        final=response.status_code == 410,
    )


def outbound_delivery_redeliver(*, team: Team, delivery_id: int) -> bool:
    """An admin's redelivery: the same body and id, a new timestamp and signature."""
    updated = (
        OutboundDelivery.objects.filter(pk=delivery_id, endpoint__team=team)
        .exclude(status=Status.SENDING)
        .update(status=Status.PENDING, next_attempt_at=timezone.now(), attempts=0)
    )
    if updated:
        outbound_delivery_send_later(delivery_id=delivery_id)
    return bool(updated)


def outbound_deliveries_due(*, now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    return list(
        OutboundDelivery.objects.filter(status=Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:DUE_BATCH]
    )

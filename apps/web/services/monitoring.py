"""What /metrics reports, read from the database and the broker at scrape time.

Gauges, not counters kept in process memory: several web processes on several
machines each answer a scrape, and they must all tell the same figures: the
webhook deliveries, the history runs and the last reconcile run."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterator
from typing import Any

import redis
from django.conf import settings
from django.db.models import Count, Min, OuterRef, QuerySet, Subquery
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from apps.integrations.models import HistoryRun, ReconcileRun, Repository, WebhookDelivery

logger = logging.getLogger(__name__)

Status = WebhookDelivery.Status


def _broker_messages() -> float | None:
    """Messages waiting in the Celery queue (Redis list "celery"); None without a broker."""
    if not settings.REDIS_URL:
        return None
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        return float(client.llen("celery"))
    except redis.RedisError as exc:
        logger.warning("metrics: broker unavailable", extra={"error": type(exc).__name__})
        return None
    finally:
        client.close()


def _by_status(
    rows: QuerySet[Any], statuses: list[str], name: str, documentation: str
) -> tuple[GaugeMetricFamily, dict[str, int]]:
    """A gauge of the rows by status (every status, 0 for none), and the counts."""
    counts: dict[str, int] = dict(
        rows.order_by()
        .values_list("status")
        .annotate(count=Count("pk"))
        .values_list("status", "count")
    )
    gauge = GaugeMetricFamily(name, documentation, labels=["status"])
    for status in statuses:
        gauge.add_metric([status], float(counts.get(status, 0)))
    return gauge, counts


class DeliveryCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        by_status, counts = _by_status(
            WebhookDelivery.objects.all(),
            Status.values,
            "tformance_webhook_deliveries",
            "Webhook deliveries stored, by their status now (received = waiting).",
        )
        yield by_status
        yield GaugeMetricFamily(
            "tformance_webhook_deliveries_stored",
            "Webhook deliveries stored in all (every status).",
            value=float(sum(counts.values())),
        )
        now = timezone.now()
        due_retries = WebhookDelivery.objects.filter(
            status=Status.FAILED, next_attempt_at__lte=now
        ).count()
        yield GaugeMetricFamily(
            "tformance_webhook_queue_depth",
            "Deliveries waiting for the drain: received, and failed ones due for a retry.",
            value=float(counts.get(Status.RECEIVED, 0) + due_retries),
        )
        yield GaugeMetricFamily(
            "tformance_webhook_retries_scheduled",
            "Failed deliveries with an automatic retry still to come.",
            value=float(
                WebhookDelivery.objects.filter(
                    status=Status.FAILED, next_attempt_at__isnull=False
                ).count()
            ),
        )
        oldest = WebhookDelivery.objects.filter(status=Status.RECEIVED).aggregate(
            at=Min("received_at")
        )["at"]
        yield GaugeMetricFamily(
            "tformance_webhook_oldest_waiting_seconds",
            "Age of the oldest delivery waiting in received (0 when none waits).",
            value=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        )
        messages = _broker_messages()
        if messages is not None:
            yield GaugeMetricFamily(
                "tformance_celery_queue_messages",
                "Messages waiting in the Celery queue on Redis.",
                value=messages,
            )


class HistoryCollector(Collector):
    """History runs by status, and the tracked repositories whose latest run failed."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        by_status, _counts = _by_status(
            HistoryRun.objects.all(),
            HistoryRun.Status.values,
            "tformance_history_runs",
            "History runs (backfills), by their status now.",
        )
        yield by_status
        latest = HistoryRun.objects.filter(repository=OuterRef("pk")).order_by("-created_at", "-pk")
        failed = (
            Repository.objects.filter(tracked=True)
            .annotate(latest_status=Subquery(latest.values("status")[:1]))
            .filter(latest_status=HistoryRun.Status.FAILED)
            .count()
        )
        yield GaugeMetricFamily(
            "tformance_history_failed_repositories",
            "Tracked repositories whose latest history run failed (Retry on the GitHub page).",
            value=float(failed),
        )


class ReconcileCollector(Collector):
    """The latest reconcile run with GitHub's delivery log (none yet: no series)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        run = ReconcileRun.objects.order_by("-started_at", "-pk").first()
        if run is None:
            return
        yield GaugeMetricFamily(
            "tformance_reconcile_last_run_age_seconds",
            "Seconds since the latest reconcile run started.",
            value=max(0.0, (timezone.now() - run.started_at).total_seconds()),
        )
        yield GaugeMetricFamily(
            "tformance_reconcile_last_run_failed",
            "1 when the latest reconcile run ended early on an error, else 0.",
            value=1.0 if run.error else 0.0,
        )
        yield GaugeMetricFamily(
            "tformance_reconcile_last_run_recovered",
            "Deliveries the latest reconcile run recovered from GitHub's delivery log.",
            value=float(run.recovered),
        )


def client_allowed(*, address: str, authorization: str) -> bool:
    """True for a request with ``Authorization: Bearer <METRICS_TOKEN>``, or
    from an address in METRICS_ALLOWED_NETWORKS. Neither configured: nobody."""
    import hmac

    token = settings.METRICS_TOKEN
    scheme, _, presented = authorization.partition(" ")
    if (
        token
        and scheme.lower() == "bearer"
        and hmac.compare_digest(presented.encode(), token.encode())
    ):
        return True
    try:
        client = ipaddress.ip_address(address)
    except ValueError:
        return False
    for network in settings.METRICS_ALLOWED_NETWORKS:
        try:
            if client in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            logger.warning("METRICS_ALLOWED_NETWORKS: not a network", extra={"network": network})
    return False

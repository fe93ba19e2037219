"""Waking the drain: cheap for the view, harmless when the broker is down."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from apps.integrations.models import WebhookDelivery
from apps.integrations.services.deliveries import DrainWaker
from config.celery import app
from tests.integrations.conftest import own_redis_database
from tests.payloads.installations import ping_event

REDIS_DB = 12


def _drop_connection_pools() -> None:
    # Celery builds its producer pools from broker_url on first use and keeps them.
    app._pool = None
    app.amqp._producer_pool = None


def _use_broker(url: str) -> dict[str, object]:
    saved = {"broker_url": app.conf.broker_url, "task_always_eager": app.conf.task_always_eager}
    app.conf.update(broker_url=url, task_always_eager=False)
    _drop_connection_pools()
    return saved


@pytest.fixture
def broker_down() -> Iterator[None]:
    saved = _use_broker("redis://127.0.0.1:1/0")  # nothing listens on port 1
    yield
    app.conf.update(saved)
    _drop_connection_pools()


@pytest.fixture
def broker_queue() -> Iterator[object]:
    import redis

    url = own_redis_database(REDIS_DB)
    client = redis.Redis.from_url(url)
    saved = _use_broker(url)
    yield client
    app.conf.update(saved)
    _drop_connection_pools()
    client.flushdb()


@pytest.mark.django_db
def test_it_answers_202_and_keeps_the_delivery_when_the_broker_is_down(
    deliver, broker_down, caplog
):
    with caplog.at_level(logging.WARNING, logger="apps.integrations.services.deliveries"):
        response = deliver("ping", ping_event(), delivery_id="kept")

    assert response.status_code == 202
    assert WebhookDelivery.objects.get(delivery_id="kept").status == "received"
    assert "could not wake the delivery drain (OperationalError)" in caplog.text
    assert "127.0.0.1:1" not in caplog.text


@pytest.mark.redis
def test_it_sends_at_most_one_wake_up_and_one_trailing_one_per_interval(broker_queue):
    waker = DrainWaker(interval=3600)

    for _ in range(10):
        waker.wake()

    messages = [json.loads(raw) for raw in broker_queue.lrange("celery", 0, -1)]
    assert [m["headers"]["task"] for m in messages] == [
        "apps.integrations.tasks.drain_deliveries"
    ] * 2
    assert [m["headers"]["eta"] is None for m in messages].count(True) == 1

"""Waking the drain: cheap for the view, harmless when the broker is down, one
pass per interval however many web processes ask."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Iterator

import pytest

from apps.integrations.models import WebhookDelivery
from apps.integrations.pipeline import drain
from apps.integrations.pipeline.drain import drain_deliveries
from apps.integrations.scheduling import send_drain
from apps.integrations.scheduling.wake import DrainWaker
from apps.integrations.tasks import drain_deliveries as drain_task
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
    with caplog.at_level(logging.WARNING, logger="apps.integrations.scheduling.wake"):
        response = deliver("ping", ping_event(), delivery_id="kept")

    assert response.status_code == 202
    assert WebhookDelivery.objects.get(delivery_id="kept").status == "received"
    assert "could not wake the delivery drain (OperationalError)" in caplog.text
    assert "127.0.0.1:1" not in caplog.text


class Clock:
    """The time a waker reads, set by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _wake_at(waker: DrainWaker, clock: Clock, *times: float) -> None:
    for now in times:
        clock.now = now
        waker.wake()


def _sent(queue) -> list[tuple[float, bool]]:
    """(woken_for, whether it has an eta) of each wake-up message, oldest first."""
    sent = []
    for raw in reversed(queue.lrange("celery", 0, -1)):
        message = json.loads(raw)
        assert message["headers"]["task"] == "apps.integrations.tasks.drain_deliveries"
        _, kwargs, _ = json.loads(base64.b64decode(message["body"]))
        sent.append((kwargs["woken_for"], message["headers"]["eta"] is not None))
    return sent


@pytest.mark.redis
def test_it_wakes_at_once_after_a_quiet_interval(broker_queue):
    clock = Clock(1000.03)
    waker = DrainWaker(send=send_drain, interval=0.1, clock=clock)

    waker.wake()

    assert _sent(broker_queue) == [(1000.03, False)]


@pytest.mark.redis
def test_it_then_wakes_once_at_the_next_tick_of_the_interval(broker_queue):
    clock = Clock(1000.03)
    waker = DrainWaker(send=send_drain, interval=0.1, clock=clock)
    waker.wake()

    _wake_at(waker, clock, 1000.05, 1000.07, 1000.09, 1000.11, 1000.11)

    sent = _sent(broker_queue)
    assert [eta for _, eta in sent] == [False, True, True]
    assert [woken_for for woken_for, _ in sent] == pytest.approx([1000.03, 1000.1, 1000.2])


@pytest.mark.redis
def test_it_wakes_every_web_process_for_the_same_instants(broker_queue):
    """So the drain tells apart their wake-ups for one instant (each process
    has its own waker)."""
    clock = Clock(1000.00)
    first, second = (
        DrainWaker(send=send_drain, interval=0.1, clock=clock),
        DrainWaker(send=send_drain, interval=0.1, clock=clock),
    )
    _wake_at(first, clock, 1000.00)
    _wake_at(second, clock, 1000.02)
    broker_queue.delete("celery")

    _wake_at(first, clock, 1000.04)
    _wake_at(second, clock, 1000.06)

    assert [woken_for for woken_for, _ in _sent(broker_queue)] == pytest.approx([1000.1, 1000.1])


@pytest.mark.redis
def test_it_still_wakes_after_the_clock_is_set_back(broker_queue):
    clock = Clock(1000.00)
    waker = DrainWaker(send=send_drain, interval=0.1, clock=clock)
    _wake_at(waker, clock, 1000.00, 1000.01)
    broker_queue.delete("celery")

    _wake_at(waker, clock, 400.0)

    assert len(_sent(broker_queue)) == 1


@pytest.mark.redis
def test_it_pauses_five_seconds_after_the_broker_was_down_whatever_the_clock_says(
    broker_queue,
):
    clock, monotonic = Clock(1000.0), Clock(50.0)
    waker = DrainWaker(send=send_drain, interval=0.1, clock=clock, monotonic=monotonic)
    queue_url = app.conf.broker_url
    _use_broker("redis://127.0.0.1:1/0")
    waker.wake()
    _use_broker(queue_url)

    clock.now, monotonic.now = 900.0, 54.0
    waker.wake()
    assert _sent(broker_queue) == []

    clock.now, monotonic.now = 901.0, 55.5
    waker.wake()
    assert len(_sent(broker_queue)) == 1


@pytest.mark.django_db
def test_it_drains_for_a_wake_up_due_after_the_last_drain_started(deliver):
    deliver("ping", ping_event(), delivery_id="first", lose_wake_up=True)

    assert drain_deliveries(woken_for=time.time()) == 1
    assert WebhookDelivery.objects.get(delivery_id="first").status == "ignored"


@pytest.mark.django_db
def test_it_skips_a_wake_up_that_a_drain_started_since_has_served(deliver):
    """A drain that started after a wake-up was due saw every delivery stored
    before it: the same wake-up from the other web processes finds nothing."""
    due = time.time()
    deliver("ping", ping_event(), delivery_id="first", lose_wake_up=True)
    drain_deliveries(woken_for=due)
    deliver("ping", ping_event(), delivery_id="second", lose_wake_up=True)

    assert drain_deliveries(woken_for=due) == 0

    assert WebhookDelivery.objects.get(delivery_id="second").status == "received"
    assert drain_deliveries(woken_for=time.time()) == 1


@pytest.mark.django_db
def test_it_drains_when_the_last_drain_started_after_now(deliver, monkeypatch):
    """The clock was set back since that drain: when it started says nothing."""
    monkeypatch.setattr(drain._runs, "last_started", time.time() + 3600)
    deliver("ping", ping_event(), delivery_id="after-the-step", lose_wake_up=True)

    assert drain_deliveries(woken_for=time.time()) == 1


@pytest.mark.django_db
def test_it_drains_for_a_redelivered_wake_up(deliver):
    """Its worker died mid-drain, holding deliveries that drains started since
    skipped (they were locked)."""
    due = time.time()
    drain_deliveries(woken_for=due)
    deliver("ping", ping_event(), delivery_id="held-by-the-dead-drain", lose_wake_up=True)

    drain_task.push_request(delivery_info={"redelivered": True})
    try:
        handled = drain_task.run(woken_for=due)
    finally:
        drain_task.pop_request()

    assert handled == 1

"""Waking the drain after deliveries are stored, at most once per short interval."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

# Each web process wakes the drain at most once per interval (DrainWaker): one
# drain pass serves every delivery stored before it starts. Each wake is a
# Celery message (measured: 0.45 ms of CPU to publish, and 1 ms on the worker
# for one that finds its work done); at 0.05 s the wake-ups alone cost a fifth
# of the webhook's throughput in the benchmark, and the interval adds to the
# time from receipt to processed (p95 about 125 ms at full load in
# bench/webhook_load.py; about 230 ms at 0.2 s).
WAKE_INTERVAL_SECONDS = 0.1
# After a failed publish (broker down), stop trying for a while: each try can cost
# the request up to the connection timeout, and the sweeper finds the deliveries.
BROKER_DOWN_PAUSE_SECONDS = 5.0

# Sends a drain for the deliveries stored before ``woken_for`` (a time.time()),
# in ``countdown`` seconds (None: now). The Celery task module provides it.
SendDrain = Callable[[float | None, float | None], None]


class DrainWaker:
    """Wakes the drain for deliveries stored in this process: at once after a
    quiet interval; otherwise once, at the next multiple of the interval on the
    clock. Every web process picks the same instants, so the drain tells their
    wake-ups for one instant from a later one (`drain_deliveries`): under load,
    one pass per interval. Each process waking on its own schedule made passes
    half as large, and a pass costs some 7 ms of the worker's time whatever its
    size."""

    def __init__(
        self,
        *,
        send: SendDrain,
        interval: float,
        in_process: Callable[[], bool] = lambda: False,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self._interval = interval
        self._in_process = in_process
        self._clock = clock
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._due = float("-inf")
        self._paused_until = float("-inf")

    def wake(self) -> None:
        if self._in_process():
            # In-process tasks: the wake-up is the drain itself.
            self._send(None, None)
            return
        now = self._clock()
        with self._lock:
            if self._monotonic() < self._paused_until:
                return
            # A wake-up due within the interval finds this delivery (stored
            # before it). Further ahead than that, the clock was set back.
            if now < self._due <= now + self._interval:
                return
            if now >= self._due + self._interval:
                due, countdown = now, None
            else:
                due = (math.floor(now / self._interval) + 1) * self._interval
                countdown = due - now
            self._due = due
        try:
            self._send(due, countdown)
        except Exception as error:
            # Only the type: broker errors may carry its URL, with a password.
            logger.warning(
                "could not wake the delivery drain (%s); the sweeper will pick the deliveries up",
                type(error).__name__,
            )
            with self._lock:
                # On the monotonic clock: a pause must not grow when the
                # clock is set back.
                self._paused_until = self._monotonic() + BROKER_DOWN_PAUSE_SECONDS

"""One pacer per installation for GitHub's GraphQL API: as fast as GitHub's
limits allow, and never refused.

GitHub allows an installation about 60 seconds of GraphQL CPU time per 60
seconds ("you can roughly estimate the CPU time by measuring the total response
time"), 2,000 secondary points a minute (1 per query), 100 requests in flight
and its hourly points (``rateLimit.remaining``, back at ``resetAt``). Going
past any of them is a refusal and a wait of a minute or more; staying far below
wastes the budget. So every GraphQL request of an installation asks its pacer
first:

    page = history_pacer.pacer_call(
        installation_id=42, owner="history-run-7", max_wait=5.0,
        read=lambda: pull_request_page(github, ...),   # has .rate_limit and .seconds
    )

or, by hand: ``pacer_acquire`` (a ``Permit``), the request, then
``pacer_release(permit=…, seconds=…, cost=…, remaining=…, reset_at=…)`` or
``pacer_refused(permit=…, seconds=…, until=…)`` for GitHub's refusal.

``pacer_acquire`` admits a request only if the response time of the requests
that finished in the last 60 s, plus the time expected of those in flight, plus
the one expected of this one, fits in ``target`` (95 %) of the budget; a slow
start (one request in flight until one is measured) and a cap on requests in
flight (``max_in_flight``, 2) keep the first seconds and the bursts honest. The
expected time is the slowest of the last ten measured. When nothing fits it
sleeps (at most ``max_wait``), then raises ``PacerWait`` with the moment to try
again: a caller re-queues itself for then rather than hold a worker.

The state is shared by every process: in Redis when ``REDIS_URL`` is set (one
small JSON document per installation, under a Redis lock), in this process's
memory otherwise (in-process mode has one process). Any kind of history
(pull requests, deployments, commits) goes through the same pacer, so they share
one budget. ``pacer_figures`` says how much of the budget is in use, for the
settings page.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from django.conf import settings

from github_app.errors import RateLimited
from github_app.history import RateLimit

logger = logging.getLogger(__name__)

# GitHub's documented limits (secondary rate limits, GraphQL).
WINDOW_SECONDS = 60.0
CPU_SECONDS_PER_WINDOW = 60.0
POINTS_PER_WINDOW = 2000  # secondary points: 1 per query without a mutation
GITHUB_MAX_IN_FLIGHT = 100
# A permit never released (its worker killed) stops counting after this long.
LOST_AFTER_SECONDS = 300.0
SAMPLES = 10
SLOW_START_SAMPLES = 1
# Before any measure: what a page of 100 pull requests takes on GitHub.com.
DEFAULT_EXPECTED_SECONDS = 2.0
# Without the shared state (Redis away) nothing is admitted: ask again this much later.
UNAVAILABLE_WAIT_SECONDS = 30.0


class StoreUnavailable(Exception):
    """The shared state cannot be read or written (Redis away)."""


@dataclass(frozen=True, slots=True)
class PacerLimits:
    """What the pacer keeps to. Tests and benchmarks shrink the window."""

    window: float = WINDOW_SECONDS
    cpu_seconds: float = CPU_SECONDS_PER_WINDOW
    # The share of the CPU-time budget to fill: the rest absorbs a response
    # slower than the slowest measured.
    target: float = 0.95
    points: int = POINTS_PER_WINDOW
    points_target: float = 0.9
    # Two in flight fill the budget while a page is being stored and another
    # (its run's next page, read ahead, or another worker's) waits for GitHub;
    # more would only queue at GitHub.
    max_in_flight: int = 2
    # Hourly points kept back for the other things the installation reads.
    points_reserve: int = 50


class PacerWait(Exception):
    """Nothing fits GitHub's budget now: try again at ``until`` (epoch seconds)."""

    def __init__(self, until: float, reason: str) -> None:
        super().__init__(reason)
        self.until = until
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Permit:
    installation_id: int
    token: str
    started: float


@dataclass(frozen=True, slots=True)
class PacerFigures:
    """The installation's budget now: the share of the CPU-time budget used in
    the last window, the points left this hour and when they come back, GitHub's
    refusals seen, and totals since the state was made."""

    share_used: float
    in_flight: int
    remaining: int | None
    reset_at: float | None
    blocked_until: float
    refusals: int
    requests: int
    response_seconds: float


@dataclass(slots=True)
class _State:
    done: list[list[float]] = field(default_factory=list)  # [finished at, seconds]
    starts: list[float] = field(default_factory=list)
    in_flight: dict[str, list[float]] = field(default_factory=dict)  # token: [start, expected]
    samples: list[float] = field(default_factory=list)
    remaining: int | None = None
    reset_at: float | None = None
    cost: int = 1
    blocked_until: float = 0.0
    # Who was refused: its own wait already honours the block (and longer).
    blocked_by: str = ""
    refusals: int = 0
    requests: int = 0
    response_seconds: float = 0.0

    def to_json(self) -> str:
        return json.dumps({name: getattr(self, name) for name in self.__slots__})

    @classmethod
    def from_json(cls, raw: str | bytes | None) -> _State:
        if not raw:
            return cls()
        try:
            data = json.loads(raw)
        except ValueError:
            return cls()
        state = cls()
        if isinstance(data, dict):
            for name in cls.__slots__:
                if name in data:
                    setattr(state, name, data[name])
        return state

    def forget_before(self, now: float, limits: PacerLimits) -> None:
        horizon = now - limits.window
        self.done = [entry for entry in self.done if entry[0] > horizon]
        self.starts = [start for start in self.starts if start > horizon]
        self.in_flight = {
            token: entry
            for token, entry in self.in_flight.items()
            if entry[0] > now - LOST_AFTER_SECONDS
        }
        if self.reset_at is not None and self.reset_at <= now:
            self.remaining, self.reset_at = None, None

    def expected(self) -> float:
        return max(self.samples) if self.samples else DEFAULT_EXPECTED_SECONDS

    def used(self) -> float:
        return sum(seconds for _, seconds in self.done)


class Answer(Protocol):
    """What a paced read returns: GitHub's figures and its response time."""

    @property
    def rate_limit(self) -> RateLimit: ...

    @property
    def seconds(self) -> float: ...


_Answer = TypeVar("_Answer", bound=Answer)


class _Store(Protocol):
    def locked(self, installation_id: int) -> Any: ...

    def peek(self, installation_id: int) -> _State: ...


class MemoryStore:
    """The state of each installation in this process (in-process mode, tests)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[int, _State] = {}

    @contextmanager
    def locked(self, installation_id: int) -> Iterator[_State]:
        with self._lock:
            yield self._states.setdefault(installation_id, _State())

    def peek(self, installation_id: int) -> _State:
        with self._lock:
            return _State.from_json(self._states.get(installation_id, _State()).to_json())


class RedisStore:
    """The state of each installation in Redis, shared by every worker process."""

    def __init__(self, url: str) -> None:
        import redis

        self._client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)

    @contextmanager
    def locked(self, installation_id: int) -> Iterator[_State]:
        import redis

        key = f"tformance:history-pacer:{installation_id}"
        try:
            with self._client.lock(f"{key}:lock", timeout=10, blocking_timeout=10):
                state = _State.from_json(self._client.get(key))
                yield state
                # Gone after an idle hour: nothing in it matters by then.
                self._client.set(key, state.to_json(), ex=3600)
        except redis.RedisError as exc:
            raise StoreUnavailable(str(exc)) from exc

    def peek(self, installation_id: int) -> _State:
        """The state as it is, read without the lock (a page must not wait on it)."""
        import redis

        try:
            return _State.from_json(self._client.get(f"tformance:history-pacer:{installation_id}"))
        except redis.RedisError as exc:
            raise StoreUnavailable(str(exc)) from exc

    def forget_all(self) -> None:
        import redis

        try:
            for key in self._client.scan_iter(match="tformance:history-pacer:*"):
                self._client.delete(key)
        except redis.RedisError:
            pass  # nothing to forget where there is no server


class Pacer:
    """The admission rule over a store of per-installation states."""

    def __init__(
        self,
        *,
        store: _Store,
        limits: PacerLimits | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.limits = limits or PacerLimits()
        self.clock = clock
        self.sleep = sleep

    def try_acquire(self, installation_id: int, *, owner: str = "") -> Permit | PacerWait:
        limits = self.limits
        now = self.clock()
        with self.store.locked(installation_id) as state:
            state.forget_before(now, limits)
            if state.blocked_until > now and not (owner and owner == state.blocked_by):
                return PacerWait(state.blocked_until, "GitHub asked to wait")
            budget = limits.cpu_seconds * limits.target
            # A request slower than the whole budget goes when the window is empty.
            expected = min(state.expected(), budget)
            in_flight = len(state.in_flight)
            cap = 1 if len(state.samples) < SLOW_START_SAMPLES else limits.max_in_flight
            if in_flight >= min(cap, GITHUB_MAX_IN_FLIGHT):
                soonest = min(start + exp for start, exp in state.in_flight.values())
                return PacerWait(max(soonest, now + 0.01), "requests in flight")
            if state.remaining is not None and state.reset_at is not None:
                promised = (in_flight + 1) * state.cost
                if state.remaining - promised < limits.points_reserve:
                    return PacerWait(state.reset_at, "the hour's points are spent")
            if len(state.starts) + 1 > limits.points * limits.points_target:
                return PacerWait(state.starts[0] + limits.window, "points per minute")
            pending = sum(exp for _, exp in state.in_flight.values())
            if state.used() + pending + expected > budget:
                room = budget - pending - expected
                return PacerWait(_fits_at(state, now, room, limits.window), "CPU time")
            token = uuid.uuid4().hex
            state.in_flight[token] = [now, expected]
            state.starts.append(now)
            return Permit(installation_id=installation_id, token=token, started=now)

    def acquire(self, installation_id: int, *, max_wait: float = 0.0, owner: str = "") -> Permit:
        """A permit, sleeping up to ``max_wait`` for one; ``PacerWait`` past that.
        ``owner`` names the caller (a run): a block its own refusal caused does not
        hold it, as its own wait for that refusal is over when it asks again."""
        deadline = self.clock() + max_wait
        while True:
            try:
                answer = self.try_acquire(installation_id, owner=owner)
            except StoreUnavailable as exc:
                # Not knowing the budget, a request could be the one refused.
                logger.warning("history pacer: its state is unavailable: %s", exc)
                raise PacerWait(
                    self.clock() + UNAVAILABLE_WAIT_SECONDS, "the pacer's state is unavailable"
                ) from None
            if isinstance(answer, Permit):
                return answer
            if answer.until > deadline:
                raise answer
            self.sleep(max(answer.until - self.clock(), 0.001))

    def release(
        self,
        permit: Permit,
        *,
        seconds: float,
        cost: int | None = None,
        remaining: int | None = None,
        reset_at: float | None = None,
    ) -> None:
        """The request answered in ``seconds``, with GitHub's figures if it gave them."""
        now = self.clock()
        with _reported(), self.store.locked(permit.installation_id) as state:
            state.in_flight.pop(permit.token, None)
            state.forget_before(now, self.limits)
            seconds = max(float(seconds), 0.0)
            state.done.append([now, seconds])
            state.samples = [*state.samples, seconds][-SAMPLES:]
            state.requests += 1
            state.response_seconds += seconds
            if cost is not None and cost > 0:
                state.cost = cost
            if remaining is not None and remaining >= 0 and reset_at is not None:
                state.remaining, state.reset_at = remaining, reset_at

    def refused(self, permit: Permit, *, seconds: float, until: float, owner: str = "") -> None:
        """GitHub refused the request (a limit): nobody asks again before ``until``."""
        now = self.clock()
        with _reported(), self.store.locked(permit.installation_id) as state:
            state.in_flight.pop(permit.token, None)
            state.forget_before(now, self.limits)
            state.done.append([now, max(float(seconds), 0.0)])
            state.refusals += 1
            state.requests += 1
            if until >= state.blocked_until:
                state.blocked_until, state.blocked_by = until, owner

    def call(
        self,
        installation_id: int,
        read: Callable[[], _Answer],
        *,
        owner: str = "",
        max_wait: float = 0.0,
    ) -> _Answer:
        """``read()`` (one GraphQL request) once admitted, reported to the pacer:
        its time and GitHub's figures, or GitHub's refusal (``RateLimited``,
        raised again after it is recorded)."""
        permit = self.acquire(installation_id, max_wait=max_wait, owner=owner)
        started = time.monotonic()
        try:
            answer = read()
        except RateLimited as limit:
            seconds = time.monotonic() - started
            self.refused(permit, seconds=seconds, until=limit.reset_at.timestamp(), owner=owner)
            raise
        except BaseException:
            self.release(permit, seconds=time.monotonic() - started)
            raise
        figures = answer.rate_limit
        self.release(
            permit,
            seconds=answer.seconds,
            cost=figures.cost,
            remaining=figures.remaining,
            reset_at=figures.reset_at.timestamp() if figures.reset_at else None,
        )
        return answer

    def figures(self, installation_id: int) -> PacerFigures:
        now = self.clock()
        state = self.store.peek(installation_id)
        state.forget_before(now, self.limits)
        return PacerFigures(
            share_used=min(state.used() / self.limits.cpu_seconds, 1.0),
            in_flight=len(state.in_flight),
            remaining=state.remaining,
            reset_at=state.reset_at,
            blocked_until=state.blocked_until,
            refusals=state.refusals,
            requests=state.requests,
            response_seconds=state.response_seconds,
        )


@contextmanager
def _reported() -> Iterator[None]:
    """A request's report lost with the state (Redis away) is only logged: the
    answer is the caller's all the same, and its permit expires."""
    try:
        yield
    except StoreUnavailable as exc:
        logger.warning("history pacer: a request's report was lost: %s", exc)


def _fits_at(state: _State, now: float, room: float, window: float) -> float:
    """When enough of the finished requests' time has left the window for
    ``room`` seconds more to fit; past them all, when the first in flight ends."""
    total = state.used()
    at = now
    for finished, seconds in sorted(state.done):
        if total <= room:
            break
        total -= seconds
        at = max(at, finished + window)
    if total > room and state.in_flight:
        at = max(at, min(start + exp for start, exp in state.in_flight.values()))
    return at + 0.001


_default: Pacer | None = None
_default_lock = threading.Lock()


def history_pacer() -> Pacer:
    """The process's pacer: over Redis when ``REDIS_URL`` is set, memory otherwise."""
    global _default
    url = settings.REDIS_URL
    with _default_lock:
        wanted = RedisStore if url else MemoryStore
        if _default is None or not isinstance(_default.store, wanted):
            _default = Pacer(store=RedisStore(url) if url else MemoryStore())
        return _default


def pacer_acquire(*, installation_id: int, max_wait: float = 0.0, owner: str = "") -> Permit:
    """Wait (up to ``max_wait`` seconds) for room for one GraphQL request of the
    installation; ``PacerWait`` (with ``until``) when there is none that soon.
    ``owner`` (e.g. ``history-run-7``) as given to ``pacer_refused``."""
    return history_pacer().acquire(installation_id, max_wait=max_wait, owner=owner)


def pacer_call(
    *, installation_id: int, read: Callable[[], _Answer], owner: str = "", max_wait: float = 0.0
) -> _Answer:
    """One GraphQL request of the installation (``read``, returning a page with
    ``rate_limit`` and ``seconds``) through its pacer: admitted, timed, reported.
    ``PacerWait`` when there is no room within ``max_wait``; GitHub's
    ``RateLimited`` after it holds the installation's other requests."""
    return history_pacer().call(installation_id, read, owner=owner, max_wait=max_wait)


def pacer_release(
    *,
    permit: Permit,
    seconds: float,
    cost: int | None = None,
    remaining: int | None = None,
    reset_at: float | None = None,
) -> None:
    """The request ``permit`` admitted answered in ``seconds`` (GitHub's response
    time), with its ``rateLimit`` figures when it had them."""
    history_pacer().release(
        permit, seconds=seconds, cost=cost, remaining=remaining, reset_at=reset_at
    )


def pacer_refused(*, permit: Permit, seconds: float, until: float, owner: str = "") -> None:
    """GitHub refused the request (a rate limit): every request of the installation
    waits until ``until``, but ``owner``'s, which schedules its own wait."""
    history_pacer().refused(permit, seconds=seconds, until=until, owner=owner)


def pacer_figures(*, installation_id: int) -> PacerFigures:
    """The installation's budget now (for the settings page); an idle one when
    its state cannot be read (Redis away): a page shows, without the figures."""
    try:
        return history_pacer().figures(installation_id)
    except StoreUnavailable:
        return PacerFigures(0.0, 0, None, None, 0.0, 0, 0, 0.0)


def pacer_reset() -> None:
    """Forget every installation's state (tests: each starts with an idle budget)."""
    global _default
    with _default_lock:
        if _default is not None and isinstance(_default.store, RedisStore):
            _default.store.forget_all()
        _default = None

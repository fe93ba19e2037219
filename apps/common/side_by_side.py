"""Independent reads of one page, run side by side on connections of their own.

PostgreSQL runs each statement on one core. The dashboard's heavy figures (the
counts, the merged pull requests' aggregates, the review load, the AI figures)
are independent statements of a few hundred milliseconds each at a million pull
requests; one after the other they add up, while the database's other cores
wait. Run side by side, a page takes about as long as its longest statement or
its total over the cores, whichever is more (docs/metrics.md, "Side by side").
It adds no capacity: under many users at once, every core is busy anyway.

Each pool thread keeps its connection between reads, as Django keeps a
request thread's: before and after each read it closes one that is past
``CONN_MAX_AGE`` or left unusable by an error (Django's
``close_old_connections``, what it does at each request's start and end). A
connection opened for every read and closed after it cost the 90-day dashboard
at 1,000,000 pull requests about a tenth of its CPU: three backends started,
their caches cold for planning. ``side_by_side_shutdown`` closes them and ends
the pool (the test suite, before its database is flushed or dropped).
The threads run under the caller's time zone (Django keeps it per thread).

One after the other, in the calling thread, where a connection of another
thread could not see what the caller sees or could not be opened at all: on
SQLite (one writer, in-process), inside a transaction (a test's, or a caller's
own), inside a read that is itself side by side, or with
``PAGE_SIDE_BY_SIDE_READS`` set to 1.

The pool is the process's: its threads (``PAGE_SIDE_BY_SIDE_READS`` - 1) are
shared by every page the process serves at once, so that many connections more
per process at most, whatever the number of pages, kept open as the request
threads' are.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

from django.conf import settings
from django.db import close_old_connections, connection, connections
from django.utils import timezone

from apps.common.connections import once_more_if_dropped

T = TypeVar("T")

_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def _pool(width: int) -> ThreadPoolExecutor:
    with _pools_lock:
        pool = _pools.get(width)
        if pool is None:
            pool = ThreadPoolExecutor(max_workers=width, thread_name_prefix="side-by-side")
            _pools[width] = pool
        return pool


_in_pool = threading.local()


def _on_own_connection(work: Callable[[], T], zone: Any) -> T:
    _in_pool.active = True
    # This thread's connections only (Django keeps them per thread).
    close_old_connections()
    try:
        with timezone.override(zone):
            # A kept connection the database dropped meanwhile (a restart):
            # the read runs once more on a new one (each read only reads).
            return once_more_if_dropped(work)
    finally:
        _in_pool.active = False
        close_old_connections()


def side_by_side_shutdown() -> None:
    """End every pool's threads, each once it has closed its connections."""
    with _pools_lock:
        pools = list(_pools.items())
        _pools.clear()
    for threads, pool in pools:
        # One task per thread: each waits until every thread holds one, so
        # none takes two and none is left with a connection open. A pool
        # starts a thread for a task no idle thread takes, up to its width.
        everyone = threading.Barrier(threads)

        def close(everyone: threading.Barrier = everyone) -> None:
            connections.close_all()
            everyone.wait(timeout=30)

        for _ in range(threads):
            pool.submit(close)
        pool.shutdown(wait=True)


def side_by_side(work: Mapping[str, Callable[[], Any]]) -> dict[str, Any]:
    """Each callable's result, by its name. The first runs in this thread, on
    its connection; the others at most ``PAGE_SIDE_BY_SIDE_READS - 1`` at once
    in a pool's threads, each on a connection of its own (or all here, one
    after the other: see the module's docstring). Each must read, not write,
    and return its result whole (a list, not a lazy QuerySet). An error of any
    is raised once all are done."""
    names = list(work)
    width = settings.PAGE_SIDE_BY_SIDE_READS
    if (
        width <= 1
        or len(names) <= 1
        or connection.vendor != "postgresql"
        or connection.in_atomic_block
        # A read that reads side by side itself: the pool's threads could all
        # be waiting for threads of their own pool.
        or getattr(_in_pool, "active", False)
    ):
        return {name: work[name]() for name in names}
    pool = _pool(width - 1)
    zone = timezone.get_current_timezone()
    futures: dict[str, Future[Any]] = {
        name: pool.submit(_on_own_connection, work[name], zone) for name in names[1:]
    }
    try:
        results = {names[0]: work[names[0]]()}
    finally:
        # Never leave a read running for a page that has failed.
        wait(futures.values())
    for name, future in futures.items():
        results[name] = future.result()
    return {name: results[name] for name in names}

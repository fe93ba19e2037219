"""A deadline for a request's work on the database, kept in any thread.

PostgreSQL's statement_timeout is enforced by the server: a server that is
frozen (stopped, swapped out, a hung disk) enforces nothing, and the client's
socket waits for ever, past GitHub's 10 s. Here one watchdog thread per process
keeps every deadline: when one passes while its block still runs, it shuts the
block's database socket down (``shutdown(2)``), which ends any wait on it at
once, in whichever thread it is; the block's next or current query fails with
``DeadlinePassed``, an OperationalError, and the connection is closed.

What was in flight is lost with the connection: a transaction the server had
not committed is rolled back when it comes back (it sees the connection gone).

A connection being opened has no socket to shut yet: the PostgreSQL backend
(apps/common/postgresql) opens it with a connect timeout no longer than the
time left, and opens none with less left than libpq's shortest (2 s) or once
the deadline has passed.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connection, connections
from django.db.backends.signals import connection_created


class DeadlinePassed(OperationalError):
    """The work ran past its deadline. An OperationalError: to callers it is a
    database that did not answer."""


# Set by the web server bridge (config/asgi.py) when a request's headers have
# arrived: deadlines count from then, time spent waiting for a thread included.
ARRIVED_AT = "tformance.arrived_at"


def remaining(at: float) -> float:
    return at - time.monotonic()


def arrived_at(meta: dict[str, Any]) -> float:
    """When the request reached the process (``time.monotonic()``); now, for
    a request that came another way (the test client, another server)."""
    value = meta.get(ARRIVED_AT)
    return value if isinstance(value, float) else time.monotonic()


class _Watch:
    """One block under a deadline, and the socket of its connection."""

    def __init__(self, at: float, wrapper: Any) -> None:
        self.at = at
        self.wrapper = wrapper
        self.lock = threading.Lock()
        self.done = False
        self.fired = False
        # The descriptor and the socket's inode: a descriptor number closed
        # meanwhile may belong to another connection by the time the watchdog
        # acts, the inode tells it apart.
        self.fd: int | None = None
        self.inode: int | None = None

    def note_socket(self) -> None:
        raw = getattr(self.wrapper, "connection", None)
        pgconn = getattr(raw, "pgconn", None)
        if pgconn is None:  # not PostgreSQL (SQLite has no socket to wait on)
            return
        try:
            fd = int(pgconn.socket)
            inode = os.fstat(fd).st_ino
        except Exception:  # a connection already lost
            return
        with self.lock:
            self.fd, self.inode = fd, inode

    def fire(self) -> None:
        with self.lock:
            if self.done:
                return
            self.fired = True
            fd, inode = self.fd, self.inode
        if fd is None:
            return
        try:
            copy = os.dup(fd)
        except OSError:  # closed since
            return
        try:
            if os.fstat(copy).st_ino == inode:
                sock = socket.socket(fileno=copy)
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.detach()
        finally:
            os.close(copy)

    def finish(self) -> bool:
        with self.lock:
            self.done = True
            return self.fired


class _Watchdog:
    """The one thread that keeps the process's deadlines, started on first use."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Watch]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, watch: _Watch) -> None:
        with self._wake:
            heapq.heappush(self._heap, (watch.at, next(self._order), watch))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="deadlines", daemon=True)
                self._thread.start()
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._heap and self._heap[0][2].done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._wake.wait()
                    continue
                wait = remaining(self._heap[0][0])
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                due = heapq.heappop(self._heap)[2]
            due.fire()


_watchdog = _Watchdog()
_current = threading.local()


def _noted_on_connect(sender: Any, connection: Any, **kwargs: Any) -> None:
    # A connection opened inside a block: the watchdog needs its socket (and
    # one opened after the deadline passed is shut at once).
    watch = getattr(_current, "watch", None)
    if watch is not None and watch.wrapper is connection:
        watch.note_socket()
        if watch.fired:
            watch.fire()


def deadline_passed() -> bool:
    """Whether the current block's deadline has passed (False outside one)."""
    watch = getattr(_current, "watch", None)
    return watch is not None and (watch.fired or remaining(watch.at) <= 0)


connection_created.connect(_noted_on_connect, dispatch_uid="apps.common.deadline")


# libpq's shortest connect timeout, in whole seconds.
MIN_CONNECT_SECONDS = 2


def connect_timeout_within_deadline(wrapper: Any, configured: int) -> int:
    """The connect timeout for a connection ``wrapper`` opens now: the
    configured one, or less within a block under a deadline (libpq counts whole
    seconds, 2 at least). ``DeadlinePassed`` when the block's deadline has
    passed or is nearer than that. Called by the PostgreSQL backend
    (apps/common/postgresql)."""
    watch = getattr(_current, "watch", None)
    if watch is None or watch.wrapper is not wrapper:
        return configured
    left = remaining(watch.at)
    if watch.fired or left < MIN_CONNECT_SECONDS:
        raise DeadlinePassed("too little time left to connect within the request's deadline")
    return min(configured, int(left)) if configured else int(left)


@contextmanager
def deadline(*, at: float) -> Iterator[None]:
    """Run the block's database work until ``at`` (a ``time.monotonic()``
    instant); past it, ``DeadlinePassed`` (at once when ``at`` has passed
    already). A connection the block opens is opened within the time left."""
    if remaining(at) <= 0:
        raise DeadlinePassed("no time left within the request's deadline")
    wrapper = connections[DEFAULT_DB_ALIAS]
    # The thread's own connection object (``connection`` is a proxy that each
    # thread, the watchdog's too, resolves to its own).
    watch = _Watch(at, wrapper)
    watch.note_socket()
    outer = getattr(_current, "watch", None)
    _current.watch = watch
    _watchdog.watch(watch)
    try:
        yield
    except (OperationalError, InterfaceError) as error:
        if watch.fired and not isinstance(error, DeadlinePassed):
            # The socket this error comes from was shut by the deadline.
            raise DeadlinePassed(
                "no answer from the database within the request's deadline"
            ) from error
        raise
    finally:
        _current.watch = outer
        if watch.finish():
            # The socket was shut down: the connection cannot be used again.
            # (A block that finished all the same did its work: no error.)
            with contextlib.suppress(Exception):
                connection.close()

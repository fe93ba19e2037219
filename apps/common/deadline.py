"""A deadline for work that waits on another server without a timeout of its own."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from django.db import OperationalError

# Long enough for psycopg to unwind from the first interruption (it cancels the
# query: about 0.13 s against a frozen server in the fault test); a second
# signal during that made the answer wait for the server to come back.
RE_FIRE_SECONDS = 1.0


class DeadlinePassed(OperationalError):
    """The work ran past its deadline. An OperationalError: to callers it is a
    database that did not answer."""


def _raise(signum: int, frame: FrameType | None) -> None:
    raise DeadlinePassed("no answer from the database within the request's deadline")


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise DeadlinePassed in the block once ``seconds`` have passed.

    PostgreSQL's statement_timeout is enforced by the server: a server that is
    frozen (stopped, swapped out, a hung disk) enforces nothing, and the
    client's socket waits for ever, past GitHub's 10 s. A real-time timer
    interrupts that wait (psycopg's waits check for signals). Signals reach the
    main thread only, so in any other thread (a threaded server) and with
    ``seconds`` <= 0 the block runs without a deadline."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGALRM, _raise)
    # Then again every RE_FIRE_SECONDS until the block ends: code that catches
    # every exception (a logging handler, a library's cleanup) may swallow one,
    # and a one-shot timer would leave the rest of the block with no deadline.
    signal.setitimer(signal.ITIMER_REAL, seconds, RE_FIRE_SECONDS)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

"""Database connections: ones the database dropped, and cursors for large values."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from django.db import InterfaceError, OperationalError, connection
from django.db.backends.utils import CursorWrapper

from apps.common.deadline import DeadlinePassed, deadline_passed

logger = logging.getLogger(__name__)

T = TypeVar("T")


def once_more_if_dropped(work: Callable[[], T]) -> T:
    """Run ``work``; if it fails because the database dropped this process's
    persistent connection since its last use (a restart, a failover), run it once
    more on a new connection.

    Connections are not checked at the start of each request (a round trip per
    request; see DJANGO_CONN_HEALTH_CHECKS in settings), so the first statement
    on a dropped one fails. For work whose failure loses data, the webhook's:
    GitHub does not resend a delivery it could not hand over. Only outside a
    transaction (the work must start afresh) and for idempotent work."""
    before = connection.connection
    try:
        return work()
    except (OperationalError, InterfaceError) as error:
        # A database past the deadline is not asked again (is_usable would wait on it).
        if isinstance(error, DeadlinePassed):
            raise
        if deadline_passed():
            raise DeadlinePassed("no answer from the database within the deadline") from error
        if connection.in_atomic_block:
            raise
        # Work in a transaction of its own: after a failed rollback, Django's
        # Atomic has opened a new connection already; the old one was dropped.
        reopened = before is not None and connection.connection not in (None, before)
        if not reopened and connection.is_usable():
            raise
        logger.warning("the database dropped the connection; reconnecting once")
        connection.close()
        return work()


@contextmanager
def cursor_binding_on_server() -> Iterator[CursorWrapper]:
    """A cursor that sends its parameters to PostgreSQL apart from the statement
    (server-side binding), for statements that carry large values.

    Django's PostgreSQL cursors bind parameters on the client by default: each
    value is quoted into the statement, which PostgreSQL then reads character by
    character. For a webhook body of 20 KB that reading cost PostgreSQL about
    110 µs per insert, a third of its work on the insert (measured with psycopg
    on these machines). Not made the default for every cursor: in a drain pass, whose
    statements carry small values, it cost slightly more than it saved. Elsewhere
    (SQLite, or server-side binding set in the database OPTIONS) an ordinary
    cursor."""
    if connection.vendor != "postgresql" or connection.features.uses_server_side_binding:
        with connection.cursor() as cursor:
            yield cursor
        return
    from django.db.backends.postgresql.base import ServerBindingCursor

    # What connection.cursor() does, with the cursor class chosen here.
    connection.ensure_connection()
    connection.validate_thread_sharing()
    raw = ServerBindingCursor(connection.connection)
    wrap = connection.make_debug_cursor if connection.queries_logged else connection.make_cursor
    with wrap(raw) as cursor:
        yield cursor

"""Database connections that the database dropped."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from django.db import InterfaceError, OperationalError, connection

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
    try:
        return work()
    except (OperationalError, InterfaceError):
        if connection.in_atomic_block or connection.is_usable():
            raise
        logger.warning("the database dropped the connection; reconnecting once")
        connection.close()
        return work()

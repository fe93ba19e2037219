import logging

import redis
from django.conf import settings
from django.db import DatabaseError, connection

from apps.common.deadline import deadline

logger = logging.getLogger(__name__)


def database_status(*, answer_by: float) -> str:
    """ "up" or "down" (no answer by ``answer_by``, a ``time.monotonic()``
    instant, is down too: a frozen server answers nothing); a failure is logged
    with its type only (a DSN may hold a password)."""
    try:
        with deadline(at=answer_by), connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        logger.warning("health: database down (%s)", type(exc).__name__)
        return "down"
    return "up"


def broker_status() -> str:
    """ "in-process" without REDIS_URL, else "up" or "down"."""
    if not settings.REDIS_URL:
        return "in-process"
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        logger.warning("health: broker down (%s)", type(exc).__name__)
        return "down"
    finally:
        client.close()
    return "up"

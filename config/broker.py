"""Celery's broker transport: kombu's Redis transport, with one fix so that a
worker goes on through a Redis restart.

When Redis goes away, Celery closes the broker connection to open a new one.
Closing it closes its channel, which puts back the messages it holds
unacknowledged (a task's delayed retry, prefetched with its eta): by then kombu
(5.7) has released the connection, so reading its address raises
AttributeError ('NoneType' object has no attribute 'hostname'). Celery only
ignores connection errors while closing, so the AttributeError ended the worker
("Unrecoverable error"), every time it held such a message. Raised as Redis's
ConnectionError instead, the close ignores it and Celery reconnects; the
messages stay in Redis's unacknowledged set, from which kombu restores them
after the visibility timeout (and the deliveries they were for are in the
database, for the next drain or the sweeper)."""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> Any:
        if self.connection.client is None:
            raise RedisConnectionError("the broker connection is already closed")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis database of its own (db 11), emptied before and after."""
    url = os.environ["REDIS_URL"].rsplit("/", 1)[0] + "/11"
    server = redis.Redis.from_url(url)
    server.flushdb()
    yield url
    server.flushdb()

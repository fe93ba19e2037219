from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis

from github_app.client import forget_cached_tokens


@pytest.fixture(autouse=True)
def _no_cached_tokens() -> Iterator[None]:
    forget_cached_tokens()
    yield
    forget_cached_tokens()


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """githubkit sleeps between retries; record the pauses instead of waiting."""
    pauses: list[float] = []
    monkeypatch.setattr("githubkit.core.time.sleep", pauses.append)
    return pauses


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis database of its own (db 11), emptied before and after."""
    url = os.environ["REDIS_URL"].rsplit("/", 1)[0] + "/11"
    server = redis.Redis.from_url(url)
    server.flushdb()
    yield url
    server.flushdb()

"""Shared fixtures: a team with an owner (admin), a member, and an outsider.

Tests marked postgres / redis / integration / browser need a service; they skip
with the reason when it is absent, unless TFORMANCE_REQUIRE_SERVICES=1 (set by
.ci/run), where a missing service fails them instead."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from apps.common.side_by_side import side_by_side_shutdown
from apps.integrations.services.app_config import forget_stored_app
from apps.teams.models import Membership, Team
from github_app.client import forget_cached_tokens

REQUIRE_SERVICES = os.environ.get("TFORMANCE_REQUIRE_SERVICES") == "1"


def _redis_reachable() -> bool:
    url = os.environ.get("REDIS_URL", "")
    if not url:
        return False
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), 1):
            return True
    except OSError:
        return False


def _missing_service(item: pytest.Item) -> str | None:
    marks = {mark.name for mark in item.iter_markers()}
    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    if marks & {"postgres", "integration"} and not on_postgres:
        return "needs PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/test"
    if marks & {"redis", "integration"} and not _redis_reachable():
        return "needs Redis: set REDIS_URL=redis://127.0.0.1:6379/0 with a server running"
    if "browser" in marks:
        if not shutil.which("chromium") and not os.path.exists("/usr/bin/chromium"):
            return "needs Debian's chromium at /usr/bin/chromium"
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            return "needs the playwright Python package"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    reason = _missing_service(item)
    if reason is None:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"TFORMANCE_REQUIRE_SERVICES=1 but this test {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _no_github_state_between_tests() -> Iterator[None]:
    """Installation tokens and the stored GitHub App are cached per process;
    a test's rollback does not clear them, so every test starts without."""
    forget_cached_tokens()
    forget_stored_app()
    yield
    forget_cached_tokens()
    forget_stored_app()


@pytest.fixture(autouse=True)
def _side_by_side_connections_closed() -> Iterator[None]:
    """The threads reading a page's figures side by side keep their database
    connections (apps/common/side_by_side.py): closed after each test, so
    that none outlives the test database."""
    yield
    side_by_side_shutdown()


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """githubkit sleeps between retries: record the pauses instead of waiting."""
    pauses: list[float] = []
    monkeypatch.setattr("githubkit.core.time.sleep", pauses.append)
    return pauses


@pytest.fixture
def team(db: None) -> Team:
    return Team.objects.create(name="Acme", slug="acme")


@pytest.fixture
def owner(team: Team):  # type: ignore[no-untyped-def]
    user = get_user_model().objects.create_user("alice", password="password-alice")
    Membership.objects.create(user=user, team=team, role=Membership.Role.ADMIN)
    return user


@pytest.fixture
def member(team: Team):  # type: ignore[no-untyped-def]
    user = get_user_model().objects.create_user("bob", password="password-bob")
    Membership.objects.create(user=user, team=team, role=Membership.Role.MEMBER)
    return user


@pytest.fixture
def outsider(db: None):  # type: ignore[no-untyped-def]
    other = Team.objects.create(name="Other", slug="other")
    user = get_user_model().objects.create_user("charlie", password="password-charlie")
    Membership.objects.create(user=user, team=other, role=Membership.Role.ADMIN)
    return user


@pytest.fixture
def announced() -> Iterator[list[tuple[str, int]]]:
    """Every lifecycle signal sent, as (kind, pull request number), in order."""
    from apps.metrics.signals import LIFECYCLE_SIGNALS

    heard: list[tuple[str, int]] = []
    receivers = []
    for kind, signal in LIFECYCLE_SIGNALS.items():

        def receiver(sender: object, event: Any, kind: str = kind, **_: Any) -> None:
            heard.append((kind, event.pull_request.number))

        signal.connect(receiver, weak=False)
        receivers.append((signal, receiver))
    yield heard
    for signal, receiver in receivers:
        signal.disconnect(receiver)


class Clock:
    """The time ``django.utils.timezone.now`` answers while the fixture is on:
    fixed, moved on by ``advance``."""

    def __init__(self, now: Any) -> None:
        self.now = now

    def advance(self, **delta: float) -> None:
        from datetime import timedelta

        self.now = self.now + timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """A Wednesday noon, UTC (2025-01-08), for whatever reads timezone.now():
    weeks, expiries and recent merges do not depend on the day the suite runs."""
    from datetime import UTC, datetime

    from django.utils import timezone

    frozen = Clock(datetime(2025, 1, 8, 12, 0, tzinfo=UTC))
    monkeypatch.setattr(timezone, "now", lambda: frozen.now)
    return frozen


@pytest.fixture(autouse=True)
def _idle_history_pacer() -> Iterator[None]:
    """GitHub's budget as each installation's pacer sees it (in this process, or
    in Redis) outlives a test's rollback: every test starts with an idle one."""
    from apps.integrations.services.history_pacer import pacer_reset

    pacer_reset()
    yield
    pacer_reset()

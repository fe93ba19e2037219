"""A page's heavy reads side by side (apps/common/side_by_side.py): the same
figures as one after the other, on connections of their own that the pool's
threads keep (closed when obsolete, dropped or shut down), under the caller's
time zone, and one after the other where another
connection could not see the caller's rows. PostgreSQL only (SQLite reads one
after the other)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.utils import timezone

from apps.common import side_by_side as module
from apps.common.side_by_side import side_by_side
from apps.metrics.services.day_facts import day_facts_refresh
from tests.integrations.processes import wait_for
from tests.metrics.random_history import PAGES, _figures

pytestmark = pytest.mark.postgres


@pytest.fixture
def threads_used(monkeypatch) -> list[str]:
    """The names of the threads the reads ran in, other than the caller's."""
    names: list[str] = []
    run = module._on_own_connection

    def recording(work, zone):
        names.append(threading.current_thread().name)
        return run(work, zone)

    monkeypatch.setattr(module, "_on_own_connection", recording)
    return names


def _connections_here() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_it_gives_the_figures_one_after_the_other_gives(history, settings, threads_used):
    # Some days built, some stale: both ways of reading the day facts.
    day_facts_refresh(days=60)
    client = history["client"]
    before = _connections_here()
    for query in PAGES:
        settings.PAGE_SIDE_BY_SIDE_READS = 3
        fast = _figures(client, query)
        settings.PAGE_SIDE_BY_SIDE_READS = 1
        expected = _figures(client, query)
        assert fast == expected, query

    # The three heavy reads of each page (the merged and AI figures, the
    # counts, the review load) in the pool's threads (the light ones in the
    # request's own).
    assert len(threads_used) == 3 * len(PAGES)
    assert all(name.startswith("side-by-side") for name in threads_used)
    # Their connections are kept, one per thread of the pool at most...
    assert _connections_here() <= before + 2
    # ...until the pool is shut down: none is left open to the database (a
    # backend leaves pg_stat_activity shortly after its client closed).
    module.side_by_side_shutdown()
    wait_for(lambda: _connections_here() == before, timeout=10, what="the pool's backends gone")


def _backend() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _pool_backend() -> int:
    """The database backend of the pool's one thread (a width of 2)."""
    return side_by_side({"here": lambda: 0, "there": _backend})["there"]


@pytest.mark.django_db(transaction=True)
def test_its_threads_keep_their_connections_between_pages(settings):
    settings.PAGE_SIDE_BY_SIDE_READS = 2

    first = _pool_backend()

    assert first != _backend()
    assert _pool_backend() == first


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_database_dropped_is_opened_again_once(settings):
    settings.PAGE_SIDE_BY_SIDE_READS = 2
    dropped = _pool_backend()
    with connection.cursor() as cursor:
        # What a restart or a failover does to a kept connection.
        cursor.execute("SELECT pg_terminate_backend(%s)", [dropped])

    again = _pool_backend()

    assert again != dropped


@pytest.mark.django_db(transaction=True)
def test_a_connection_past_its_age_is_closed_after_its_read(settings):
    settings.PAGE_SIDE_BY_SIDE_READS = 2

    def obsolete() -> int:
        backend = _backend()
        # As CONN_MAX_AGE has it once the connection is that old.
        connection.close_at = 0.0
        return backend

    old = side_by_side({"here": lambda: 0, "there": obsolete})["there"]

    assert _pool_backend() != old

    def gone() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [old])
            return cursor.fetchone()[0] == 0

    wait_for(gone, timeout=10, what="the old backend gone")


@pytest.mark.django_db
def test_it_reads_one_after_the_other_inside_a_transaction(history, threads_used):
    # The test's transaction: rows another connection could not see.
    assert connection.in_atomic_block

    _figures(history["client"], PAGES[0])

    assert threads_used == []


@pytest.mark.django_db(transaction=True)
def test_it_raises_a_reads_error_once_every_read_is_done(settings):
    settings.PAGE_SIDE_BY_SIDE_READS = 3
    finished: list[str] = []
    release = threading.Event()

    def slow() -> str:
        # Still running when the first read fails.
        release.wait(timeout=10)
        finished.append("slow")
        return "slow"

    def failing() -> str:
        release.set()
        raise ValueError("a read failed")

    with pytest.raises(ValueError, match="a read failed"):
        side_by_side({"first": failing, "slow": slow, "other": lambda: "other"})

    assert finished == ["slow"]


@pytest.mark.django_db(transaction=True)
def test_it_reads_under_the_callers_time_zone(settings):
    settings.PAGE_SIDE_BY_SIDE_READS = 2

    with timezone.override("Asia/Kolkata"):
        found = side_by_side(
            {
                "here": timezone.get_current_timezone_name,
                "there": timezone.get_current_timezone_name,
                "thread": lambda: threading.current_thread().name,
            }
        )

    assert found["here"] == found["there"] == "Asia/Kolkata"
    assert found["thread"].startswith("side-by-side")
    assert list(found) == ["here", "there", "thread"]


@pytest.mark.django_db(transaction=True)
def test_a_read_side_by_side_reads_its_own_one_after_the_other(settings):
    # With one thread in the pool, a read waiting for that same thread would
    # never end.
    settings.PAGE_SIDE_BY_SIDE_READS = 2

    def nested() -> dict:
        return side_by_side({"a": lambda: 1, "b": lambda: threading.current_thread().name})

    found = side_by_side({"here": lambda: 0, "nested": nested})

    assert found["nested"]["a"] == 1
    assert found["nested"]["b"].startswith("side-by-side")

"""Two database sessions at once (PostgreSQL): work in a thread of its own,
with its own connection, while the test's session holds locks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection


def wait_until_another_session_waits_for_a_lock() -> None:
    with connection.cursor() as cursor:
        for _ in range(1000):
            # pg_stat_activity is a snapshot per transaction unless cleared.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.01)
    pytest.fail("the other session never waited for a lock this one holds")


class OtherSession(threading.Thread):
    """Runs `work` in a session of its own; `finish` waits for it and gives its
    result, or raises what it raised."""

    def __init__(self, work: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self._work = work
        self._result: Any = None
        self._error: BaseException | None = None

    def run(self) -> None:
        try:
            self._result = self._work()
        except BaseException as error:  # raised again by finish()
            self._error = error
        finally:
            connection.close()

    def finish(self) -> Any:
        self.join(timeout=30)
        assert not self.is_alive(), "the other session did not finish within 30 s"
        if self._error is not None:
            raise self._error
        return self._result


def drop_connection_from_the_server_side() -> None:
    """What a PostgreSQL restart does to this process's open connection: its
    backend is terminated by another session."""
    import psycopg

    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    settings = connection.settings_dict
    with psycopg.connect(
        host=settings["HOST"], port=settings["PORT"], user=settings["USER"], dbname=settings["NAME"]
    ) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])

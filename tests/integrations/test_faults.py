"""Faults during a stream of deliveries, with real processes: gunicorn, Celery
workers, and a PostgreSQL and a Redis server of the test's own, so that they can
be killed, restarted, stopped and frozen. Each test ends with every delivery
accounted for exactly once: sent = stored = processed, one pull request row
each, none lost, none duplicated. Each prints its figures (run with -s)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from github_app.signatures import sign
from tests.integrations.conftest import SECRET
from tests.integrations.processes import (
    Accounting,
    PostgresServer,
    Processes,
    RedisServer,
    Sender,
    accounting,
    app_env,
    manage,
    wait_until_processed,
)

pytestmark = pytest.mark.integration

STREAM = 120
TEMPLATE = "fault_template"

SEED = """
from apps.integrations.services.installations import (
    installation_claim, installation_upsert, repositories_sync,
)
from apps.teams.models import Team
from tests.payloads.installations import installation_block, repository_stub
team = Team.objects.create(name="Acme", slug="acme")
installation = installation_claim(
    installation=installation_upsert(data=installation_block(installation_id=42, login="acme")),
    team=team, user=None,
)
(repository,) = repositories_sync(
    installation=installation,
    repositories=[repository_stub(repository_id=100, full_name="acme/api")],
)
repository.tracked = True
repository.save(update_fields=["tracked"])
"""


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    # Not under pytest's temporary folder: that is root's alone, and the
    # server runs as the postgres user.
    folder = Path(tempfile.mkdtemp(prefix="tformance-faults-pg-"))
    server = PostgresServer(folder)
    server.init()
    server.start()
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {TEMPLATE}")
    env = app_env(database_url=server.url(TEMPLATE), redis_url="")
    env["DJANGO_DEBUG"] = "1"
    manage(env, "migrate", "--noinput")
    manage(env, "shell", "-c", SEED)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def stack(postgres: PostgresServer, tmp_path: Path, request: pytest.FixtureRequest):
    """A fresh database (a copy of the seeded template), a Redis of its own,
    and the processes the test starts."""
    database = f"fault_{request.node.name[8:40].replace('-', '_')}_{os.getpid()}"
    with psycopg.connect(postgres.url("postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database}")
        conn.execute(f"CREATE DATABASE {database} TEMPLATE {TEMPLATE}")
    redis = RedisServer(tmp_path)
    redis.start()
    processes = Processes(
        env=app_env(database_url=postgres.url(database), redis_url=redis.url), folder=tmp_path
    )
    try:
        yield processes, redis, postgres.url(database)
    finally:
        processes.stop_all()
        redis.stop()


def _report(name: str, sender: Sender, result: Accounting, **more: object) -> None:
    processed = result.by_status.get("processed", 0)
    sent = len(set(sender.accepted))
    figures = {
        "sent": sent,
        "stored": result.stored,
        "processed": processed,
        "lost": sent - processed,
        "duplicated": (result.stored - result.distinct_stored)
        + (result.pull_requests - result.distinct_pull_requests),
        "refused_then_resent": sender.refusals,
        "longest_answer_s": round(sender.longest, 2),
        **more,
    }
    print(f"\nFAULT {name}: {figures}")


def _assert_exactly_once(sender: Sender, result: Accounting) -> None:
    assert len(sender.accepted) == len(set(sender.accepted)) == STREAM
    assert result.stored == result.distinct_stored == STREAM
    assert result.by_status == {"processed": STREAM}
    assert result.pull_requests == result.distinct_pull_requests == STREAM


def test_it_goes_on_through_a_redis_restart(stack):
    processes, redis, database_url = stack
    sender = Sender(processes.web())
    worker = processes.worker()
    restarts = 0

    def fault(number: int) -> None:
        nonlocal restarts
        if number in (30, 70):
            # The worker holds a delayed message, unacknowledged, as Redis goes:
            # what made it exit (kombu's 'hostname' AttributeError) in the issue.
            processes.send_task("apps.integrations.tasks.drain_deliveries", countdown=30)
            redis.kill()
            sender.stream(range(number, number + 10))  # answered while Redis is away
            redis.start()
            restarts += 1

    numbers = iter(range(STREAM))
    for number in numbers:
        fault(number)
        if number in (30, 70):
            for _ in range(9):
                next(numbers)
            continue
        sender.post_one(number)
    # The wake-ups Redis held died with it, and for a few seconds after a failed
    # publish the web processes send none (BROKER_DOWN_PAUSE_SECONDS): those
    # deliveries wait for the next wake-up, which in production is the next
    # webhook or beat's sweeper within a minute. Here, one drain task sent
    # through the restarted Redis, as beat sends its schedule.
    processes.send_task("apps.integrations.tasks.drain_deliveries")
    # The same worker process, not a restarted one, drains everything.
    result = wait_until_processed(database_url, STREAM)
    assert worker.poll() is None, processes.logs()
    _assert_exactly_once(sender, result)
    assert sender.longest < 10
    _report("redis killed and restarted x2", sender, result, worker_restarts=0)


def test_it_loses_nothing_when_a_worker_is_killed_three_times(stack):
    processes, _, database_url = stack
    sender = Sender(processes.web())
    worker = [processes.worker("worker")]
    kills = 0

    def fault(number: int) -> None:
        nonlocal kills
        if number in (25, 55, 85):
            worker[0].send_signal(signal.SIGKILL)
            worker[0].wait(timeout=10)
            kills += 1
            # The supervisor starts another (Procfile, docs/deploy.md).
            worker[0] = processes.worker("worker")

    sender.stream(range(STREAM), during=fault)
    result = wait_until_processed(database_url, STREAM)
    assert kills == 3
    _assert_exactly_once(sender, result)
    _report("worker SIGKILLed x3", sender, result)


def test_three_workers_and_the_sweeper_race_on_one_backlog_without_a_duplicate(stack):
    processes, _, database_url = stack
    sender = Sender(processes.web())
    # The backlog: stored with no worker running, its wake-ups waiting in Redis.
    sender.stream(range(STREAM))
    assert accounting(database_url).by_status == {"received": STREAM}

    for name in ("worker-a", "worker-b", "worker-c"):
        processes.worker(name)
    processes.sweeper()
    result = wait_until_processed(database_url, STREAM)
    _assert_exactly_once(sender, result)
    # Claimed once each: no delivery was processed twice.
    assert result.max_attempts == 1
    _report("3 workers + sweeper on a backlog", sender, result)


def test_it_answers_503_while_postgresql_is_stopped_and_loses_nothing(stack, postgres):
    processes, _, database_url = stack
    sender = Sender(processes.web())
    processes.worker()

    def fault(number: int) -> None:
        if number == 50:
            postgres.kill()
            # Back in 5 s; meanwhile the sender's posts are answered 503 and resent.
            threading.Timer(5.0, postgres.start).start()

    sender.stream(range(STREAM), during=fault)
    result = wait_until_processed(database_url, STREAM)
    _assert_exactly_once(sender, result)
    assert sender.refusals >= 1
    assert sender.longest < 10, sender.answers
    _report("postgresql killed, back after 5 s", sender, result)


def test_it_answers_within_githubs_10_s_while_postgresql_is_frozen(stack, postgres):
    processes, _, database_url = stack
    # What GitHub sees is an answer within 10 s of sending; each refused
    # delivery is sent again under a new id, so a refused one stored would show.
    sender = Sender(processes.web(), new_id_after_refusal=True)
    processes.worker()
    sender.stream(range(40))

    pids = postgres.freeze()
    # Frozen for 9 s: past the webhook's deadline (7 s), not past GitHub's 10 s.
    threading.Timer(9.0, postgres.thaw, args=(pids,)).start()
    health = {}

    def check_health() -> None:
        started = time.monotonic()
        response = httpx.get(f"{sender.base_url}/healthz", timeout=15)
        health.update(status=response.status_code, seconds=time.monotonic() - started)

    checker = threading.Thread(target=check_health)
    checker.start()
    # Twelve clients at once: more than the web process's threads, so some
    # deliveries wait for one while the others wait on the frozen database.
    sender.stream_concurrently(range(40, STREAM), clients=12)
    checker.join()

    result = wait_until_processed(database_url, STREAM)
    _assert_exactly_once(sender, result)
    assert sender.longest < 10, sorted(sender.answers)[-10:]
    assert sender.refusals >= 1, ([a for a in sender.answers if a > 1], processes.logs())
    # Not one delivery answered 503 was stored (stored == accepted, above; and by id).
    with psycopg.connect(database_url) as conn:
        stored_refused = conn.execute(
            "SELECT delivery_id FROM integrations_webhookdelivery WHERE delivery_id = ANY(%s)",
            [sender.refused],
        ).fetchall()
    assert stored_refused == []
    # /healthz said the database was down within its own deadline (3 s), not at the thaw.
    assert health["status"] == 503
    assert health["seconds"] < 6, health
    _report(
        "postgresql frozen (SIGSTOP) 9 s, 12 clients",
        sender,
        result,
        healthz_s=round(health["seconds"], 2),
        slowest=[round(a, 2) for a in sorted(sender.answers)[-12:]],
    )


def _stall(base_url: str) -> socket.socket:
    """A client that sends a delivery's headers and 10 bytes of its body, then nothing."""
    host, port = base_url.removeprefix("http://").split(":")
    client = socket.create_connection((host, int(port)))
    client.sendall(
        b"POST /webhooks/github/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nX-GitHub-Event: ping\r\n"
        b"Content-Length: 5000\r\n\r\n" + b'{"zen": "'
    )
    return client


def test_it_answers_github_at_once_while_six_clients_stall(stack):
    processes, _, database_url = stack
    sender = Sender(processes.web())
    sender.post_one(0)  # the processes are warm
    stalled = [_stall(sender.base_url) for _ in range(6)]
    try:
        started = time.monotonic()
        sender.post_one(1)
        seconds = time.monotonic() - started
    finally:
        for client in stalled:
            client.close()

    # With gunicorn's two sync workers this waited 27 s for the stalled clients.
    assert seconds < 1, seconds
    assert accounting(database_url).stored == 2
    print(f"\nFAULT 6 stalled clients: a signed delivery answered in {seconds:.3f} s")


def test_it_accepts_a_chunked_delivery_and_keeps_the_size_limit(stack):
    processes, _, database_url = stack
    base_url = processes.web()
    body = json.dumps(Sender(base_url).payload(7)).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": "chunked-1",
        "X-Hub-Signature-256": sign(body=body, secret=SECRET),
    }

    def chunks(data: bytes, size: int = 1000):
        for start in range(0, len(data), size):
            yield data[start : start + size]

    # A generator has no length: httpx sends it with Transfer-Encoding: chunked.
    accepted = httpx.post(
        f"{base_url}/webhooks/github/", content=chunks(body), headers=headers, timeout=30
    )
    too_large = httpx.post(
        f"{base_url}/webhooks/github/",
        content=chunks(b"x" * (26 * 1024 * 1024), size=1024 * 1024),
        headers={**headers, "X-GitHub-Delivery": "chunked-2"},
        timeout=60,
    )

    assert accepted.status_code == 202, accepted.text
    assert too_large.status_code == 413
    assert accounting(database_url).stored == 1

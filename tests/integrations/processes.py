"""Real processes for the fault tests: a PostgreSQL and a Redis server of the
test's own (on free ports, in temporary folders, so they can be killed, stopped
and frozen by their pids), gunicorn, Celery workers, and a sender that posts a
stream of signed deliveries and times every answer."""

from __future__ import annotations

import contextlib
import glob
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from github_app.signatures import sign
from tests.integrations.conftest import SECRET

BASE_DIR = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), 0.5):
            return True
    except OSError:
        return False


class RedisServer:
    """redis-server on a port of its own, without persistence: a kill loses
    every message it held, the worst case for the pipeline."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = (self.folder / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_for(lambda: _port_open(self.port), timeout=20, what="redis-server")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()


def _postgres_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise AssertionError(f"no PostgreSQL {name} under /usr/lib/postgresql/*/bin")
    return found[-1]


def _as_postgres(command: list[str]) -> list[str]:
    # initdb refuses to run as root.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class PostgresServer:
    """A PostgreSQL cluster of the test's own, in a temporary folder, trust
    authentication, on a free port."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.data = folder / "data"
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
        subprocess.run(
            _as_postgres(
                [
                    _postgres_bin("initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        log = (self.folder / "postgres.log").open("ab")
        self.process = subprocess.Popen(
            _as_postgres(
                [
                    _postgres_bin("postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"unix_socket_directories={self.folder}",
                    "-c",
                    "fsync=off",
                    "-c",
                    "max_connections=50",
                ]
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_for(self.ready, timeout=30, what="PostgreSQL")

    def ready(self) -> bool:
        try:
            with psycopg.connect(self.url("postgres"), connect_timeout=1):
                return True
        except psycopg.Error:
            return False

    def pids(self) -> list[int]:
        """The postmaster and every process it started (the backends)."""
        assert self.process is not None
        main = self._postmaster_pid()
        children = subprocess.run(
            ["pgrep", "-P", str(main)], capture_output=True, text=True
        ).stdout.split()
        return [main, *map(int, children)]

    def _postmaster_pid(self) -> int:
        # With runuser in between, the postmaster is runuser's child.
        return int((self.data / "postmaster.pid").read_text().splitlines()[0])

    def kill(self) -> None:
        """Stopped as a crash stops it: SIGKILL to the postmaster and its backends."""
        pids = self.pids() if (self.data / "postmaster.pid").exists() else []
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        assert self.process is not None
        self.process.wait(timeout=20)
        (self.data / "postmaster.pid").unlink(missing_ok=True)

    def freeze(self) -> list[int]:
        pids = self.pids()
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        return pids

    @staticmethod
    def thaw(pids: list[int]) -> None:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            with_pid = self.data / "postmaster.pid"
            if with_pid.exists():
                pids = self.pids()
                self.thaw(pids)
                os.kill(pids[0], signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def procfile_command(name: str) -> str:
    """The command of the Procfile's process ``name``."""
    for line in (BASE_DIR / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no {name}: line in the Procfile")


def app_env(*, database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_SECRET_KEY": "fault-test-secret-key-not-for-production",
        "DJANGO_DEBUG": "",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SSL_REDIRECT": "0",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "LOG_LEVEL": "WARNING",
        "DATABASE_CONNECT_TIMEOUT": "2",
        **extra,
    }


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


@dataclass
class Processes:
    env: dict[str, str]
    folder: Path
    running: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def _start(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        log = (self.folder / f"{name}.log").open("ab")
        process = subprocess.Popen(
            command, cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        self.running.append(process)
        return process

    def web(self, *, workers: int = 2) -> str:
        """The web process exactly as the Procfile starts it (its ``web:``
        line, run by a shell with PORT and WEB_CONCURRENCY set); its base URL."""
        port = free_port()
        command = procfile_command("web")
        self.env = {
            **self.env,
            "PORT": str(port),
            "WEB_CONCURRENCY": str(workers),
            # The Procfile names gunicorn: this interpreter's.
            "PATH": f"{Path(sys.executable).parent}:{self.env.get('PATH', '')}",
        }
        self._start("web", ["bash", "-c", f"exec {command}"])
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                httpx.get(f"{url}/healthz", timeout=2)
                return True
            except httpx.TransportError:
                return False

        wait_for(up, timeout=START_TIMEOUT, what="the web process")
        return url

    def procfile(self, name: str, **env: str) -> subprocess.Popen[bytes]:
        """The Procfile's process ``name`` exactly as its line reads, run by a
        shell with this interpreter's bin first on PATH and ``env`` set."""
        self.env = {
            **self.env,
            **env,
            "PATH": f"{Path(sys.executable).parent}:{self.env.get('PATH', '')}",
        }
        return self._start(name, ["bash", "-c", f"exec {procfile_command(name)}"])

    def worker(self, name: str = "worker") -> subprocess.Popen[bytes]:
        return self._start(
            name,
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool",
                "solo",
                "--loglevel",
                "INFO",
                "-n",
                f"{name}-{uuid.uuid4().hex[:6]}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
        )

    def send_task(self, name: str, *, countdown: float | None = None) -> None:
        """Queue a task through the broker, as beat does with its schedule
        (``countdown``: delayed, as a retry is)."""
        code = f"from config.celery import app; app.send_task({name!r}, countdown={countdown!r})"
        subprocess.run(
            [sys.executable, "-c", code], cwd=BASE_DIR, env=self.env, check=True, timeout=60
        )

    def sweeper(self) -> subprocess.Popen[bytes]:
        """What beat runs every minute, in a loop: process_pending for everything waiting."""
        code = (
            "import django, time; django.setup()\n"
            "from datetime import timedelta\n"
            "from apps.integrations.pipeline.drain import sweep_pending\n"
            "while True:\n"
            "    sweep_pending(older_than=timedelta(0))\n"
            "    time.sleep(0.05)\n"
        )
        return self._start("sweeper", [sys.executable, "-c", code])

    def stop_all(self) -> None:
        for process in self.running:
            if process.poll() is None:
                process.terminate()
        for process in self.running:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

    def logs(self) -> str:
        parts = []
        for log in sorted(self.folder.glob("*.log")):
            lines = log.read_text(errors="replace").splitlines()[-30:]
            parts.append(f"--- {log.name}\n" + "\n".join(lines))
        return "\n".join(parts)


@dataclass
class Sender:
    """Posts signed pull_request deliveries, each a pull request of its own.
    A delivery not accepted (5xx, no answer) is posted again with the same id,
    as an operator redelivers it from GitHub's log, until it is."""

    base_url: str
    # Post a refused delivery again under a new delivery id (else the same id,
    # as GitHub's redelivery does): the refused id must then never be stored.
    new_id_after_refusal: bool = False
    accepted: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    refusals: int = 0
    longest: float = 0.0
    answers: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def payload(self, number: int) -> dict[str, Any]:
        from github_app.webhook_payloads import pull_request_payload

        return pull_request_payload(
            "opened",
            pr_id=10_000 + number,
            # GitHub numbers pull requests from 1; 0 is refused as out of range.
            number=number + 1,
            installation_id=42,
            repository_id=100,
            repository_full_name="acme/api",
        )

    def post_one(self, number: int, *, give_up_after: float = 120.0) -> None:
        body = json.dumps(self.payload(number)).encode()
        deadline = time.monotonic() + give_up_after
        for attempt in itertools.count():
            delivery_id = f"fault-{number:05d}"
            if self.new_id_after_refusal and attempt:
                delivery_id += f"-{attempt}"
            headers = {
                "Content-Type": "application/json",
                "X-GitHub-Event": "pull_request",
                "X-GitHub-Delivery": delivery_id,
                "X-Hub-Signature-256": sign(body=body, secret=SECRET),
            }
            started = time.monotonic()
            try:
                status = httpx.post(
                    f"{self.base_url}/webhooks/github/", content=body, headers=headers, timeout=15
                ).status_code
            except httpx.TransportError:
                status = 0
            elapsed = time.monotonic() - started
            with self.lock:
                self.answers.append(elapsed)
                self.longest = max(self.longest, elapsed)
            if status in (200, 202):
                self.accepted.append(delivery_id)
                return
            assert status in (0, 503), f"unexpected answer {status} for {delivery_id}"
            with self.lock:
                self.refusals += 1
                self.refused.append(delivery_id)
            if time.monotonic() > deadline:
                raise AssertionError(f"{delivery_id} was never accepted")
            time.sleep(0.2)

    def stream_concurrently(self, numbers: range, *, clients: int) -> None:
        """``numbers`` posted by ``clients`` at once, as GitHub sends under load."""
        with ThreadPoolExecutor(max_workers=clients) as pool:
            for future in [pool.submit(self.post_one, number) for number in numbers]:
                future.result()

    def stream(self, numbers: range, *, during: Callable[[int], None] | None = None) -> None:
        for number in numbers:
            if during is not None:
                during(number)
            self.post_one(number)


@dataclass(frozen=True)
class Accounting:
    stored: int
    distinct_stored: int
    by_status: dict[str, int]
    pull_requests: int
    distinct_pull_requests: int
    max_attempts: int


def accounting(database_url: str) -> Accounting:
    with psycopg.connect(database_url, connect_timeout=3) as conn:
        # One snapshot for all three reads: read committed, a worker's commit
        # between them showed every delivery processed after its attempts
        # were read as none.
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        stored, distinct, max_attempts = conn.execute(
            "SELECT count(*), count(DISTINCT delivery_id), coalesce(max(attempts), 0) "
            "FROM integrations_webhookdelivery"
        ).fetchone()
        by_status = dict(
            conn.execute(
                "SELECT status, count(*) FROM integrations_webhookdelivery GROUP BY status"
            ).fetchall()
        )
        prs, distinct_prs = conn.execute(
            "SELECT count(*), count(DISTINCT github_id) FROM metrics_pullrequest"
        ).fetchone()
    return Accounting(stored, distinct, by_status, prs, distinct_prs, max_attempts)


def wait_until_processed(database_url: str, expected: int, *, timeout: float = 120.0) -> Accounting:
    last: list[Accounting] = []

    def done() -> bool:
        try:
            last[:] = [accounting(database_url)]
        except psycopg.Error:
            return False
        return last[0].by_status.get("processed", 0) >= expected

    try:
        wait_for(done, timeout=timeout, what=f"{expected} deliveries processed")
    except AssertionError as error:
        raise AssertionError(f"{error}: {last}") from None
    return last[0]

"""Benchmark of the history backfill: a repository served by a local fake of
GitHub's GraphQL API on 127.0.0.1, loaded into PostgreSQL. A script, not a test.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_history \\
        .venv/bin/python bench/bench_history.py [--sizes 1000 5000] [--reviews-per-pr 3]

For each size, a fresh process (so its peak memory is its own) loads a
repository of that many pull requests (each with `--reviews-per-pr` reviews)
the way the worker does (`history_run_step`, ten pages per call), while the fake
runs in a process of its own. Printed: API requests per 100 pull requests, pull
requests stored per second (wall clock, and per CPU second of the loading
process: on a shared machine the wall clock counts other work too), and the
loading process's peak resident memory.
The team, installation and rows are deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-not-a-secret")

INSTALLATION_ID = 4242
REPOSITORY_ID = 8_000_001
FULL_NAME = "bench/history"


def _nodes(count: int, reviews_per_pr: int) -> list[dict[str, Any]]:
    from tests.payloads.graphql import actor, pr_node, review_node

    start = datetime.now(UTC) - timedelta(days=80)
    nodes = []
    for number in range(1, count + 1):
        created = start + timedelta(minutes=number)
        merged = created + timedelta(hours=5)
        reviews = [
            review_node(
                50_000_000 + number * 10 + i,
                state="APPROVED" if i == 0 else "COMMENTED",
                submitted_at=(created + timedelta(hours=1 + i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                author=actor(f"reviewer{(number + i) % 40}", 7_000_000 + (number + i) % 40),
            )
            for i in range(reviews_per_pr)
        ]
        nodes.append(
            pr_node(
                number=number,
                pr_id=90_000_000 + number,
                body="Fixes a thing.\n" * 20,
                state="MERGED",
                created_at=created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                updated_at=merged.strftime("%Y-%m-%dT%H:%M:%SZ"),
                merged_at=merged.strftime("%Y-%m-%dT%H:%M:%SZ"),
                closed_at=merged.strftime("%Y-%m-%dT%H:%M:%SZ"),
                labels=["backend"] if number % 3 else ["hotfix"],
                author=actor(f"author{number % 25}", 6_000_000 + number % 25),
                ready_for_review_at=(created + timedelta(minutes=30)).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
                reviews=reviews,
                full_name=FULL_NAME,
            )
        )
    return nodes


def serve(port_file: str, count: int, reviews_per_pr: int) -> None:
    """The fake: GitHub's token endpoint and GraphQL, until killed."""
    from tests.payloads.graphql import FakeGraphQL

    fake = FakeGraphQL(repository_id=REPOSITORY_ID, full_name=FULL_NAME, remaining=1_000_000)
    fake.add(*_nodes(count, reviews_per_pr))
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            if self.path.endswith("/access_tokens"):
                expires = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
                answer = {"token": "ghs_bench", "expires_at": expires}
                status = 201
            else:
                request = json.loads(body)
                with lock:
                    answer = fake.answer(request["query"], request.get("variables") or {})
                status = 200
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Path(port_file).write_text(str(server.server_address[1]))
    server.serve_forever()


def loading_process_prepare(port: int) -> None:
    """Make this process a worker of an app whose GitHub is the fake on `port`:
    an app key of its own, all of history (no window), no Redis (one process:
    the pacer in its memory); Django set up and the database migrated."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    os.environ["GITHUB_APP_PRIVATE_KEY"] = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    os.environ["GITHUB_APP_ID"] = "1"
    os.environ["GITHUB_API_URL"] = f"http://127.0.0.1:{port}"
    os.environ["TFORMANCE_HISTORY_DAYS"] = "0"
    os.environ.pop("REDIS_URL", None)

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


@contextmanager
def bench_installation(*, slug: str, installation_id: int, account_login: str) -> Iterator[Any]:
    """A team of its own (any left by an earlier run first deleted) with its
    installation; the team, installation and rows deleted at the end."""
    from apps.integrations.models import Installation
    from apps.metrics.models import PullRequest
    from apps.teams.models import Team

    Team.objects.filter(slug=slug).delete()
    Installation.objects.filter(installation_id=installation_id).delete()
    team = Team.objects.create(name=slug.replace("-", " ").capitalize(), slug=slug)
    installation = Installation.objects.create(
        installation_id=installation_id, team=team, account_login=account_login
    )
    try:
        yield installation
    finally:
        PullRequest.objects.filter(team=team).delete()
        installation.delete()
        team.delete()


def run_with_fake(script: str, *, serve: list[str], load: list[str], prefix: str) -> dict[str, Any]:
    """Run `script`'s fake in a process of its own (`--_serve PORT_FILE *serve`),
    then, once it has written its port, its loading process (`*load --_port
    PORT`); the figures that one prints last (a JSON line). The fake is stopped."""
    port_file = str(Path(tempfile.mkdtemp(prefix=prefix)) / "port")
    fake = subprocess.Popen([sys.executable, script, "--_serve", port_file, *serve])  # noqa: S603
    try:
        while not Path(port_file).exists() or not Path(port_file).read_text():
            time.sleep(0.1)
        port = int(Path(port_file).read_text())
        out = subprocess.run(  # noqa: S603 (this script, with its own arguments)
            [sys.executable, script, *load, "--_port", str(port)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return dict(json.loads(out.strip().splitlines()[-1]))
    finally:
        fake.terminate()
        fake.wait()
        Path(port_file).unlink(missing_ok=True)


def load(port: int, count: int) -> dict[str, Any]:
    """Load the fake repository as a worker does; the figures."""
    loading_process_prepare(port)
    import httpx

    from apps.integrations.models import HistoryRun, Repository
    from apps.integrations.services import history
    from apps.metrics.models import PRReview, PullRequest

    requests = 0
    original_send = httpx.Client.send

    def counting_send(self: httpx.Client, request: httpx.Request, **kwargs: Any) -> Any:
        nonlocal requests
        if request.url.path.endswith("/graphql"):
            requests += 1
        return original_send(self, request, **kwargs)

    httpx.Client.send = counting_send  # type: ignore[method-assign]

    with bench_installation(
        slug="bench-history", installation_id=INSTALLATION_ID, account_login="bench"
    ) as installation:
        team = installation.team
        repository = Repository.objects.create(
            installation=installation, github_id=REPOSITORY_ID, full_name=FULL_NAME, tracked=True
        )
        # A worker is long-lived: githubkit's lazy imports and the token come
        # before the clock starts (this request is not counted).
        from apps.integrations.services.github_api import installation_github

        installation_github(installation_id=INSTALLATION_ID).request(
            "POST", "/graphql", json={"query": "{ rateLimit { remaining } }"}
        )
        requests = 0
        run = history.history_run_start(repository=repository, days=0)
        started = time.perf_counter()
        cpu_started = time.process_time()
        while history.history_run_step(run_id=run.pk).kind == "continue":
            pass
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        run.refresh_from_db()
        assert run.status == HistoryRun.Status.DONE, (run.status, run.error)
        stored = PullRequest.objects.filter(team=team).count()
        reviews = PRReview.objects.filter(team=team).count()
        assert stored == count, stored
        return {
            "pull_requests": stored,
            "reviews": reviews,
            "requests": requests,
            "seconds": elapsed,
            "cpu_seconds": cpu,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--reviews-per-pr", type=int, default=3)
    parser.add_argument("--_load", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--_port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--_serve", help=argparse.SUPPRESS)
    options = parser.parse_args()

    if options._serve:
        serve(options._serve, options._load, options.reviews_per_pr)
        return
    if options._port:
        print(json.dumps(load(options._port, options._load)))
        return

    from bench.bench_processors import create_database_if_missing

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("set DATABASE_URL to a PostgreSQL database of its own (bench_history)")
    create_database_if_missing(url)
    script = str(Path(__file__).resolve())
    heads = ("PRs", "reviews", "requests", "req/100 PRs", "PRs/s", "PRs/CPU s", "peak RSS")
    print(
        " ".join(
            f"{head:>{width}}" for head, width in zip(heads, (6, 8, 8, 11, 7, 9, 9), strict=True)
        )
    )
    for size in options.sizes:
        figures = run_with_fake(
            script,
            serve=["--_load", str(size), "--reviews-per-pr", str(options.reviews_per_pr)],
            load=["--_load", str(size)],
            prefix="bench_history_",
        )
        print(
            f"{figures['pull_requests']:>6} {figures['reviews']:>8} {figures['requests']:>8} "
            f"{100 * figures['requests'] / figures['pull_requests']:>11.2f} "
            f"{figures['pull_requests'] / figures['seconds']:>7.0f} "
            f"{figures['pull_requests'] / figures['cpu_seconds']:>9.0f} "
            f"{figures['peak_rss_mib']:>7.0f} MiB"
        )


if __name__ == "__main__":
    main()

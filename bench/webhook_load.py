"""Load test of POST /webhooks/github/ against a bare HMAC-only WSGI app.

Starts, on free 127.0.0.1 ports: the Procfile's web process (gunicorn with
uvicorn workers, 2 processes) serving the Django project on PostgreSQL and
Redis, a Celery worker, and gunicorn (2 sync workers) serving
``bench.bare_app``; then alternates rounds of signed, real-shaped pull_request
deliveries against the two at a fixed concurrency, with a share of
repeated deliveries and of bad signatures. Prints throughput, latency
percentiles, the CPU each request cost by process (the web process, the worker,
PostgreSQL, the load generator: read from /proc, Linux only), the ratio of the
two, how many bad signatures or duplicates got
through (must be 0), and the time from receipt to processed. Stops everything
it started.

    .venv/bin/python -m bench.webhook_load
    .venv/bin/python -m bench.webhook_load --rounds 7 --requests 3000 --concurrency 8

It uses its own PostgreSQL database (created and migrated if missing; its
webhook and metrics tables are emptied at the start of each run) and its own Redis
database number. Not a test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET = "bench-webhook-secret"  # noqa: S105 (a throwaway secret for the bench)
INSTALLATION_ID = 9_000_001
REPOSITORY_ID = 9_000_002
REPOSITORY = "bench-org/api"


@dataclass(frozen=True)
class Request:
    kind: str  # "new", "duplicate" or "bad"
    delivery_id: str
    body: bytes
    headers: dict[str, str]


@dataclass
class RoundResult:
    target: str
    elapsed: float
    latencies_ms: list[float] = field(default_factory=list)
    outcomes: list[tuple[Request, int]] = field(default_factory=list)
    # CPU seconds spent during the round, by group of processes (cpu_by_group).
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        return len(self.outcomes) / self.elapsed


# --- processes --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(  # noqa: S603 (our own commands)
            command, cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT
        )


def wait_for_http(port: int, processes: list[subprocess.Popen[bytes]], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            raise SystemExit("a process exited at start-up; see the logs printed above")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"nothing answered on port {port}")


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


# --- CPU accounting ------------------------------------------------------------------
# Throughput on a shared 2-core machine drifts by a third between runs; the CPU
# each request costs, by process, drifts much less and says where the time goes.

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _process_table() -> dict[int, tuple[int, str, float]]:
    """pid: (parent pid, command name, CPU seconds), from /proc (Linux only; empty elsewhere)."""
    table: dict[int, tuple[int, str, float]] = {}
    proc = Path("/proc")
    if not proc.is_dir():
        return table
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        cpu = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
        table[int(entry.name)] = (int(fields[1]), name, cpu)
    return table


def cpu_by_group(groups: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each started process and its descendants
    (``groups``: name -> pid), by PostgreSQL's processes ("database"), and by
    this process (the load generator)."""
    table = _process_table()
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in table.items():
        children.setdefault(parent, []).append(pid)

    def tree(pid: int) -> float:
        return table.get(pid, (0, "", 0.0))[2] + sum(tree(c) for c in children.get(pid, []))

    totals = {name: tree(pid) for name, pid in groups.items()}
    totals["database"] = sum(cpu for _, name, cpu in table.values() if name == "postgres")
    totals["load generator"] = time.process_time()
    return totals


# --- database -----------------------------------------------------------------------


def ensure_database(database_url: str) -> None:
    import psycopg

    parsed = urlparse(database_url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def prepare_data() -> None:
    """A claimed installation with one tracked repository; last run's rows gone."""
    from django.core.management import call_command
    from django.db import connection

    from apps.integrations.models import Installation, Repository, WebhookDelivery
    from apps.integrations.services.installations import (
        installation_claim,
        installation_upsert,
        repositories_sync,
    )
    from apps.metrics.models import PRReview, PullRequest, TeamMember
    from apps.teams.models import Team
    from tests.payloads.installations import installation_block, repository_stub

    call_command("migrate", verbosity=0)
    models = (WebhookDelivery, PRReview, PullRequest, TeamMember, Repository, Installation)
    # TRUNCATE, not DELETE: deleted rows stay in the tables and their indexes as
    # dead tuples until a VACUUM (autovacuum may be off), and each run would
    # then start slower than the last.
    tables = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in models)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {tables} CASCADE")
    team, _ = Team.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    installation = installation_upsert(
        data=installation_block(installation_id=INSTALLATION_ID, login="bench-org")
    )
    installation_claim(installation=installation, team=team, user=None)
    repositories_sync(
        installation=installation,
        repositories=[repository_stub(repository_id=REPOSITORY_ID, full_name=REPOSITORY)],
    )
    Repository.objects.filter(github_id=REPOSITORY_ID).update(tracked=True)


# --- requests -----------------------------------------------------------------------


def build_requests(
    count: int, *, duplicate_share: float, bad_share: float, sent: list[Request], rng: random.Random
) -> list[Request]:
    from github_app.signatures import sign
    from github_app.webhook_payloads import pull_request_payload

    requests: list[Request] = []
    for _ in range(count):
        roll = rng.random()
        if roll < duplicate_share and sent:
            requests.append(rng.choice(sent))
            requests[-1] = Request("duplicate", *_fields(requests[-1]))
            continue
        pr_number = rng.randrange(1, 400)
        payload = pull_request_payload(
            "synchronize",
            pr_id=10_000 + pr_number,
            number=pr_number,
            installation_id=INSTALLATION_ID,
            repository_id=REPOSITORY_ID,
            repository_full_name=REPOSITORY,
            updated_at=f"2025-01-{rng.randrange(1, 28):02d}T{rng.randrange(0, 24):02d}:00:00Z",
        )
        body = json.dumps(payload).encode()
        delivery_id = str(uuid.uuid4())
        bad = roll < duplicate_share + bad_share
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/bench",
            "X-GitHub-Event": "pull_request",
            "X-GitHub-Delivery": delivery_id,
            "X-GitHub-Hook-ID": "424242",
            "X-Hub-Signature-256": sign(body=body, secret="wrong-secret" if bad else SECRET),
        }
        request = Request("bad" if bad else "new", delivery_id, body, headers)
        requests.append(request)
        if not bad:
            sent.append(request)
    return requests


def _fields(request: Request) -> tuple[str, bytes, dict[str, str]]:
    return request.delivery_id, request.body, request.headers


def run_round(
    target: str,
    port: int,
    requests: list[Request],
    concurrency: int,
    rate: float | None,
    groups: dict[str, int] | None = None,
) -> RoundResult:
    """Closed loop (each of ``concurrency`` clients sends its next request when
    the last is answered), or open loop at ``rate`` requests per second. With
    ``groups``, the CPU each group of processes used during the round."""
    result = RoundResult(target=target, elapsed=0.0)
    cpu_before = cpu_by_group(groups) if groups else {}
    lock = threading.Lock()
    queue = enumerate(requests)
    begin = time.perf_counter()

    def worker() -> None:
        while True:
            with lock:
                index, request = next(queue, (0, None))
            if request is None:
                return
            if rate:
                time.sleep(max(0.0, begin + index / rate - time.perf_counter()))
            started = time.perf_counter()
            # A new connection per request, as GitHub's deliveries come.
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("POST", "/webhooks/github/", body=request.body, headers=request.headers)
            response = conn.getresponse()
            response.read()
            conn.close()
            elapsed_ms = (time.perf_counter() - started) * 1000
            with lock:
                result.latencies_ms.append(elapsed_ms)
                result.outcomes.append((request, response.status))

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.elapsed = time.perf_counter() - begin
    if groups:
        cpu_after = cpu_by_group(groups)
        result.cpu = {name: cpu_after[name] - cpu_before[name] for name in cpu_after}
    return result


# --- report -------------------------------------------------------------------------


def percentiles(values: list[float]) -> tuple[float, float, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98]


def leaks(results: list[RoundResult]) -> tuple[int, int]:
    """(bad signatures answered 2xx, duplicates accepted again)."""
    bad_through = sum(
        1
        for r in results
        for request, status in r.outcomes
        if request.kind == "bad" and status < 300
    )
    accepted = Counter(
        request.delivery_id for r in results for request, status in r.outcomes if status == 202
    )
    return bad_through, sum(n - 1 for n in accepted.values() if n > 1)


def drained(timeout: float) -> bool:
    """Whether no delivery is left waiting, within ``timeout`` seconds."""
    from apps.integrations.models import WebhookDelivery

    deadline = time.monotonic() + timeout
    while WebhookDelivery.objects.filter(status="received").exists():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def receipt_to_processed(
    results: list[RoundResult], timeout: float
) -> tuple[Counter[str], list[float]]:
    """Statuses and receipt-to-processed times of the measured rounds' deliveries
    (the warm-up's are left out), once nothing is left waiting."""
    from apps.integrations.models import WebhookDelivery

    drained(timeout)
    measured = WebhookDelivery.objects.filter(
        delivery_id__in={
            req.delivery_id for r in results for req, _ in r.outcomes if req.kind == "new"
        }
    )
    statuses = Counter(measured.values_list("status", flat=True))
    delays = [
        (processed - received).total_seconds() * 1000
        for received, processed in measured.filter(status="processed").values_list(
            "received_at", "processed_at"
        )
    ]
    return statuses, delays


def stored_bad_signatures(results: list[RoundResult]) -> int:
    from apps.integrations.models import WebhookDelivery

    bad_ids = [req.delivery_id for r in results for req, _ in r.outcomes if req.kind == "bad"]
    return WebhookDelivery.objects.filter(delivery_id__in=bad_ids).count()


def accepted_not_stored(results: list[RoundResult]) -> int:
    """Deliveries the webhook answered 202 that are not in the database: lost."""
    from apps.integrations.models import WebhookDelivery

    accepted = {req.delivery_id for r in results for req, status in r.outcomes if status == 202}
    stored = set(
        WebhookDelivery.objects.filter(delivery_id__in=accepted).values_list(
            "delivery_id", flat=True
        )
    )
    return len(accepted - stored)


def summary(name: str, results: list[RoundResult]) -> dict[str, float]:
    latencies = [ms for r in results for ms in r.latencies_ms]
    p50, p95, p99 = percentiles(latencies)
    throughputs = [r.throughput for r in results]
    row = {
        "throughput": statistics.median(throughputs),
        "p50": p50,
        "p95": p95,
        "p99": p99,
    }
    rounds = ", ".join(f"{t:.0f}" for t in throughputs)
    print(
        f"{name:8} {row['throughput']:8.0f} req/s (rounds: {rounds})   "
        f"p50 {p50:6.1f} ms   p95 {p95:6.1f} ms   p99 {p99:6.1f} ms"
    )
    requests = sum(len(r.outcomes) for r in results)
    groups = sorted({group for r in results for group in r.cpu})
    if groups and requests:
        per_request = {g: sum(r.cpu.get(g, 0.0) for r in results) / requests * 1000 for g in groups}
        parts = ", ".join(f"{g} {ms:.2f}" for g, ms in per_request.items() if ms >= 0.005)
        print(f"{'':8} CPU per request, ms: {parts}; total {sum(per_request.values()):.2f}")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds per target (alternated)")
    parser.add_argument("--requests", type=int, default=2000, help="requests per round")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--rate",
        type=float,
        help="send at this many requests per second (open loop) instead of as fast as "
        "answers come; for the receipt-to-processed time at a load the worker can sustain",
    )
    parser.add_argument("--duplicate-share", type=float, default=0.05)
    parser.add_argument("--bad-share", type=float, default=0.05)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/bench_webhook"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument(
        "--web-threads",
        type=int,
        default=4,
        help="WEB_THREADS of the project's web process (the bare app runs sync workers)",
    )
    parser.add_argument("--worker-pool", default="prefork", choices=["prefork", "solo"])
    parser.add_argument("--worker-concurrency", type=int, default=1)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--no-worker",
        action="store_true",
        help="start no Celery worker: measures the web side alone (deliveries stay received)",
    )
    args = parser.parse_args()

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_SECRET_KEY": "bench-secret-key",
        "DJANGO_DEBUG": "",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    sys.path.insert(0, str(BASE_DIR))
    ensure_database(args.database_url)
    import django

    django.setup()
    import redis

    redis.Redis.from_url(args.redis_url).flushdb()
    prepare_data()

    django_port, bare_port = free_port(), free_port()
    logs = Path(tempfile.mkdtemp(prefix="bench_webhook_"))
    print(f"logs of the started processes: {logs}")
    gunicorn = (
        "-m gunicorn {} --workers {} --threads {} --bind 127.0.0.1:{} --log-level warning "
        "--no-control-socket"
    )
    worker = "-m celery -A config worker --loglevel WARNING --pool {} --concurrency {} " + (
        "--without-gossip --without-mingle --without-heartbeat"
    )
    procfile = (BASE_DIR / "Procfile").read_text().splitlines()
    web_line = next(line for line in procfile if line.startswith("web:")).split(":", 1)[1]
    web_env = {
        **env,
        "PORT": str(django_port),
        "WEB_CONCURRENCY": str(args.web_workers),
        "WEB_THREADS": str(args.web_threads),
        "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
    }
    commands = {"bare": gunicorn.format("bench.bare_app:app", args.web_workers, 1, bare_port)}
    if not args.no_worker:
        commands["celery"] = worker.format(args.worker_pool, args.worker_concurrency)
    processes = [
        start([sys.executable, *command.split()], env, logs / f"{name}.log")
        for name, command in commands.items()
    ]
    # The project's web process exactly as the Procfile starts it.
    processes.append(start(["bash", "-c", f"exec {web_line.strip()}"], web_env, logs / "web.log"))
    # CPU accounting: the bare app's round counts the bare app; the webhook's,
    # the web process and the worker (which works while the round runs).
    by_name = dict(zip([*commands, "web"], processes, strict=True))
    round_groups = {
        "bare": {"bare app": by_name["bare"].pid},
        "django": {
            name: by_name[key].pid
            for name, key in (("web process", "web"), ("worker", "celery"))
            if key in by_name
        },
    }
    try:
        wait_for_http(django_port, processes)
        wait_for_http(bare_port, processes)
        rng = random.Random(args.seed)
        # Each target repeats only what it was itself sent, so a "duplicate" is
        # one for the server that receives it.
        sent: dict[str, list[Request]] = {"bare": [], "django": []}

        def make(target: str, n: int) -> list[Request]:
            return build_requests(
                n,
                duplicate_share=args.duplicate_share,
                bad_share=args.bad_share,
                sent=sent[target],
                rng=rng,
            )

        # Warm both up (imports, connections, caches); not counted.
        run_round("bare", bare_port, make("bare", 200), args.concurrency, None)
        run_round("django", django_port, make("django", 200), args.concurrency, None)
        results: dict[str, list[RoundResult]] = {"bare": [], "django": []}
        for _ in range(args.rounds):
            for target, port in (("bare", bare_port), ("django", django_port)):
                # The worker finishing the last webhook round would take CPU
                # from this round: each starts on a quiet machine.
                if not args.no_worker and not drained(timeout=30):
                    raise SystemExit("deliveries still waiting after 30 s; see the worker log")
                results[target].append(
                    run_round(
                        target,
                        port,
                        make(target, args.requests),
                        args.concurrency,
                        args.rate,
                        round_groups[target],
                    )
                )

        print(
            f"\n{args.rounds} rounds x {args.requests} requests per target, concurrency "
            f"{args.concurrency}"
            + (f" sending {args.rate:.0f} req/s" if args.rate else "")
            + f", {args.duplicate_share:.0%} duplicates, {args.bad_share:.0%} bad "
            f"signatures; {args.web_workers} web processes, the project's with "
            f"WEB_THREADS={args.web_threads} (Procfile), the bare app's sync; Celery worker pool "
            f"{args.worker_pool}, concurrency {args.worker_concurrency}; {os.cpu_count()} CPUs\n"
        )
        bare = summary("bare", results["bare"])
        real = summary("webhook", results["django"])
        print(f"\nratio webhook / bare: {real['throughput'] / bare['throughput']:.2f}")
        # Each webhook round against the bare round just before it: how much of
        # the ratio is the machine's noise.
        pairs = [
            webhook.throughput / floor.throughput
            for floor, webhook in zip(results["bare"], results["django"], strict=True)
        ]
        print("ratio of each pair of rounds: " + ", ".join(f"{r:.2f}" for r in pairs))
        bad_through, duplicates_through = leaks(results["django"])
        print(f"bad signatures answered 2xx: {bad_through}")
        print(f"bad signatures stored: {stored_bad_signatures(results['django'])}")
        print(f"duplicates accepted again: {duplicates_through}")
        print(f"answered 202 but not stored: {accepted_not_stored(results['django'])}")
        statuses, delays = receipt_to_processed(
            results["django"], timeout=0 if args.no_worker else 120
        )
        print(f"deliveries by status: {dict(statuses)}")
        if len(delays) >= 2:
            p50, p95, _ = percentiles(delays)
            print(f"receipt to processed: p50 {p50:.0f} ms, p95 {p95:.0f} ms")
        codes = Counter(status for r in results["django"] for _, status in r.outcomes)
        print(f"webhook status codes: {dict(sorted(codes.items()))}")
    finally:
        stop(processes)


if __name__ == "__main__":
    main()

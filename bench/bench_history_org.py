"""Benchmark of an organisation's history against GitHub's limits: a local fake
of GitHub's GraphQL API (tests/payloads/graphql_server.py, real HTTP on
127.0.0.1) whose every query takes `--page-seconds` (default 1.5 s) and which
refuses as GitHub does past 60 s of response time a minute, 2,000 points a
minute, 100 queries in flight or the hour's points. A script, not a test.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_history_org \\
        .venv/bin/python bench/bench_history_org.py --prs 10000 50000 --repos 20 50

    # checks in well under a minute (the second with GitHub's minute shrunk to 3 s,
    # so that its CPU-time limit binds):
    DATABASE_URL=... .venv/bin/python bench/bench_history_org.py \\
        --page-seconds 0.05 --prs 2000 --repos 20
    DATABASE_URL=... .venv/bin/python bench/bench_history_org.py \\
        --page-seconds 0.15 --minute 3 --prs 4000 --repos 20

Each `--prs`/`--repos` pair (zipped) is an organisation of that many pull
requests spread over that many repositories and two years, each pull request
with `--reviews-per-pr` reviews, a label and a ready-for-review event, and one
in `--crowded-every` (1,000) with 120 reviews, more than a page holds. A fresh
process (so its peak memory is its own) loads it as `--workers` Celery workers
would (`history_run_step`, one run per repository, waits re-queued for their
time), every GraphQL request through the installation's pacer; the fake runs in
a process of its own. Printed per organisation:

- wall: seconds from the first run queued to the last one done;
- floor: the least time GitHub's CPU-time limit allows for the queries made,
  queries x page time / (60 s per 60 s);
- budget: the share of GitHub's CPU-time budget used, response time / wall;
- refusals: the fake's secondary and primary limit answers (should be 0);
- points/100 PRs: GitHub's points (each query's documented cost) per 100 pull requests;
- peak RSS of the loading process.

The team, installation and rows are deleted at the end.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import resource
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-not-a-secret")

INSTALLATION_ID = 4343


def serve(port_file: str, options: argparse.Namespace) -> None:
    """The fake: GitHub's token endpoint and GraphQL with its limits, until killed."""
    from tests.payloads.graphql_server import LimitedGraphQLServer, organisation

    fakes = organisation(
        prs=options.prs[0],
        repos=options.repos[0],
        reviews_per_pr=options.reviews_per_pr,
        crowded_every=options.crowded_every,
    )
    server = LimitedGraphQLServer(
        fakes,
        page_seconds=options.page_seconds,
        window=options.minute,
        cpu_seconds=options.minute,
    )
    url = server.start()
    Path(port_file).write_text(url.rsplit(":", 1)[1])
    threading.Event().wait()


def load(port: int, prs: int, repos: int, workers: int, minute: float) -> dict[str, Any]:
    """Load the fake organisation as workers do; the figures."""
    from bench.bench_history import bench_installation, loading_process_prepare

    loading_process_prepare(port)
    from django.db import connection

    from apps.integrations.models import HistoryRun, Repository
    from apps.integrations.services import history, history_pacer

    # GitHub's minute as long as the fake's (shorter for a quick check).
    history_pacer._default = history_pacer.Pacer(
        store=history_pacer.MemoryStore(),
        limits=history_pacer.PacerLimits(window=minute, cpu_seconds=minute),
    )
    from apps.metrics.models import PullRequest

    with bench_installation(
        slug="bench-history-org", installation_id=INSTALLATION_ID, account_login="org"
    ) as installation:
        team = installation.team
        repositories = [
            Repository.objects.create(
                installation=installation,
                github_id=9_000_000 + r,
                full_name=f"org/repo-{r:03}",
                tracked=True,
            )
            for r in range(repos)
        ]
        runs = [history.history_run_start(repository=repo, days=0) for repo in repositories]
        ready: list[tuple[float, int]] = [(0.0, run.pk) for run in runs]
        heapq.heapify(ready)
        left = len(runs)
        condition = threading.Condition()
        steps = {"wait": 0}

        def work() -> None:
            nonlocal left
            try:
                while True:
                    with condition:
                        while True:
                            if left == 0:
                                return
                            if ready and ready[0][0] <= time.time():
                                _, run_id = heapq.heappop(ready)
                                break
                            timeout = ready[0][0] - time.time() if ready else None
                            condition.wait(timeout)
                    step = history.history_run_step(run_id=run_id)
                    with condition:
                        if step.kind in ("continue", "busy"):
                            heapq.heappush(ready, (time.time(), run_id))
                        elif step.kind == "wait" and step.resume_at is not None:
                            steps["wait"] += 1
                            heapq.heappush(ready, (step.resume_at.timestamp(), run_id))
                        else:
                            left -= 1
                        condition.notify_all()
            finally:
                connection.close()

        started = time.perf_counter()
        threads = [threading.Thread(target=work) for _ in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        statuses = set(
            HistoryRun.objects.filter(pk__in=[r.pk for r in runs]).values_list("status", "error")
        )
        assert statuses == {("done", "")}, statuses
        stored = PullRequest.objects.filter(team=team).count()
        assert stored == prs, stored
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_figures") as answer:
            server = json.loads(answer.read())
        return {
            "pull_requests": stored,
            "seconds": elapsed,
            "pacer_waits": steps["wait"],
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            **server,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prs", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--repos", type=int, nargs="+", default=[20, 50])
    parser.add_argument("--page-seconds", type=float, default=1.5)
    parser.add_argument(
        "--minute",
        type=float,
        default=60.0,
        help="seconds GitHub's minute lasts, for the fake's limits and the pacer (a quick check)",
    )
    parser.add_argument("--reviews-per-pr", type=int, default=3)
    parser.add_argument(
        "--crowded-every",
        type=int,
        default=1000,
        help="every Nth pull request has 120 reviews, more than a page holds (0: none)",
    )
    # As many as the Procfile's worker runs (WORKER_CONCURRENCY, 2).
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--_port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--_serve", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if len(options.prs) != len(options.repos):
        parser.error("give as many --repos as --prs (they are taken in pairs)")

    if options._serve:
        serve(options._serve, options)
        return
    if options._port:
        figures = load(
            options._port, options.prs[0], options.repos[0], options.workers, options.minute
        )
        print(json.dumps(figures))
        return

    from bench.bench_history import run_with_fake
    from bench.bench_processors import create_database_if_missing

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("set DATABASE_URL to a PostgreSQL database of its own (bench_history_org)")
    create_database_if_missing(url)
    script = str(Path(__file__).resolve())
    print(
        f"page {options.page_seconds} s, {options.workers} workers, "
        f"{options.reviews_per_pr} reviews per pull request, "
        f"120 for one in {options.crowded_every or 'none'}"
    )
    heads = ("PRs", "repos", "queries", "wall s", "floor s", "budget", "refusals", "pts/100", "RSS")
    widths = (7, 6, 8, 8, 8, 7, 9, 8, 9)
    print(" ".join(f"{h:>{w}}" for h, w in zip(heads, widths, strict=True)))
    for prs, repos in zip(options.prs, options.repos, strict=True):
        pair = ["--prs", str(prs), "--repos", str(repos)]
        common = [*pair, "--page-seconds", str(options.page_seconds)]
        common += ["--minute", str(options.minute)]
        common += ["--reviews-per-pr", str(options.reviews_per_pr)]
        common += ["--crowded-every", str(options.crowded_every)]
        f = run_with_fake(
            script,
            serve=common,
            load=[*common, "--workers", str(options.workers)],
            prefix="bench_history_org_",
        )
        floor = f["queries"] * options.page_seconds  # a minute of response time per minute
        print(
            f"{f['pull_requests']:>7} {repos:>6} {f['queries']:>8} {f['seconds']:>8.1f} "
            f"{floor:>8.1f} {f['response_seconds'] / f['seconds']:>6.0%} {f['refusals']:>9} "
            f"{100 * f['points'] / f['pull_requests']:>8.2f} {f['peak_rss_mib']:>5.0f} MiB"
        )
        if f["refusals"]:
            print(f"  refusals by kind: {f['refusals_by_kind']}")


if __name__ == "__main__":
    main()

"""Benchmark of the shared processors alone (no webhook, no Celery): events per
second on PostgreSQL, and Django's query count per pull_request and per review
event, for teams of several sizes. A script, not a test.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_processors \\
        .venv/bin/python bench/bench_processors.py [--sizes 10 100 1000] [--pull-requests 200]

The database is created if missing and migrated. Each size gets its own team,
seeded with `size` members and `size * 5` past pull requests with reviews, so the
tables are as full as a team that size would make them; the team is deleted at
the end. Each pull request's life is 7 events: opened, synchronize, labeled,
two reviews submitted, one dismissed, closed (merged). Most authors and reviewers
are existing members; every tenth pull request brings a new author.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-not-a-secret")

EVENTS_PER_PULL_REQUEST = 7


def create_database_if_missing(url: str) -> None:
    import dj_database_url
    import psycopg
    from psycopg import sql

    config = dj_database_url.parse(url)
    if not config["ENGINE"].endswith("postgresql"):
        return
    admin = psycopg.connect(
        host=config["HOST"] or "127.0.0.1",
        port=config["PORT"] or 5432,
        user=config["USER"] or "postgres",
        password=config["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )
    with admin:
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]]
        ).fetchone()
        if not exists:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--pull-requests", type=int, default=200, help="timed, per size")
    arguments = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit(
            "Set DATABASE_URL to a PostgreSQL database, e.g. postgres://postgres@127.0.0.1:5432/bench_processors"
        )
    create_database_if_missing(url)

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    where = url.rsplit("@", 1)[-1]
    print(f"database: {where}; processors only, {EVENTS_PER_PULL_REQUEST} events per pull request")
    print(
        f"{'team size':>9}  {'events':>6}  {'events/s':>8}  {'PR ev/s':>8}  {'review ev/s':>11}  "
        f"{'queries/PR event':>16}  {'queries/review event':>20}"
    )
    for size in arguments.sizes:
        row = bench_team_size(size=size, pull_requests=arguments.pull_requests)
        print(
            f"{size:>9}  {row['events']:>6}  {row['events_per_second']:>8.0f}  "
            f"{row['pr_per_second']:>8.0f}  {row['review_per_second']:>11.0f}  "
            f"{row['pr_queries']:>16}  {row['review_queries']:>20}"
        )


def bench_team_size(*, size: int, pull_requests: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    team, repository = seed_team(size)
    try:
        timed = lives(team_size=size, first_pr=1_000_000, count=pull_requests)
        seconds: dict[str, float] = defaultdict(float)
        counts: dict[str, int] = defaultdict(int)
        for kind, process, payload in timed:
            started = time.perf_counter()
            process(team=team, repository=repository, payload=payload)
            seconds[kind] += time.perf_counter() - started
            counts[kind] += 1

        # Counted apart from the timing: capturing queries costs time itself.
        queries: dict[str, list[int]] = defaultdict(list)
        for kind, process, payload in lives(team_size=size, first_pr=2_000_000, count=50):
            with CaptureQueriesContext(connection) as captured:
                process(team=team, repository=repository, payload=payload)
            queries[kind].append(len(captured.captured_queries))
    finally:
        team.delete()

    total = sum(counts.values())
    return {
        "events": total,
        "events_per_second": total / sum(seconds.values()),
        "pr_per_second": counts["pull_request"] / seconds["pull_request"],
        "review_per_second": counts["review"] / seconds["review"],
        "pr_queries": spread(queries["pull_request"]),
        "review_queries": spread(queries["review"]),
    }


def spread(values: list[int]) -> str:
    return f"mean {statistics.mean(values):.1f}, max {max(values)}"


def seed_team(size: int) -> tuple[Any, Any]:
    """A team of `size` members with `size * 5` past pull requests, each reviewed."""
    import uuid

    from apps.integrations.models import Installation, Repository
    from apps.metrics.models import PRReview, PullRequest, TeamMember
    from apps.teams.models import Team

    slug = f"bench-{size}-{uuid.uuid4().hex[:8]}"
    team = Team.objects.create(name=slug, slug=slug)
    installation = Installation.objects.create(
        installation_id=uuid.uuid4().int % 10**12, team=team, account_login=slug
    )
    repository = Repository.objects.create(
        installation=installation, github_id=1, full_name="acme/api", tracked=True
    )
    members = TeamMember.objects.bulk_create(
        TeamMember(team=team, github_id=member_id(i), login=f"member{i}") for i in range(size)
    )
    history = PullRequest.objects.bulk_create(
        PullRequest(
            team=team,
            repository=repository,
            github_id=i + 1,
            number=i + 1,
            title=f"Past change {i}",
            author=members[i % size],
            state=PullRequest.State.MERGED,
        )
        for i in range(size * 5)
    )
    PRReview.objects.bulk_create(
        PRReview(
            team=team,
            pull_request=pull_request,
            github_id=i + 1,
            reviewer=members[(i + 1) % size],
            state=PRReview.State.APPROVED,
        )
        for i, pull_request in enumerate(history)
    )
    return team, repository


def member_id(index: int) -> int:
    return 10_000 + index


Event = tuple[str, Callable[..., object], dict[str, Any]]


def lives(*, team_size: int, first_pr: int, count: int) -> list[Event]:
    """The events of `count` pull requests, built before any timing starts."""
    events: list[Event] = []
    for n in range(count):
        author = member_id(n % team_size) if n % 10 else first_pr * 10 + n
        reviewers = (member_id((n + 1) % team_size), member_id((n + 2) % team_size))
        events.extend(life(pr_id=first_pr + n, author=author, reviewers=reviewers))
    return events


def life(*, pr_id: int, author: int, reviewers: tuple[int, int]) -> list[Event]:
    from apps.metrics.services.processors import MetricsEvent, events_apply

    def apply(name: str) -> Callable[..., object]:
        def one(*, team: Any, repository: Any, payload: dict[str, Any]) -> object:
            event = MetricsEvent(team=team, repository=repository, name=name, payload=payload)
            return events_apply(events=[event])[0]

        return one

    process_pull_request_event = apply("pull_request")
    process_pull_request_review_event = apply("pull_request_review")
    from github_app.webhook_payloads import pull_request_payload, review_payload

    pr = {
        "pr_id": pr_id,
        "number": pr_id,
        "author_id": author,
        "author_login": f"member{author}",
        "created_at": "2025-01-01T10:00:00Z",
    }

    def at(hour: int) -> str:
        return f"2025-01-01T{10 + hour:02d}:00:00Z"

    def pull_request(action: str, hour: int, **fields: Any) -> Event:
        payload = pull_request_payload(action, updated_at=at(hour), **pr, **fields)
        return ("pull_request", process_pull_request_event, payload)

    def review(action: str, hour: int, review_id: int, reviewer: int) -> Event:
        payload = review_payload(
            action,
            review_id=review_id,
            submitted_at=at(hour),
            reviewer_id=reviewer,
            reviewer_login=f"member{reviewer}",
            **pr,
        )
        return ("review", process_pull_request_review_event, payload)

    merged = {"state": "closed", "merged": True, "merged_at": at(6), "closed_at": at(6)}
    return [
        pull_request("opened", 0),
        pull_request("synchronize", 1, additions=20),
        pull_request("labeled", 2, labels=["backend"]),
        review("submitted", 3, pr_id * 10, reviewers[0]),
        review("submitted", 4, pr_id * 10 + 1, reviewers[1]),
        review("dismissed", 5, pr_id * 10, reviewers[0]),
        pull_request("closed", 6, labels=["backend"], **merged),
    ]


if __name__ == "__main__":
    main()

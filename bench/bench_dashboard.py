"""Benchmark of the dashboard page and the metrics JSON API on PostgreSQL with
teams of 10,000 and 100,000 pull requests (two years of history, with reviews):
queries per page and p50 / p95 time per page. A script, not a test.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_dashboard \\
        .venv/bin/python bench/bench_dashboard.py [--sizes 10000 100000] [--rounds 20]

The database is created if missing and migrated; each size gets its own team
(bulk_create), deleted at the end. Pages are requested through Django's test
client (the whole view, template and middleware, no network), for the last 30
and 90 days, once as a member's session and once with an API token.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-not-a-secret")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
# The test client speaks plain HTTP: no redirect to HTTPS in front of the pages.
os.environ.setdefault("DJANGO_SSL_REDIRECT", "0")
# Deleting a team of 100,000 pull requests at the end takes longer than a request may.
os.environ.setdefault("DATABASE_STATEMENT_TIMEOUT_MS", "600000")

from bench.bench_processors import create_database_if_missing  # noqa: E402


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    below = int(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--days", type=int, default=730, help="history spread over these days")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep each size's team for the next run, and use one a run kept "
        "(1,000,000 pull requests take the better part of an hour to make)",
    )
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database of its own, e.g. .../bench_dashboard")
    create_database_if_missing(url)

    import django

    django.setup()
    from django.test import override_settings

    # Pages without collectstatic's manifest (no static file is served here).
    static = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    override_settings(STORAGES={"default": {}, "staticfiles": static}).enable()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from apps.metrics.models import Squad, TeamMember
    from apps.metrics.services.api_tokens import api_token_create
    from apps.metrics.services.day_facts import day_facts_refresh_all
    from apps.teams.models import Membership, Team
    from tests.metrics.generated_history import generated_history

    call_command("migrate", verbosity=0)
    from django.conf import settings

    print(
        f"# a page's heavy reads: {settings.PAGE_SIDE_BY_SIDE_READS} at once "
        "(PAGE_SIDE_BY_SIDE_READS; 1: one after the other)"
    )
    print(f"{'pull requests':>13} {'page':<34} {'queries':>7} {'p50 ms':>8} {'p95 ms':>8}")
    for size in args.sizes:
        slug = f"bench-{size}"
        team = Team.objects.filter(slug=slug).first()
        kept = args.keep and team is not None and team.pull_requests.count() >= size
        if not kept:
            Team.objects.filter(slug=slug).delete()
            get_user_model().objects.filter(username=f"bench-{size}").delete()
            team = Team.objects.create(name=f"Bench {size}", slug=slug)
            user = get_user_model().objects.create_user(f"bench-{size}")
            Membership.objects.create(user=user, team=team, role=Membership.Role.ADMIN)
            started = time.perf_counter()
            generated_history(team=team, count=size, days=args.days, now=timezone.now(), seed=size)
            print(f"# {size} pull requests made in {time.perf_counter() - started:.0f} s")
        else:
            user = get_user_model().objects.get(username=f"bench-{size}")
            print(f"# {team.pull_requests.count()} pull requests kept from an earlier run")
        assert team is not None
        # The day facts of the rows just made (or left stale by a run of older
        # code): what Celery beat does in production every 30 s.
        started = time.perf_counter()
        rebuilt = day_facts_refresh_all()
        if rebuilt:
            print(f"# day facts of {rebuilt} days built in {time.perf_counter() - started:.0f} s")
        # What autovacuum does on a live database (on by default; some test
        # machines' PostgreSQL has it off): statistics, and the visibility map
        # without which no index-only scan skips the table. Without it the
        # count of the open pull requests read 40,000 pages of the table at
        # 1,000,000 (265 ms of the 30-day page's 595).
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE)")
        squad, _ = Squad.objects.get_or_create(team=team, name="core")
        squad.members.set(TeamMember.objects.filter(team=team, login__in=["alice", "bob", "carol"]))
        _row, token = api_token_create(team=team, name="bench", created_by=user)
        session = Client()
        session.force_login(user)
        bearer = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
        pages = [
            ("dashboard, 30 days", session, f"/teams/{slug}/?days=30"),
            ("dashboard, 90 days", session, f"/teams/{slug}/?days=90"),
            (
                "dashboard, 90 days, one repository",
                session,
                f"/teams/{slug}/?days=90&repository={slug}/api",
            ),
            ("dashboard, 365 days", session, f"/teams/{slug}/?days=365"),
            ("dashboard, 90 days, one squad", session, f"/teams/{slug}/?days=90&squad=core"),
            ("dashboard, 90 days, one person", session, f"/teams/{slug}/?days=90&person=alice"),
            ("JSON API, 30 days (token)", bearer, f"/api/teams/{slug}/metrics/?days=30"),
            ("JSON API, 90 days (token)", bearer, f"/api/teams/{slug}/metrics/?days=90"),
            (
                "drill-down, merged, 90 days",
                session,
                f"/teams/{slug}/pull-requests/?days=90&figure=merged",
            ),
            # Streamed: the time to the response and its first rows, not the whole file.
            (
                "CSV, merged, 90 days",
                session,
                f"/teams/{slug}/pull-requests.csv?days=90&figure=merged",
            ),
        ]
        for name, client, path in pages:
            queries: list[str] = []

            def count(execute, sql, params, many, context, queries=queries):  # type: ignore[no-untyped-def]
                queries.append(sql)
                return execute(sql, params, many, context)

            # Counted one after the other: reads side by side run on other
            # threads' connections (apps/common/side_by_side.py), which this
            # wrapper would not see.
            with override_settings(PAGE_SIDE_BY_SIDE_READS=1), connection.execute_wrapper(count):
                response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            times = []
            for _ in range(args.rounds):
                begun = time.perf_counter()
                client.get(path)
                times.append((time.perf_counter() - begun) * 1000)
            print(
                f"{size:>13} {name:<34} {len(queries):>7} "
                f"{statistics.median(times):>8.1f} {_percentile(times, 0.95):>8.1f}"
            )
        if not args.keep:
            team.delete()
            user.delete()


if __name__ == "__main__":
    main()

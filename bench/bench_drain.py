"""The worker's cost per delivery: store N real-shaped pull_request deliveries,
then time one ``drain_deliveries`` over them on PostgreSQL. No web server, no
broker: what a single Celery worker process can sustain. A script, not a test.

    .venv/bin/python -m bench.bench_drain [--deliveries 2000]

Uses the load benchmark's database (``bench_webhook``; created and migrated if
missing, its webhook and metrics rows deleted first) and the same payloads.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time

from bench.webhook_load import SECRET, build_requests, ensure_database, prepare_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/bench_webhook"
    )
    args = parser.parse_args()
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_SECRET_KEY": "bench-secret-key",
            "DATABASE_URL": args.database_url,
            "GITHUB_WEBHOOK_SECRET": SECRET,
            "LOG_LEVEL": "WARNING",
        }
    )
    ensure_database(args.database_url)
    import django

    django.setup()
    from apps.integrations.pipeline.drain import drain_deliveries
    from apps.integrations.pipeline.store import store_delivery
    from github_app.deliveries import parse_delivery_headers

    prepare_data()
    requests = build_requests(
        args.deliveries, duplicate_share=0, bad_share=0, sent=[], rng=random.Random(5)
    )
    for request in requests:
        store_delivery(
            headers=parse_delivery_headers(request.headers),
            body=request.body.decode(),
            payload=json.loads(request.body),
        )
    started = time.perf_counter()
    handled = drain_deliveries()
    elapsed = time.perf_counter() - started
    print(
        f"{handled} deliveries drained in {elapsed:.2f} s: {1000 * elapsed / handled:.2f} ms "
        f"each, {handled / elapsed:.0f} deliveries/s for one worker process"
    )


if __name__ == "__main__":
    main()

"""``manage.py metrics_day_facts``: rebuild every stale day of the day facts
now, with a progress bar (docs/metrics.md, "Day facts").

Celery beat does the same every 30 seconds; this is for after an upgrade or a
bulk load, when the dashboard should be fast at once. Safe while webhooks
arrive, and alongside beat's refresher: one of them rebuilds at a time, and a
day written meanwhile is marked stale again and read from the rows."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from apps.metrics.services import day_facts

MAX_DAYS_PER_BATCH = 5_000


def _days(value: str) -> int:
    if not value.isascii() or not value.isdigit() or not 1 <= int(value[:6]) <= MAX_DAYS_PER_BATCH:
        raise ValueError(value)
    return int(value)


class Command(BaseCommand):
    help = "Rebuild the dashboard's day facts of every day whose rows changed (PostgreSQL)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=_days,
            default=200,
            help=f"team days per transaction, 1 to {MAX_DAYS_PER_BATCH} (default 200)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not day_facts.available():
            self.stdout.write("Day facts are kept on PostgreSQL only: nothing to do here.")
            return
        stale = day_facts.day_facts_stale_count()
        with tqdm(total=stale, unit="day", disable=not stale) as progress:
            done = day_facts.day_facts_refresh_all(days=options["days"], on_batch=progress.update)
        self.stdout.write(f"{done} team days rebuilt; {day_facts.day_facts_stale_count()} stale.")

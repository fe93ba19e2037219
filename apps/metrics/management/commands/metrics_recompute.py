"""``manage.py metrics_recompute [--team SLUG]``: derive every stored duration and
derived value again from the stored timestamps and reviews, with a progress bar.

How a change of definition (or of a team's calendar) reaches old rows. The run
is the same `RecomputeRun` a worker would do (one per scope at a time): an
interrupted command resumes from the last batch it committed when run again,
and a run queued by a migration or a settings page is continued by it. Safe
while webhooks arrive (services/recompute.py)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import OperationalError
from tqdm import tqdm

from apps.metrics.models import RecomputeRun
from apps.metrics.services.recompute import (
    BATCH_SIZE,
    recompute_run_start,
    recompute_run_step,
)
from apps.teams.models import Team

# Another process holds the run's batch: look again after this many seconds.
BUSY_PAUSE = 1.0
# A batch that hit a deadlock or a dropped connection is tried again this many times.
DATABASE_RETRIES = 3
MAX_BATCH_SIZE = 10_000


def _batch_size(value: str) -> int:
    if not value.isascii() or not value.isdigit() or not 1 <= int(value[:6]) <= MAX_BATCH_SIZE:
        raise ValueError(value)
    return int(value)


class Command(BaseCommand):
    help = (
        "Recompute every stored duration, first review and approval, and derived flag of "
        "the pull requests of one team (--team SLUG) or of every team, from stored values."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--team", metavar="SLUG", help="only this team's pull requests")
        parser.add_argument(
            "--batch-size",
            type=_batch_size,
            default=BATCH_SIZE,
            help=f"pull requests per transaction (1 to {MAX_BATCH_SIZE:,})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        team = None
        if options["team"] is not None:
            slug = options["team"]
            # A slug is short text without NUL (PostgreSQL refuses NUL in a query).
            usable = len(slug) <= 100 and "\x00" not in slug
            team = Team.objects.filter(slug=slug).first() if usable else None
            if team is None:
                raise CommandError(f"No team with the slug {slug!r}.")
        run = recompute_run_start(team=team, reason="manage.py metrics_recompute")
        scope = f"team {team.slug}" if team is not None else "every team"
        self.stdout.write(f"Recomputing the pull requests of {scope} (run {run.pk}).")
        with tqdm(
            total=run.total, initial=run.done, unit="pr", file=self.stderr._out, dynamic_ncols=True
        ) as bar:
            run = self._follow(run, bar, batch_size=options["batch_size"])
        if run.status != RecomputeRun.Status.DONE:
            raise CommandError(f"{run.status}: {run.error}")
        self.stdout.write(f"done: {run.done:,} pull requests, {run.changed:,} changed.")

    def _follow(self, run: RecomputeRun, bar: tqdm[Any], *, batch_size: int) -> RecomputeRun:
        failures = 0
        while True:
            try:
                step = recompute_run_step(run_id=run.pk, batch_size=batch_size)
            except OperationalError as error:
                # Nothing of the batch was kept; its position is the last committed.
                failures += 1
                if failures > DATABASE_RETRIES:
                    raise CommandError(f"the database refused the batch: {error}") from error
                continue
            failures = 0
            if step.kind == "busy":
                time.sleep(BUSY_PAUSE)
                continue
            assert step.run is not None  # noqa: S101 (busy is the only step without one)
            run = step.run
            bar.total = run.total
            bar.n = run.done
            bar.set_postfix(changed=run.changed, refresh=False)
            bar.refresh()
            if step.kind == "done":
                return run

"""``manage.py github_history OWNER/REPO [--days N]``: load a tracked repository's
history in the foreground, with a progress bar.

The run is the same `HistoryRun` the worker would make (one at a time per
repository): an interrupted command resumes from its cursor when run again, and
a run left waiting for GitHub's rate limit is continued by it. Unlike a worker,
this command may wait: at a rate limit it sleeps until GitHub's reset time."""

from __future__ import annotations

import re
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from apps.integrations.models import HistoryRun, Repository
from apps.integrations.services.history import (
    history_pages_left,
    history_run_start,
    history_run_step,
)

FULL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$", re.ASCII)
MAX_DAYS = 36_500
# Another process holds the run's page: look again after this many seconds.
BUSY_PAUSE = 2.0


def _days(value: str) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > 5 or int(value) > MAX_DAYS:
        raise ValueError(value)
    return int(value)


class Command(BaseCommand):
    help = (
        "Load the pull requests (and their reviews) of a tracked repository updated in the "
        "last N days (TFORMANCE_HISTORY_DAYS by default; 0 means all), in the foreground."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("repository", metavar="OWNER/REPO")
        parser.add_argument(
            "--days",
            type=_days,
            default=None,
            help="how far back, by last update (0: everything); a whole number of days",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        full_name = options["repository"]
        if not FULL_NAME.match(full_name):
            raise CommandError(f"{full_name!r} is not OWNER/REPO")
        repository = (
            Repository.objects.filter(full_name__iexact=full_name, tracked=True)
            .select_related("installation")
            .first()
        )
        if repository is None:
            raise CommandError(
                f"No team tracks {full_name}: track it on the team's GitHub settings page first."
            )
        run = history_run_start(repository=repository, days=options["days"])
        if run.window_start is not None:
            since = f"updated since {run.window_start:%Y-%m-%d}"
        else:
            since = "all of them"
        self.stdout.write(f"{full_name}: loading pull requests {since} (run {run.pk}).")
        with tqdm(
            total=None, unit="page", desc=full_name, file=self.stderr._out, dynamic_ncols=True
        ) as bar:
            self._follow(run, bar)
        run.refresh_from_db()
        if run.status == HistoryRun.Status.DONE:
            self.stdout.write(
                f"done: {run.pull_requests_stored:,} pull requests and "
                f"{run.reviews_stored:,} reviews in {run.pages_done:,} pages."
            )
            return
        raise CommandError(f"{run.status}: {run.error}")

    def _follow(self, run: HistoryRun, bar: tqdm[Any]) -> None:
        def on_page(current: HistoryRun) -> None:
            left = history_pages_left(current)
            if left is not None:
                bar.total = current.pages_done + left
            bar.n = current.pages_done
            bar.set_postfix(pull_requests=current.pull_requests_stored, refresh=False)
            bar.refresh()

        while True:
            # The worker's steps (ten pages): each page's successor is read
            # while it is stored, and on_page moves the bar after every page.
            step = history_run_step(run_id=run.pk, on_page=on_page)
            if step.kind == "continue":
                continue
            if step.kind == "busy":
                time.sleep(BUSY_PAUSE)
                continue
            if step.kind == "wait" and step.resume_at is not None:
                pause = max(0.0, (step.resume_at - timezone.now()).total_seconds())
                bar.write(
                    f"waiting for GitHub's rate limit until {step.resume_at:%H:%M:%S} UTC "
                    f"({pause:.0f} s)"
                )
                time.sleep(pause)
                continue
            return

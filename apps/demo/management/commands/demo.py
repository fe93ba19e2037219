import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.demo.feed import DemoError, demo_run, demo_wanted


class Command(BaseCommand):
    help = (
        "Create a demo team with 90 days of pull requests and reviews, stored as webhook "
        "deliveries and drained like GitHub's, and print its admin's login. "
        "Safe to run again. See docs/demo.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--first-run",
            action="store_true",
            help="only on an empty database with no GitHub App configured (what make run does)",
        )
        parser.add_argument(
            "--base-url",
            default="http://127.0.0.1:8000",
            help="where the site is served, for the printed link (default: %(default)s)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["first_run"]:
            wanted, reason = demo_wanted()
            if not wanted:
                self.stdout.write(
                    f"Demo data not loaded: {reason}. (python manage.py demo loads it.)"
                )
                return
        self.stdout.write("Loading the demo: 90 days of pull requests, as webhook deliveries…")
        # Each in-process drain logs a line; the login must not drown in them.
        trace = logging.getLogger("celery.app.trace")
        level = trace.level
        trace.setLevel(logging.WARNING)
        try:
            result = demo_run(progress=self.stdout.write)
        except DemoError as error:
            raise CommandError(str(error)) from None
        finally:
            trace.setLevel(level)
        statuses = ", ".join(
            f"{count} {status}" for status, count in sorted(result.statuses.items())
        )
        self.stdout.write(
            f"Stored {result.posted} deliveries as the webhook stores them: {result.accepted} new, "
            f"{result.repeats} already received. Now: {statuses}."
        )
        waiting = result.statuses.get("received", 0)
        if waiting:
            self.stdout.write(
                f"{waiting} deliveries wait for a Celery worker (REDIS_URL is set): "
                "start one with `make worker`, or process them here with "
                "`python manage.py process_pending --older-than 0`."
            )
        base = options["base_url"].rstrip("/")
        self.stdout.write(
            self.style.SUCCESS(
                f"\nDemo team: {base}/teams/{result.team.slug}/\n"
                f"  Log in at {base}/login/ as  {result.username}  "
                f"with password  {result.password}\n"
            )
        )

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.demo.feed import (
    DEMO_ADMIN_USERNAME,
    DemoError,
    demo_run,
    demo_team,
    demo_wanted,
)

# Loggers that write a line per drain pass while the demo stores its ~400
# deliveries: the console shows the progress and a summary instead (warnings
# still show).
CHATTY_LOGGERS = ("celery.app.trace",)


@contextlib.contextmanager
def _quiet(names: tuple[str, ...]) -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


class Command(BaseCommand):
    help = (
        "Create a demo team with 90 days of pull requests and reviews, stored as webhook "
        "deliveries and drained like GitHub's, and print how to log in. "
        "Safe to run again; the admin keeps its password unless --reset-password. "
        "See docs/demo.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--first-run",
            action="store_true",
            help=(
                "load the demo only on an empty database with no GitHub App configured; "
                "once loaded, only print how to log in (what make run does)"
            ),
        )
        parser.add_argument(
            "--reset-password",
            action="store_true",
            help="give demo-admin a new password and print it (ends its sessions)",
        )
        parser.add_argument(
            "--base-url",
            default="http://127.0.0.1:8000",
            help="where the site is served, for the printed links (default: %(default)s)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        base = options["base_url"].rstrip("/")
        if options["first_run"] and not options["reset_password"]:
            team = demo_team()
            if team is not None:
                self.stdout.write("The demo is loaded (`make demo` loads it again).")
                self._login(base=base, slug=team.slug, password=None)
                return
            wanted, reason = demo_wanted()
            if not wanted:
                self.stdout.write(
                    f"Demo data not loaded: {reason}. (`make demo` loads it.)\n"
                    f"Log in at {base}/login/"
                )
                return
        self.stdout.write("Loading the demo: 90 days of pull requests, as webhook deliveries…")
        try:
            with _quiet(CHATTY_LOGGERS):
                result = demo_run(
                    reset_password=options["reset_password"], progress=self.stdout.write
                )
        except DemoError as error:
            raise CommandError(str(error)) from None
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
                "`python manage.py process_pending --older-than 0`. Run the demo again "
                "once they are processed for its people's answers to the merge question."
            )
        else:
            self.stdout.write(
                f"The merge question: {result.questions_asked} asked of the demo's people, "
                f"{result.questions_answered} answered (docs/merge-question.md)."
            )
        self._login(base=base, slug=result.team.slug, password=result.password)

    def _login(self, *, base: str, slug: str, password: str | None) -> None:
        """How to log in: always the link and the user name; the password when
        this run set it, else where it came from and how to get a new one."""
        if password is not None:
            how = f"with password  {password}"
        else:
            how = (
                "with the password printed when the demo was first loaded\n"
                "  (forgotten? `make demo RESET_PASSWORD=1` prints a new one)"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"\nDemo team: {base}/teams/{slug}/\n"
                f"  Log in at {base}/login/ as  {DEMO_ADMIN_USERNAME}  {how}\n"
            )
        )
        self.stdout.write(
            "To connect a real GitHub organisation, a staff account creates the GitHub App "
            f"once at {base}/github/manifest/\n(a staff account on this local trial: "
            "DJANGO_DEBUG=1 .venv/bin/python manage.py createsuperuser); "
            f"see {base}/docs/github-app/.\n"
        )

import time
from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.integrations.management.commands.github_reconcile import describe, summary
from apps.integrations.models import ReconcileRun, WebhookDelivery
from apps.integrations.services.reconcile import ReconcileBusy, deliveries_reconcile
from github_app.hook_deliveries import LoggedDelivery

# Bounds of --interval, in seconds: GitHub's app rate limit is 5,000 requests an
# hour, and a round reads one page at least (720 an hour every 5 seconds).
MIN_INTERVAL = 2
MAX_INTERVAL = 3600


def _interval(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not MIN_INTERVAL <= int(text) <= MAX_INTERVAL:
        raise CommandError(
            f"--interval must be a whole number of seconds from {MIN_INTERVAL} to {MAX_INTERVAL}"
        )
    return int(text)


def _rounds(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 0 <= int(text) <= 1_000_000:
        raise CommandError("--rounds must be a whole number from 0 (no end) to 1000000")
    return int(text)


class Command(BaseCommand):
    help = (
        "Local development without a tunnel: reconcile every few seconds in the foreground, "
        "printing each delivery pulled in from GitHub's delivery log. Ctrl-C stops it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", default="5", help="seconds between rounds (default 5)")
        parser.add_argument("--rounds", default="0", help="stop after this many rounds (0: never)")

    def _pulled(self, logged: LoggedDelivery) -> None:
        delivery = (
            WebhookDelivery.objects.filter(delivery_id=logged.guid)
            .only("status", "status_reason", "last_error")
            .first()
        )
        outcome = ""
        if delivery is not None:
            detail = delivery.status_reason or delivery.last_error
            outcome = f": {delivery.status}" + (f" ({detail})" if detail else "")
        self.stdout.write(f"pulled in {describe(logged)}{outcome}")

    def handle(self, *args: Any, **options: Any) -> None:
        interval = _interval(str(options["interval"]))
        rounds = _rounds(str(options["rounds"]))
        self.stdout.write(
            f"Polling GitHub's delivery log every {interval} s"
            + (f", {rounds} round{'s' if rounds > 1 else ''}" if rounds else "; Ctrl-C stops")
        )
        done = 0
        try:
            while True:
                pause = float(interval)
                try:
                    result = deliveries_reconcile(
                        trigger=ReconcileRun.Trigger.POLL, on_recovered=self._pulled
                    )
                except ReconcileBusy as busy:
                    self.stdout.write(f"waiting: {busy}")
                else:
                    if result.recovered or result.failed or result.error:
                        self.stdout.write(summary(result))
                    if result.error:
                        self.stderr.write(f"ended early: {result.error}")
                    if result.retry_at is not None:
                        # GitHub's rate limit: not again before it resets.
                        wait = (result.retry_at - datetime.now(UTC)).total_seconds()
                        pause = max(pause, min(wait, float(MAX_INTERVAL)))
                done += 1
                if rounds and done >= rounds:
                    return
                time.sleep(pause)
        except KeyboardInterrupt:
            self.stdout.write("stopped")

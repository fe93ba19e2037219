from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.integrations.models import ReconcileRun
from apps.integrations.services.reconcile import (
    ReconcileBusy,
    ReconcileResult,
    SinceInvalid,
    deliveries_reconcile,
    since_parse,
)
from github_app.hook_deliveries import LoggedDelivery


def describe(logged: LoggedDelivery) -> str:
    kind = f"{logged.event}.{logged.action}" if logged.action else logged.event
    said = logged.status or (str(logged.status_code) if logged.status_code is not None else "")
    at = f"{logged.delivered_at:%Y-%m-%d %H:%M:%S}"
    return f"{logged.guid} {kind} (GitHub's attempt at {at}" + (f": {said})" if said else ")")


def summary(result: ReconcileResult) -> str:
    line = (
        f"{result.pages} pages, {result.deliveries_seen} deliveries seen, "
        f"{result.missing} missing, {result.recovered} recovered, {result.failed} failed"
    )
    if not result.caught_up and not result.error:
        line += "; more to read, the next run goes on from there"
    return line


class Command(BaseCommand):
    help = (
        "Fetch the webhook deliveries GitHub failed to make from the app's delivery log "
        "(down to the last one reconciled) and put them through the pipeline."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--since",
            metavar="DURATION",
            help="read back this far (30m, 24h, 3d; at most 7d) instead of to the last mark",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="list what is missing; store nothing, record nothing",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            since = since_parse(options["since"]) if options["since"] is not None else None
        except SinceInvalid as error:
            raise CommandError(f"--since: {error}") from None
        dry_run = options["dry_run"]
        try:
            result = deliveries_reconcile(
                trigger=ReconcileRun.Trigger.COMMAND, since=since, dry_run=dry_run
            )
        except ReconcileBusy as busy:
            raise CommandError(str(busy)) from None
        verb = "missing" if dry_run else "recovered"
        for logged in result.pulled:
            self.stdout.write(f"{verb}: {describe(logged)}")
        self.stdout.write(("dry run: " if dry_run else "") + summary(result))
        if result.error:
            # Counts printed above; a non-zero exit for scripts and cron.
            raise CommandError(f"ended early: {result.error}")

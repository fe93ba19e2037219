from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from apps.integrations.pipeline.drain import SWEEP_AFTER, sweep_pending


class Command(BaseCommand):
    help = (
        "Process webhook deliveries left in 'received' (their Celery message was lost, "
        "e.g. while Redis was down) and failed ones due for a retry."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=float,
            default=SWEEP_AFTER.total_seconds(),
            metavar="SECONDS",
            help="only deliveries received at least this long ago (default: %(default)s)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        handled = sweep_pending(older_than=timedelta(seconds=options["older_than"]))
        self.stdout.write(f"{handled} deliveries handled.")

import argparse
import math
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from apps.integrations.pipeline.drain import SWEEP_AFTER, sweep_pending

# Far more than any delivery waits; beyond it timedelta overflows.
MAX_SECONDS = 10 * 365 * 24 * 3600


def seconds(text: str) -> float:
    """A number of seconds from 0 to ten years, for argparse: anything else
    (nan, inf, negative, not a number) is a usage error, not a traceback."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or not 0 <= value <= MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"{text!r} is not between 0 and {MAX_SECONDS} seconds")
    return value


class Command(BaseCommand):
    help = (
        "Process webhook deliveries left in 'received' (their Celery message was lost, "
        "e.g. while Redis was down) and failed ones due for a retry."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=seconds,
            default=SWEEP_AFTER.total_seconds(),
            metavar="SECONDS",
            help="only deliveries received at least this long ago (default: %(default)s)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        handled = sweep_pending(older_than=timedelta(seconds=options["older_than"]))
        self.stdout.write(f"{handled} deliveries handled.")

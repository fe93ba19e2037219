"""What became of a delivery, recorded in one place for every path of the drain."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import DataError

from apps.integrations.models import WebhookDelivery
from apps.integrations.pipeline.lookups import Lookups
from apps.integrations.pipeline.routing import Outcome
from apps.metrics.services.payloads import PayloadError, clean_text

logger = logging.getLogger(__name__)

Status = WebhookDelivery.Status

MAX_ATTEMPTS = 5
FIRST_RETRY_AFTER = timedelta(seconds=30)
ERROR_MAX_LENGTH = 2000
# What processing a delivery writes on it.
OUTCOME_FIELDS = [
    "attempts",
    "status",
    "status_reason",
    "last_error",
    "next_attempt_at",
    "processed_at",
    "team",
]


class Unreadable(ValueError):
    """The stored body is not a JSON object."""


# Errors that the same delivery would raise again, whenever it is tried: a
# payload the processors cannot read, one whose fields have the wrong type or
# shape for a handler, a value the database refuses (out of range, a NUL byte).
# Retrying them would only fail again, so they fail at once, with the reason.
PERMANENT_ERRORS: tuple[type[Exception], ...] = (
    PayloadError,
    Unreadable,
    DataError,
    # SQLite's answer to an integer past 64 bits.
    OverflowError,
    KeyError,
    TypeError,
    AttributeError,
    ValueError,
)


def is_permanent(error: Exception) -> bool:
    return isinstance(error, PERMANENT_ERRORS)


def describe(error: Exception) -> str:
    # Reasons may quote the payload: without its NUL characters, which
    # PostgreSQL cannot store.
    if isinstance(error, PayloadError | Unreadable):
        return clean_text(str(error), limit=ERROR_MAX_LENGTH)
    return clean_text(f"{type(error).__name__}: {error}", limit=ERROR_MAX_LENGTH)


def retry_delay(attempts: int) -> timedelta:
    return FIRST_RETRY_AFTER * int(4 ** (attempts - 1))


def outcome_record(
    delivery: WebhookDelivery, result: Outcome | Exception, *, at: datetime, lookups: Lookups
) -> None:
    """Write on the delivery (in memory; the drain saves a pass's deliveries
    together) what became of this attempt: processed or ignored with the
    reason, or failed with the error, and when to try again if it may pass."""
    delivery.attempts += 1
    if isinstance(result, Outcome):
        delivery.status = result.status
        delivery.status_reason = clean_text(result.reason, limit=300)
        delivery.last_error = ""
        delivery.next_attempt_at = None
        delivery.processed_at = at
    else:
        delivery.status = Status.FAILED
        delivery.status_reason = ""
        delivery.last_error = describe(result)
        delivery.processed_at = None
        retry = not is_permanent(result) and delivery.attempts < MAX_ATTEMPTS
        delivery.next_attempt_at = at + retry_delay(delivery.attempts) if retry else None
        logger.warning(
            "webhook delivery %s (%s) failed on attempt %s%s: %s",
            delivery.delivery_id,
            delivery.event,
            delivery.attempts,
            "" if retry else ", not retried",
            delivery.last_error,
        )
    # Failed deliveries belong to the team too, so its admins see them and retry.
    # Looked up after routing: an installation event may have just recorded it.
    installation_id = delivery.installation_id
    installation = lookups.installation(installation_id) if installation_id else None
    delivery.team_id = installation.team_id if installation else None

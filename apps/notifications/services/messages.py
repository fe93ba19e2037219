"""Slack messages, kept from the moment their cause is known until they are sent.

- **Once per cause.** A message's key (its kind and what caused it: the pull
  request and the lifecycle event, the question, the week) is unique per team:
  it is inserted or left as it is, so a redelivered event, a recovered delivery,
  the sweeper's late announcement or a second worker never make a second one.
- **Sent at most once.** A message is claimed (one conditional ``UPDATE`` from
  pending to sending) before it is posted; a second sender finds it claimed.
- **Nothing lost.** A message waits (pending, ``not_before``) for the
  recipient's working hours, for Slack's ``Retry-After``, for a broken
  connection to be mended; one Slack refuses for good is kept as failed with
  the reason. The beat task sends what is due.
- **Never posted twice by a retry.** Slack has no idempotency key: a post
  whose answer was lost after Slack received it (or that Slack says may have
  been done in part) is failed with that reason, never retried by itself; an
  admin's *Send again* sends it. Only what never reached Slack, and Slack's
  own temporary refusals, are retried.
- **A missing scope fails what needs it.** The message fails with the scope
  Slack named and how to grant it; the connection and the other messages go on."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.common.scheduling import task_send
from apps.notifications.models import SlackConnection, SlackMessage
from apps.notifications.services import slack_api
from apps.notifications.services.connections import (
    slack_connection_break,
    slack_connection_for,
    slack_scope_missing,
    slack_token,
)

logger = logging.getLogger(__name__)

SEND_TASK = "apps.notifications.tasks.send_slack_message"
Status = SlackMessage.Status
# Transient failures wait 1, 2, 4 … minutes, at most an hour.
MAX_BACKOFF = timedelta(hours=1)
# The beat task sends at most this many due messages per tick.
DUE_BATCH = 200
# A send takes two Slack calls of at most slack_api.TIMEOUT_SECONDS each: a
# message still "sending" this long after it was taken was left by a worker
# that died (killed, out of memory, a deploy) between taking it and saying how
# it went.
STRANDED_AFTER = timedelta(minutes=10)
STRANDED_REASON = (
    "The worker stopped while sending it: Slack may or may not have it. "
    "Send it again if it did not arrive."
)
# A post whose outcome is unknown, in the words of STRANDED_REASON: by the
# error Slack answered, or ``no_answer`` (the request reached Slack, its
# answer did not come back).
MAYBE_POSTED_REASON = (
    "{cause}: Slack may or may not have posted it. Send it again if it did not arrive."
)
PART_DONE = "which Slack says may come after part of the work was done"
MAYBE_POSTED_CAUSES = {
    "no_answer": (
        "The answer was lost after Slack received it (a read timeout or a dropped connection)"
    ),
    "internal_error": f"Slack: internal_error, {PART_DONE}",
    "fatal_error": f"Slack: fatal_error, {PART_DONE}",
}
# A message due within this long is queued at once; later ones by the beat task.
SOON = timedelta(minutes=1)


class RetryLater(Exception):
    """The message waits: its task retries after ``seconds``."""

    def __init__(self, seconds: float, reason: str) -> None:
        super().__init__(reason)
        self.seconds = seconds


@dataclass(frozen=True)
class Outgoing:
    key: str
    kind: str
    channel: str
    text: str
    blocks: Sequence[dict[str, Any]] = ()
    is_direct: bool = False
    not_before: datetime | None = None
    pull_request_id: int | None = None
    question_id: int | None = None


def slack_message_queue(*, team_id: int, message: Outgoing) -> SlackMessage:
    """Keep the message (once per key) and have it sent once the caller's
    transaction commits. The message already there stands."""
    row = SlackMessage(
        team_id=team_id,
        key=message.key[:200],
        kind=message.kind,
        channel=message.channel,
        is_direct=message.is_direct,
        text=message.text,
        blocks=list(message.blocks),
        not_before=message.not_before or timezone.now(),
        pull_request_id=message.pull_request_id,
        question_id=message.question_id,
    )
    SlackMessage.objects.bulk_create([row], ignore_conflicts=True)
    stored = SlackMessage.objects.get(team_id=team_id, key=row.key)
    # A message held for later (quiet hours) is left to the beat task: a Celery
    # ETA days ahead would sit in the broker, handed out again and again.
    if stored.status == Status.PENDING and stored.not_before <= timezone.now() + SOON:
        slack_message_send_later(message_id=stored.pk, at=stored.not_before)
    return stored


def slack_message_send_later(*, message_id: int, at: datetime | None = None) -> None:
    def send() -> None:
        try:
            task_send(SEND_TASK, kwargs={"message_id": message_id}, eta=at)
        except Exception:  # the broker's errors vary by transport; the beat task sends it
            logger.exception("could not queue slack message %s", message_id)

    transaction.on_commit(send)


def _backoff(attempts: int) -> timedelta:
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def _release(message: SlackMessage, *, not_before: datetime, error: str) -> None:
    SlackMessage.objects.filter(pk=message.pk).update(
        status=Status.PENDING, not_before=not_before, last_error=error[:300]
    )


def _post(connection: SlackConnection, message: SlackMessage) -> tuple[str, str]:
    token = slack_token(connection=connection)
    channel = message.channel
    if message.is_direct:
        channel = slack_api.open_direct(token=token, user_id=message.channel)
    return slack_api.post_message(
        token=token, channel=channel, text=message.text, blocks=message.blocks
    )


def slack_message_send(*, message_id: int, now: datetime | None = None) -> str:
    """Send the message if it is due and not claimed: ``sent``, ``not_due``
    (not pending, or held for later), ``waiting`` (no working connection),
    ``failed`` (Slack refused it for good, the token lacks a scope, or Slack
    may have posted it: each with the reason). Raises RetryLater for a rate
    limit or a transient failure, after keeping the reason."""
    now = now or timezone.now()
    claimed = SlackMessage.objects.filter(
        pk=message_id, status=Status.PENDING, not_before__lte=now
    ).update(status=Status.SENDING, attempts=F("attempts") + 1, claimed_at=now)
    if not claimed:
        return "not_due"
    message = SlackMessage.objects.get(pk=message_id)
    connection = slack_connection_for(team_id=message.team_id)
    if connection is None:
        # Sent when an admin connects (again): the beat task finds it due.
        _release(message, not_before=now, error="Slack is not connected, or its token was revoked")
        return "waiting"
    try:
        channel, ts = _post(connection, message)
    except slack_api.SlackFailure as failure:
        reason = f"Slack: {failure.error}"
        if failure.rate_limited:
            wait = failure.retry_after or 60.0
            _release(message, not_before=now + timedelta(seconds=wait), error=reason)
            raise RetryLater(wait, reason) from None
        if failure.revoked:
            slack_connection_break(team_id=message.team_id, reason=failure.error)
            _release(message, not_before=now, error=reason)
            return "waiting"
        if failure.maybe_posted:
            cause = MAYBE_POSTED_CAUSES.get(failure.error, reason)
            reason = MAYBE_POSTED_REASON.format(cause=cause)
        elif failure.missing_scope:
            advice = slack_scope_missing(
                team_id=message.team_id, needed=failure.needed, provided=failure.provided
            )
            reason = f"{reason}. {advice} Then press Send again."
        if failure.permanent:
            SlackMessage.objects.filter(pk=message.pk).update(
                status=Status.FAILED, last_error=reason[:300]
            )
            return "failed"
        wait_for = _backoff(message.attempts)
        _release(message, not_before=now + wait_for, error=reason)
        raise RetryLater(wait_for.total_seconds(), reason) from None
    SlackMessage.objects.filter(pk=message.pk).update(
        status=Status.SENT, sent_at=now, slack_channel=channel, slack_ts=ts, last_error=""
    )
    return "sent"


def slack_messages_due(*, now: datetime | None = None) -> list[int]:
    """Pending messages whose time has come, of teams with a working connection."""
    now = now or timezone.now()
    return list(
        SlackMessage.objects.filter(
            status=Status.PENDING,
            not_before__lte=now,
            team__slack_connection__status=SlackConnection.Status.CONNECTED,
        )
        .order_by("not_before", "pk")
        .values_list("pk", flat=True)[:DUE_BATCH]
    )


def slack_message_retry(*, team_id: int, message_id: int) -> bool:
    """An admin's retry of a failed message: pending again, sent now."""
    updated = SlackMessage.objects.filter(
        pk=message_id, team_id=team_id, status=Status.FAILED
    ).update(status=Status.PENDING, not_before=timezone.now())
    if updated:
        slack_message_send_later(message_id=message_id)
    return bool(updated)


def slack_messages_stranded_fail(*, now: datetime | None = None) -> int:
    """Messages a dead worker left "sending", failed with the reason (the beat
    task, every minute). Not sent again by themselves: each is sent at most
    once, and Slack may have posted it before the worker died; an admin's
    retry sends it again."""
    cutoff = (now or timezone.now()) - STRANDED_AFTER
    return SlackMessage.objects.filter(
        Q(claimed_at__lt=cutoff) | Q(claimed_at__isnull=True, created_at__lt=cutoff),
        status=Status.SENDING,
    ).update(status=Status.FAILED, last_error=STRANDED_REASON)

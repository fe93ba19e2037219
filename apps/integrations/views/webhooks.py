"""``POST /webhooks/github/``: the one webhook of every installation.

It verifies, stores and answers; processing happens in the drain task. No GitHub
call and no metrics work here: GitHub gives up on a delivery after 10 seconds."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from apps.common.connections import once_more_if_dropped
from apps.common.deadline import DeadlinePassed, arrived_at, deadline, remaining
from apps.common.middleware import database_unavailable
from apps.integrations.pipeline.store import store_delivery
from apps.integrations.scheduling import wake_drain
from apps.integrations.services.app_config import webhook_secrets
from github_app.deliveries import (
    DeliveryHeaderError,
    DeliveryHeaders,
    delivery_columns,
    parse_body,
    parse_delivery_headers,
)
from github_app.signatures import verify_signature

logger = logging.getLogger(__name__)

# GitHub caps webhook payloads at 25 MB. Django's DATA_UPLOAD_MAX_MEMORY_SIZE
# (2.5 MB) guards request.body, so this view reads the stream itself instead.
MAX_BODY_BYTES = 25 * 1024 * 1024
# A delivery's transaction commits only while at least this much of the
# deadline is left, and PostgreSQL refuses a commit of one that began longer ago
# than this (migration 0012 of integrations: the two numbers must agree).
COMMIT_ALLOWANCE_SECONDS = 2.0


def _plain(status: int, text: str) -> HttpResponse:
    return HttpResponse(text + "\n", status=status, content_type="text/plain; charset=utf-8")


@csrf_exempt
@require_POST
def github_webhook(request: HttpRequest) -> HttpResponse:
    """The database is the only server this view waits on: if it is down, or
    does not answer within WEBHOOK_DEADLINE_SECONDS of the request's arrival, a
    plain 503 (GitHub shows it in the delivery log, where it can be
    redelivered), and the delivery is not stored (see ``_store``)."""
    answer_by = arrived_at(request.META) + settings.WEBHOOK_DEADLINE_SECONDS
    try:
        with deadline(at=answer_by):
            return _receive(request, commit_by=answer_by - COMMIT_ALLOWANCE_SECONDS)
    except (OperationalError, InterfaceError) as error:
        # The connection may be mid-statement: it cannot be used again (inside
        # an outer transaction, a test's, it is that transaction's to end).
        if not connection.in_atomic_block:
            with contextlib.suppress(Exception):
                connection.close()
        logger.warning(
            "webhook refused: database unavailable", extra={"error": type(error).__name__}
        )
        return database_unavailable()


def _store(
    *, headers: DeliveryHeaders, text: str, payload: dict[str, Any], commit_by: float
) -> bool:
    """Store the delivery in a transaction of its own, committed only before
    ``commit_by``: then a 503 never leaves it stored.

    The deadline ends the request's wait on a frozen database, not the
    database's work: a statement it already holds is run when it comes back.
    Without a commit, that work is rolled back (the connection is gone by
    then). A COMMIT sent before ``commit_by`` and still unanswered at the
    deadline is refused by the database itself: the insert asks PostgreSQL
    (migration 0012 of integrations) to refuse this transaction's commit more
    than COMMIT_ALLOWANCE_SECONDS after it began, by its own clock; such a
    commit reaches the server after the deadline, more than the allowance after
    the transaction began."""
    # Inside a caller's transaction (a test's), the commit is not this one's to bound.
    own_transaction = not connection.in_atomic_block
    with transaction.atomic():
        stored = store_delivery(
            headers=headers,
            body=text,
            payload=payload,
            commit_within_seconds=COMMIT_ALLOWANCE_SECONDS if own_transaction else None,
        )
        if remaining(commit_by) <= 0:
            raise DeadlinePassed("too late to commit within the request's deadline")
        if stored:
            # Deliveries are stored first: if the broker is down the sweeper finds them.
            transaction.on_commit(wake_drain, robust=True)
    return stored


def _receive(request: HttpRequest, *, commit_by: float) -> HttpResponse:
    try:
        declared_length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _plain(400, "bad Content-Length")
    if declared_length > MAX_BODY_BYTES:
        return _plain(413, "payload larger than 25 MB")
    body = request.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        return _plain(413, "payload larger than 25 MB")

    if not verify_signature(
        body=body,
        signature_header=request.headers.get("X-Hub-Signature-256"),
        secrets=once_more_if_dropped(webhook_secrets),
    ):
        return _plain(401, "bad or missing signature")

    try:
        headers = parse_delivery_headers(request.headers)
    except DeliveryHeaderError as error:
        return _plain(400, str(error))
    try:
        payload = parse_body(body)
    except ValueError:
        return _plain(400, "body is not JSON")
    if not isinstance(payload, dict):
        return _plain(400, "body is not a JSON object")
    # Valid UTF-8: the JSON parser checked it.
    text = body.decode("utf-8")

    stored = once_more_if_dropped(
        lambda: _store(headers=headers, text=text, payload=payload, commit_by=commit_by)
    )
    logger.info(
        "webhook delivery received" if stored else "webhook delivery repeated",
        extra={
            "delivery_id": headers.delivery_id,
            "github_event": headers.event,
            "installation_id": delivery_columns(payload).installation_id,
        },
    )
    if not stored:
        return _plain(200, "already received")
    return _plain(202, "accepted")

"""The drain: the one loop that claims waiting deliveries and processes them.

A pass claims up to `PASS_SIZE` deliveries with ``SELECT … FOR UPDATE SKIP
LOCKED`` (PostgreSQL), so two workers never hold the same delivery; SQLite,
which has no row locks, serialises writers anyway. A pass hands its pull
request and review events to the metrics' one entry together, in one
transaction (one delivery at a time cost nine statements each, and one worker
process drained about 300 a second, a quarter of what the web side accepts).
An installation event, which later deliveries are routed by, is routed alone,
in its turn, in a savepoint.

A delivery that can never succeed (an unreadable payload, a value out of range)
fails by itself, at once, and the pass goes on. If a pass fails anyway (a
deadlock between two workers' passes, a database error that cannot be pinned on
one delivery), nothing of it is kept and its deliveries are processed again as
passes of one, through the same code, so the one at fault fails alone.

The sweeper (Celery beat, ``process_pending``) is the safety net for wake-ups
lost while the broker was down, and for retries whose wake-up was lost."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Func, IntegerField, QuerySet
from django.utils import timezone

from apps.common.bulk import update_rows
from apps.integrations.models import WebhookDelivery
from apps.integrations.pipeline.lookups import Lookups
from apps.integrations.pipeline.outcomes import (
    OUTCOME_FIELDS,
    Unreadable,
    describe,
    is_permanent,
    outcome_record,
)
from apps.integrations.pipeline.routing import (
    PROCESSED,
    Event,
    Outcome,
    payload_id,
    prepare,
    route,
)
from apps.integrations.services.installations import record_event_arrivals
from apps.metrics.services.payloads import PayloadError
from apps.metrics.services.processors import MetricsEvent, Source, events_apply
from github_app.deliveries import parse_body

logger = logging.getLogger(__name__)

Status = WebhookDelivery.Status

# The sweeper leaves fresher deliveries to the drain their own request woke.
SWEEP_AFTER = timedelta(minutes=1)
# Deliveries per pass of the drain. A pass costs a dozen statements whatever its
# size (bench/bench_drain.py: 0.7 ms a delivery in passes of 25, 0.3 in passes of
# 200) and shares its installation lookups, so changes made elsewhere (a claim, a
# repository tracked) show from the next pass.
PASS_SIZE = 200
# The bodies a pass holds in memory at once, at most (and one body, whatever its size).
PASS_PAYLOAD_BYTES = 16 * 1024 * 1024

# Called once a pass has committed with the earliest retry it scheduled (the
# Celery task queues a drain for then; without one, the sweeper finds it).
RetryScheduler = Callable[[datetime], None]


class _Arrivals:
    """The latest event time per installation and repository seen in a pass,
    written once at its end (a busy installation would otherwise have its row
    updated by every delivery)."""

    def __init__(self) -> None:
        self.installations: dict[int, datetime] = {}
        self.repositories: dict[tuple[int, int], datetime] = {}

    def add(self, delivery: WebhookDelivery, payload: Any) -> None:
        installation_id, at = delivery.installation_id, delivery.received_at
        if installation_id is None:
            return
        self.installations[installation_id] = max(at, self.installations.get(installation_id, at))
        repository_id = payload_id(payload, "repository") if isinstance(payload, Mapping) else None
        if repository_id is not None:
            key = (installation_id, repository_id)
            self.repositories[key] = max(at, self.repositories.get(key, at))

    def record(self) -> None:
        record_event_arrivals(installations=self.installations, repositories=self.repositories)


class _OctetLength(Func):
    # Read from the stored value's header on PostgreSQL, without decompressing it.
    function = "OCTET_LENGTH"
    output_field = IntegerField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # SQLite has octet_length() only from 3.43.
        return self.as_sql(compiler, connection, template="LENGTH(CAST(%(expressions)s AS BLOB))")


def _claim(queryset: QuerySet[WebhookDelivery], *, limit: int) -> list[WebhookDelivery]:
    # The locks are the claim: another worker skips these deliveries, and
    # PostgreSQL checks the filter again on one another worker just finished.
    return list(
        queryset.select_for_update(skip_locked=True)
        .defer("payload")
        .annotate(payload_bytes=_OctetLength("payload"))
        .order_by("received_at", "pk")[:limit]
    )


def _with_payloads(deliveries: list[WebhookDelivery]) -> Iterator[tuple[WebhookDelivery, str]]:
    """Each delivery with its stored body, read in groups of at most
    PASS_PAYLOAD_BYTES (a group holds one delivery at least): bodies can be up to
    25 MB, and a pass's worth of them must not exhaust the worker's memory."""
    group: list[WebhookDelivery] = []
    size = 0
    for delivery in [*deliveries, None]:
        full = delivery is None or (
            bool(group) and size + _payload_bytes(delivery) > PASS_PAYLOAD_BYTES
        )
        if full and group:
            bodies = dict(
                WebhookDelivery.objects.filter(pk__in=[d.pk for d in group]).values_list(
                    "pk", "payload"
                )
            )
            for member in group:
                yield member, bodies[member.pk]
            group, size = [], 0
        if delivery is not None:
            group.append(delivery)
            size += _payload_bytes(delivery)


def _payload_bytes(delivery: WebhookDelivery) -> int:
    # Annotated by `_claim`.
    return int(getattr(delivery, "payload_bytes", 0))


def _parse(text: str) -> Any:
    try:
        return parse_body(text)
    except ValueError:
        return None


def _event(delivery: WebhookDelivery, payload: Any, lookups: Lookups) -> Event:
    if not isinstance(payload, Mapping):
        raise Unreadable("the stored payload is not a JSON object")
    return Event(
        name=delivery.event,
        action=delivery.action,
        payload=payload,
        received_at=delivery.received_at,
        lookups=lookups,
        source=Source(delivery.source),
    )


def _route_alone(event: Event) -> Outcome:
    # A savepoint: if the route fails, what it wrote goes, and the failure is
    # still recorded under the lock this transaction holds on the delivery.
    with transaction.atomic():
        return route(event)


def _process_claimed(
    deliveries: list[WebhookDelivery], *, arrivals: _Arrivals, alone: bool
) -> datetime | None:
    """Process deliveries this transaction holds locked and record each outcome.
    In a pass of many, an error that may pass (a deadlock, say) is raised, to
    have the pass done again one delivery at a time; in a pass of one
    (``alone``) every error is the delivery's own, and recorded on it. Returns
    the earliest retry this scheduled."""
    lookups = Lookups()
    finished: list[tuple[WebhookDelivery, Outcome | Exception]] = []
    to_metrics: list[tuple[WebhookDelivery, MetricsEvent]] = []
    for delivery, text in _with_payloads(deliveries):
        payload = _parse(text)
        arrivals.add(delivery, payload)
        # What is kept of a payload past this point is what its event holds.
        try:
            event = _event(delivery, payload, lookups)
            prepared = prepare(event)
            if prepared is None:
                prepared = _route_alone(event)
        except Exception as error:
            if not (alone or is_permanent(error)):
                raise
            finished.append((delivery, error))
            continue
        if isinstance(prepared, Outcome):
            finished.append((delivery, prepared))
        else:
            to_metrics.append((delivery, prepared))
    if to_metrics:
        try:
            results: list[Outcome | Exception] = [
                PROCESSED if result.ok else PayloadError(result.error)
                for result in events_apply(events=[event for _, event in to_metrics])
            ]
        except Exception as error:
            if not alone:
                raise
            results = [error] * len(to_metrics)
        for (delivery, _), result in zip(to_metrics, results, strict=True):
            finished.append((delivery, result))
    now = timezone.now()
    for delivery, result in finished:
        outcome_record(delivery, result, at=now, lookups=lookups)
    update_rows(model=WebhookDelivery, rows=[d for d, _ in finished], fields=OUTCOME_FIELDS)
    retries = [d.next_attempt_at for d, _ in finished if d.next_attempt_at is not None]
    return min(retries, default=None)


def _process_pass(
    queryset: QuerySet[WebhookDelivery],
    *,
    limit: int,
    on_retry: RetryScheduler | None = None,
) -> int:
    """Claim and process up to ``limit`` of the oldest waiting deliveries
    together; if that fails, nothing of it was kept, and each is claimed and
    processed again as a pass of one. Writes last_event_at once. Returns how
    many were claimed."""
    arrivals = _Arrivals()
    claimed: list[int] = []
    retry_at: datetime | None = None
    try:
        with transaction.atomic():
            deliveries = _claim(queryset, limit=limit)
            if not deliveries:
                return 0
            claimed = [delivery.pk for delivery in deliveries]
            # A pass of one holds only its own errors.
            alone = len(deliveries) == 1
            retry_at = _process_claimed(deliveries, arrivals=arrivals, alone=alone)
    except Exception as error:
        if not claimed:
            raise
        logger.warning(
            "processing %s deliveries together failed (%s); processing them one at a time",
            len(claimed),
            describe(error),
        )
        arrivals, retries = _Arrivals(), []
        for pk in claimed:
            with transaction.atomic():
                # The filter, checked again once the lock is held, drops a
                # delivery another worker finished in the meantime.
                deliveries = _claim(queryset.filter(pk=pk), limit=1)
                if deliveries:
                    retries.append(_process_claimed(deliveries, arrivals=arrivals, alone=True))
        retry_at = min((at for at in retries if at is not None), default=None)
    arrivals.record()
    if retry_at is not None and on_retry is not None:
        on_retry(retry_at)
    return len(claimed)


def _waiting(*, received_before: datetime | None = None) -> list[QuerySet[WebhookDelivery]]:
    """What the drain claims from, in order: received deliveries, then failed
    ones due for a retry. Two querysets, not one with OR: each reads its partial
    index (see WebhookDelivery.Meta) in order and stops after a pass's worth,
    where the OR made PostgreSQL read and sort every waiting row."""
    received = WebhookDelivery.objects.filter(status=Status.RECEIVED)
    if received_before is not None:
        received = received.filter(received_at__lt=received_before)
    due = WebhookDelivery.objects.filter(status=Status.FAILED, next_attempt_at__lte=timezone.now())
    return [received, due]


def _drain(
    querysets: list[QuerySet[WebhookDelivery]], *, pass_size: int, on_retry: RetryScheduler | None
) -> int:
    handled = 0
    for queryset in querysets:
        while True:
            claimed = _process_pass(queryset, limit=pass_size, on_retry=on_retry)
            handled += claimed
            # A short pass means nothing more is waiting, or that another
            # worker holds the rest.
            if claimed < pass_size:
                break
    return handled


class _DrainRuns:
    """When this process last started a drain that finished."""

    def __init__(self) -> None:
        self.last_started = float("-inf")


_runs = _DrainRuns()


def drain_deliveries(
    *,
    woken_for: float | None = None,
    pass_size: int = PASS_SIZE,
    on_retry: RetryScheduler | None = None,
) -> int:
    """Process every delivery waiting now (received, or failed and due for a
    retry). Returns how many were handled.

    ``woken_for``: the time (``time.time()``) the wake-up asking for this drain
    was due; the deliveries it was sent for were stored before it. If a drain
    this process started at or after that time has finished, it saw them, and
    this one does nothing: each web process sends its own wake-up for the same
    instant (`DrainWaker`). That time comes from a web server's clock and is
    compared with this one's: were this clock ahead by d, a delivery stored less
    than d after a drain started could be left to the sweeper (a minute). So
    are deliveries that a drain held locked when it raised (the database gone,
    say): drains started since then skipped them."""
    started = time.time()
    # last_started after now: the clock was set back since; it proves nothing.
    if woken_for is not None and woken_for <= _runs.last_started <= started:
        return 0
    handled = _drain(_waiting(), pass_size=pass_size, on_retry=on_retry)
    # The start of the drain that finished last: with threads, an earlier one
    # may finish later, and then fewer wake-ups are skipped, never more.
    _runs.last_started = started
    return handled


def sweep_pending(
    *,
    older_than: timedelta = SWEEP_AFTER,
    pass_size: int = PASS_SIZE,
    on_retry: RetryScheduler | None = None,
) -> int:
    """The safety net: deliveries left in received for longer than
    ``older_than`` (their wake-up was lost), and failed ones due for a retry."""
    return _drain(
        _waiting(received_before=timezone.now() - older_than),
        pass_size=pass_size,
        on_retry=on_retry,
    )


def process_delivery(*, pk: int) -> WebhookDelivery:
    """Process one delivery now, unless it is finished or another worker holds
    it. Used by replay, where the caller waits for the outcome."""
    waiting = WebhookDelivery.objects.filter(pk=pk, status__in=[Status.RECEIVED, Status.FAILED])
    _process_pass(waiting, limit=1)
    return WebhookDelivery.objects.get(pk=pk)

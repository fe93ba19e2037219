"""Webhook deliveries: stored once, then drained by workers.

The webhook view only stores (one ``INSERT … ON CONFLICT DO NOTHING``) and wakes
the drain, at most once per short interval; measured on a 2-core machine, an ORM
``create`` plus one Celery message per request reached a third of that
throughput. The drain claims a pass of deliveries with ``SELECT … FOR UPDATE
SKIP LOCKED`` (PostgreSQL), so two workers never hold the same delivery; SQLite,
which has no row locks, serialises writers anyway. A pass applies its pull
request and review events together, in one transaction, through the processors'
one write path (``apps.metrics.services.batches``): one delivery at a time cost
nine statements each, and one worker process drained about 300 a second, a
quarter of what the web side accepts. Its rows are locked in one order, so two
workers' passes mostly wait rather than deadlock; if a pass fails anyway, each
of its deliveries is processed alone, so one that cannot be processed fails by
itself. The sweeper (Celery
beat, ``process_pending``) is the safety net for wake-ups lost while the broker
was down."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from celery import current_app
from django.db import connection, transaction
from django.db.models import Func, IntegerField, QuerySet
from django.utils import timezone

from apps.common.bulk import update_rows
from apps.common.connections import cursor_binding_on_server
from apps.integrations.models import Installation, WebhookDelivery
from apps.integrations.services.installations import record_event_arrivals
from apps.integrations.services.routing import (
    PROCESSED,
    Event,
    Lookups,
    Outcome,
    payload_id,
    prepare,
    route,
)
from apps.metrics.services.batches import Change, apply_changes
from apps.metrics.services.payloads import PayloadError
from github_app.deliveries import DeliveryHeaders, delivery_columns, parse_body

logger = logging.getLogger(__name__)

Status = WebhookDelivery.Status

MAX_ATTEMPTS = 5
FIRST_RETRY_AFTER = timedelta(seconds=30)
# The sweeper leaves fresher deliveries to the drain their own request woke.
SWEEP_AFTER = timedelta(minutes=1)
# Deliveries per pass of the drain. A pass costs a dozen statements whatever its
# size (bench/bench_drain.py: 0.7 ms a delivery in passes of 25, 0.3 in passes of
# 200) and shares its installation lookups, so changes made elsewhere (a claim, a
# repository tracked) show from the next pass.
PASS_SIZE = 200
# The bodies a pass holds in memory at once, at most (and one body, whatever its size).
PASS_PAYLOAD_BYTES = 16 * 1024 * 1024
# Each web process wakes the drain at most once per interval (DrainWaker): one
# drain pass serves every delivery stored before it starts. Each wake is a
# Celery message (measured: 0.45 ms of CPU to publish, and 1 ms on the worker
# for one that finds its work done); at 0.05 s the wake-ups alone cost a fifth
# of the webhook's throughput in the benchmark, and the interval adds to the
# time from receipt to processed (p95 about 125 ms at full load in
# bench/webhook_load.py; about 230 ms at 0.2 s).
WAKE_INTERVAL_SECONDS = 0.1
# After a failed publish (broker down), stop trying for a while: each try can cost
# the request up to the connection timeout, and the sweeper finds the deliveries.
BROKER_DOWN_PAUSE_SECONDS = 5.0
ERROR_MAX_LENGTH = 2000
# What processing a delivery writes on it.
_OUTCOME_FIELDS = [
    "attempts",
    "status",
    "status_reason",
    "last_error",
    "next_attempt_at",
    "processed_at",
    "team",
]

_STORED_FIELDS = (
    "delivery_id",
    "event",
    "action",
    "hook_id",
    "installation_id",
    "repository_full_name",
    "repository_github_id",
    "payload",
    "received_at",
    "status",
    "status_reason",
    "attempts",
    "last_error",
)


@cache
def _insert_sql(vendor: str) -> str:
    # Same statement on PostgreSQL and SQLite (3.24+); the vendor is the cache
    # key because the quoting belongs to the connection.
    meta = WebhookDelivery._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column) for name in _STORED_FIELDS)
    placeholders = ", ".join(["%s"] * len(_STORED_FIELDS))
    conflict = quote(meta.get_field("delivery_id").column)
    # Names come from the model, values go in as parameters.
    return (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders}) "  # noqa: S608
        f"ON CONFLICT ({conflict}) DO NOTHING"
    )


def store_delivery(*, headers: DeliveryHeaders, body: str, payload: Mapping[str, Any]) -> bool:
    """Store a verified delivery in one statement. False when its delivery id
    was stored before (GitHub keeps the id when it redelivers): nothing changes.

    ``body`` is the raw body, kept as GitHub signed it."""
    # Checked columns: an id out of range or text with NUL is left blank, not a 500.
    columns = delivery_columns(payload)
    values = {
        "delivery_id": headers.delivery_id,
        "event": headers.event,
        "action": columns.action,
        "hook_id": headers.hook_id,
        "installation_id": columns.installation_id,
        "repository_full_name": columns.repository_full_name,
        "repository_github_id": columns.repository_github_id,
        "payload": body,
        # The one value the database may need converted (SQLite stores text);
        # the others are str and int already. Field.get_db_prep_save for all
        # thirteen was a twentieth of the request's time.
        "received_at": connection.ops.adapt_datetimefield_value(timezone.now()),
        "status": Status.RECEIVED.value,
        "status_reason": "",
        "attempts": 0,
        "last_error": "",
    }
    # The body goes as a parameter of its own, not quoted into the statement.
    with cursor_binding_on_server() as cursor:
        cursor.execute(_insert_sql(connection.vendor), [values[name] for name in _STORED_FIELDS])
        return cursor.rowcount == 1


# --- processing -----------------------------------------------------------------


def _retry_delay(attempts: int) -> timedelta:
    return FIRST_RETRY_AFTER * (4 ** (attempts - 1))


def _describe(error: Exception) -> str:
    if isinstance(error, PayloadError):
        return str(error)
    return f"{type(error).__name__}: {error}"[:ERROR_MAX_LENGTH]


def _team_id(installation_id: int | None, lookups: Lookups) -> int | None:
    # Looked up after routing: an installation event may have just recorded it.
    installation = lookups.installation(installation_id) if installation_id else None
    return installation.team_id if installation else None


class _Unreadable(ValueError):
    pass


def _event(delivery: WebhookDelivery, payload: Any, lookups: Lookups) -> Event:
    if not isinstance(payload, Mapping):
        raise _Unreadable("the stored payload is not a JSON object")
    return Event(
        name=delivery.event,
        action=delivery.action,
        payload=payload,
        received_at=delivery.received_at,
        lookups=lookups,
    )


def _route(delivery: WebhookDelivery, payload: Any, lookups: Lookups) -> Outcome:
    event = _event(delivery, payload, lookups)
    # A savepoint: if the route fails, what it wrote goes, and the failure is
    # still recorded under the lock this transaction holds on the delivery.
    with transaction.atomic():
        return route(event)


def _record_outcome(delivery: WebhookDelivery, outcome: Outcome, *, at: datetime) -> None:
    delivery.status = outcome.status
    delivery.status_reason = outcome.reason[:300]
    delivery.last_error = ""
    delivery.next_attempt_at = None
    delivery.processed_at = at


def _record_failure(delivery: WebhookDelivery, error: Exception) -> None:
    delivery.status = Status.FAILED
    delivery.status_reason = ""
    delivery.last_error = _describe(error)
    delivery.processed_at = None
    # A malformed payload stays malformed: retrying it would only fail again.
    retry = not isinstance(error, PayloadError) and delivery.attempts < MAX_ATTEMPTS
    delivery.next_attempt_at = timezone.now() + _retry_delay(delivery.attempts) if retry else None
    logger.warning(
        "webhook delivery %s (%s) failed on attempt %s: %s",
        delivery.delivery_id,
        delivery.event,
        delivery.attempts,
        delivery.last_error,
    )
    if delivery.next_attempt_at is not None:
        transaction.on_commit(
            lambda at=delivery.next_attempt_at: _queue_drain(woken_for=at.timestamp(), eta=at),
            robust=True,
        )


def _process_locked(delivery: WebhookDelivery, payload: Any, lookups: Lookups) -> None:
    """Route a delivery this transaction holds locked and record the outcome."""
    delivery.attempts += 1
    try:
        outcome = _route(delivery, payload, lookups)
    except Exception as error:
        _record_failure(delivery, error)
    else:
        _record_outcome(delivery, outcome, at=timezone.now())
    # Failed deliveries belong to the team too, so its admins see them and retry.
    delivery.team_id = _team_id(delivery.installation_id, lookups)
    delivery.save(update_fields=_OUTCOME_FIELDS)


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


def _process_pass(queryset: QuerySet[WebhookDelivery], *, limit: int) -> int:
    """Claim and process up to ``limit`` of the oldest waiting deliveries,
    together (`_process_together`); if that fails, nothing of it was kept and
    each is processed alone, so one that fails fails by itself (a deadlock
    between two workers' passes also ends there). Writes last_event_at once.
    Returns how many were claimed."""
    arrivals = _Arrivals()
    claimed: list[int] = []
    try:
        _process_together(queryset, limit=limit, claimed=claimed, arrivals=arrivals)
    except Exception as error:
        if not claimed:
            raise
        logger.warning(
            "processing %s deliveries together failed (%s); processing them one at a time",
            len(claimed),
            _describe(error),
        )
        arrivals = _Arrivals()
        _process_one_at_a_time(queryset, claimed, arrivals)
    arrivals.record()
    return len(claimed)


def _process_together(
    queryset: QuerySet[WebhookDelivery], *, limit: int, claimed: list[int], arrivals: _Arrivals
) -> None:
    """Claim up to ``limit`` deliveries in one transaction (their ids go in
    ``claimed``) and apply their pull request and review changes together
    (`apply_changes`: a few statements for the whole pass, where one at a time
    costs several per delivery). An installation event (which later deliveries
    are routed by) is routed alone, in its turn, in a savepoint; a payload that
    cannot be read fails by itself. Raises if the pass cannot be done together;
    then nothing of it is kept."""
    lookups = Lookups()
    with transaction.atomic():
        # The locks are the claim: another worker skips these deliveries, and
        # PostgreSQL checks the filter again on one another worker just finished.
        deliveries = list(
            queryset.select_for_update(skip_locked=True)
            .defer("payload")
            .annotate(payload_bytes=_OctetLength("payload"))
            .order_by("received_at", "pk")[:limit]
        )
        if not deliveries:
            return
        claimed.extend(delivery.pk for delivery in deliveries)
        applied: list[tuple[WebhookDelivery, Change]] = []
        finished: list[tuple[WebhookDelivery, Outcome | Exception]] = []
        for delivery, text in _with_payloads(deliveries):
            payload = _parse(text)
            arrivals.add(delivery, payload)
            # What is kept of a payload past this point is what its change read.
            try:
                prepared = _prepare(delivery, payload, lookups)
            except (PayloadError, _Unreadable) as error:
                finished.append((delivery, error))
                continue
            if prepared is None:
                # In its turn, in a savepoint; if it fails (a deadlock on the
                # installation's row, say), the pass does, and it is tried alone.
                prepared = _route(delivery, payload, lookups)
            if isinstance(prepared, Outcome):
                finished.append((delivery, prepared))
            else:
                applied.append((delivery, prepared))
        apply_changes([change for _, change in applied])
        finished.extend((delivery, PROCESSED) for delivery, _ in applied)
        now = timezone.now()
        for delivery, result in finished:
            delivery.attempts += 1
            if isinstance(result, Outcome):
                _record_outcome(delivery, result, at=now)
            else:
                _record_failure(delivery, result)
            # Failed deliveries belong to the team too, so its admins see them and retry.
            delivery.team_id = _team_id(delivery.installation_id, lookups)
        update_rows(model=WebhookDelivery, rows=[d for d, _ in finished], fields=_OUTCOME_FIELDS)


class _OctetLength(Func):
    # Read from the stored value's header on PostgreSQL, without decompressing it.
    function = "OCTET_LENGTH"
    output_field = IntegerField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # SQLite has octet_length() only from 3.43.
        return self.as_sql(compiler, connection, template="LENGTH(CAST(%(expressions)s AS BLOB))")


def _with_payloads(deliveries: list[WebhookDelivery]) -> Iterator[tuple[WebhookDelivery, str]]:
    """Each delivery with its stored body, read in groups of at most
    PASS_PAYLOAD_BYTES (a group holds one delivery at least): bodies can be up to
    25 MB, and a pass's worth of them must not exhaust the worker's memory."""
    group: list[WebhookDelivery] = []
    size = 0
    for delivery in [*deliveries, None]:
        full = delivery is None or (
            bool(group) and size + delivery.payload_bytes > PASS_PAYLOAD_BYTES
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
            size += delivery.payload_bytes


def _prepare(delivery: WebhookDelivery, payload: Any, lookups: Lookups) -> Change | Outcome | None:
    """What `routing.prepare` makes of the delivery; None to route it alone.
    Raises PayloadError for a payload the processors cannot read, _Unreadable
    for one that is not a JSON object."""
    return prepare(_event(delivery, payload, lookups))


def _process_one_at_a_time(
    queryset: QuerySet[WebhookDelivery], candidates: list[int], arrivals: _Arrivals
) -> None:
    """Each delivery claimed and processed in its own transaction: row locks (the
    delivery's, and the metrics rows its processor touches) are held for one
    delivery only."""
    lookups = Lookups()
    for pk in candidates:
        with transaction.atomic():
            # The lock is the claim; the filter, checked again once it is held,
            # drops a delivery another worker finished in the meantime.
            delivery = queryset.select_for_update(skip_locked=True).filter(pk=pk).first()
            if delivery is None:
                continue
            payload = _parse(delivery.payload)
            _process_locked(delivery, payload, lookups)
        arrivals.add(delivery, payload)


def _parse(text: str) -> Any:
    try:
        return parse_body(text)
    except ValueError:
        return None


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


def _drain(querysets: list[QuerySet[WebhookDelivery]], *, pass_size: int) -> int:
    handled = 0
    for queryset in querysets:
        while True:
            claimed = _process_pass(queryset, limit=pass_size)
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


def drain_deliveries(*, woken_for: float | None = None, pass_size: int = PASS_SIZE) -> int:
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
    handled = _drain(_waiting(), pass_size=pass_size)
    # The start of the drain that finished last: with threads, an earlier one
    # may finish later, and then fewer wake-ups are skipped, never more.
    _runs.last_started = started
    return handled


def sweep_pending(*, older_than: timedelta = SWEEP_AFTER, pass_size: int = PASS_SIZE) -> int:
    """The safety net: deliveries left in received for longer than
    ``older_than`` (their wake-up was lost), and failed ones due for a retry."""
    return _drain(_waiting(received_before=timezone.now() - older_than), pass_size=pass_size)


def process_delivery(*, pk: int) -> WebhookDelivery:
    """Process one delivery now, unless it is finished or another worker holds
    it. Used by replay, where the caller waits for the outcome."""
    waiting = WebhookDelivery.objects.filter(pk=pk, status__in=[Status.RECEIVED, Status.FAILED])
    arrivals = _Arrivals()
    _process_one_at_a_time(waiting, [pk], arrivals)
    arrivals.record()
    return WebhookDelivery.objects.get(pk=pk)


class RetryRefused(Exception):
    """The delivery cannot be retried; the message says why, for the page."""


def retry_delivery(*, delivery: WebhookDelivery) -> None:
    """Put a failed delivery back in the queue (a team admin pressed Retry).

    Only while its installation is still connected to the delivery's team: once
    disconnected (or claimed by another team), a retry would route the event to
    whoever holds the installation now."""
    still_connected = Installation.objects.filter(
        installation_id=delivery.installation_id, team_id=delivery.team_id
    ).exists()
    if delivery.team_id is None or not still_connected:
        raise RetryRefused(
            f"Delivery {delivery.delivery_id} was not retried: its installation is no "
            "longer connected to this team."
        )
    requeued = WebhookDelivery.objects.filter(pk=delivery.pk, status=Status.FAILED).update(
        status=Status.RECEIVED, next_attempt_at=None
    )
    if not requeued:
        raise RetryRefused(f"Delivery {delivery.delivery_id} has not failed: nothing to retry.")
    transaction.on_commit(wake_drain, robust=True)


# Events whose deliveries a newly tracked repository takes back.
REPOSITORY_EVENTS = ("pull_request", "pull_request_review")


def requeue_ignored_deliveries(*, installation_id: int, repository_github_id: int) -> int:
    """Put a repository's ignored pull request and review deliveries back in the
    queue (it has just been tracked): they were kept for this. The processors
    take events in any order, so old ones go through as well as new. Returns how
    many were queued."""
    requeued = WebhookDelivery.objects.filter(
        status=Status.IGNORED,
        installation_id=installation_id,
        repository_github_id=repository_github_id,
        event__in=REPOSITORY_EVENTS,
    ).update(status=Status.RECEIVED, status_reason="", processed_at=None)
    if requeued:
        transaction.on_commit(wake_drain, robust=True)
    return requeued


# --- waking the drain -----------------------------------------------------------------


def _queue_drain(
    *, woken_for: float | None, eta: datetime | None = None, countdown: float | None = None
) -> None:
    from apps.integrations.tasks import drain_deliveries as drain_task

    # retry=False: with the broker down, fail at once; the delivery is stored.
    drain_task.apply_async(
        kwargs={"woken_for": woken_for}, eta=eta, countdown=countdown, retry=False
    )


class DrainWaker:
    """Wakes the drain for deliveries stored in this process: at once after a
    quiet interval; otherwise once, at the next multiple of the interval on the
    clock. Every web process picks the same instants, so the drain tells their
    wake-ups for one instant from a later one (`drain_deliveries`): under load,
    one pass per interval. Each process waking on its own schedule made passes
    half as large, and a pass costs some 7 ms of the worker's time whatever its
    size."""

    def __init__(
        self,
        *,
        interval: float,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval = interval
        self._clock = clock
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._due = float("-inf")
        self._paused_until = float("-inf")

    def wake(self) -> None:
        if current_app.conf.task_always_eager:
            # In-process tasks: the wake-up is the drain itself.
            _queue_drain(woken_for=None)
            return
        now = self._clock()
        with self._lock:
            if self._monotonic() < self._paused_until:
                return
            # A wake-up due within the interval finds this delivery (stored
            # before it). Further ahead than that, the clock was set back.
            if now < self._due <= now + self._interval:
                return
            if now >= self._due + self._interval:
                due, countdown = now, None
            else:
                due = (math.floor(now / self._interval) + 1) * self._interval
                countdown = due - now
            self._due = due
        try:
            _queue_drain(woken_for=due, countdown=countdown)
        except Exception as error:
            # Only the type: broker errors may carry its URL, with a password.
            logger.warning(
                "could not wake the delivery drain (%s); the sweeper will pick the deliveries up",
                type(error).__name__,
            )
            with self._lock:
                # On the monotonic clock: a pause must not grow when the
                # clock is set back.
                self._paused_until = self._monotonic() + BROKER_DOWN_PAUSE_SECONDS


_waker = DrainWaker(interval=WAKE_INTERVAL_SECONDS)


def wake_drain() -> None:
    _waker.wake()

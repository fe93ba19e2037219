"""Reconcile: every event GitHub failed to deliver is fetched from the app's
delivery log and stored like a delivery that arrived.

GitHub never redelivers a failed delivery by itself; it keeps each one in the
app's delivery log for 3 days (7 on Enterprise Server). A run reads the log
newest first, down to the high-water mark (the newest entry of the last walk
that finished, kept in ``ReconcileState``), at most
``TFORMANCE_RECONCILE_MAX_PAGES`` pages; a longer walk resumes where it stopped
in the next run. Entries are grouped by ``guid`` (a redelivery is a new entry of
the same event). A guid not stored here is fetched (GitHub's copy of the
request) and stored by ``store_delivery``, keyed by that guid, so a webhook
arriving at the same moment and the recovery store it once between them.

A run only reads GitHub and stores deliveries: processing is the drain's, woken
on commit. It runs in a Celery task or a command, never in the webhook."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from githubkit import GitHub

from apps.integrations.models import ReconcileRun, ReconcileState, WebhookDelivery
from apps.integrations.pipeline.store import store_delivery
from apps.integrations.scheduling import wake_drain
from apps.integrations.services.github_api import app_github
from github_app.errors import GitHubError, NotFound, RateLimited, ValidationFailed
from github_app.hook_deliveries import (
    LoggedDelivery,
    MalformedDelivery,
    fetch_delivery,
    list_delivery_page,
)

logger = logging.getLogger(__name__)

# A run holds the lock this long at most: one that died (its worker killed)
# leaves it behind, and the next run after this takes it over.
RECONCILE_LEASE = timedelta(minutes=15)
# Entries this much older than the mark are read again (those stored are not
# fetched): GitHub may list a delivery only once its attempt ended, up to its
# 10-second timeout after one listed above it.
MARK_MARGIN = timedelta(minutes=2)
# Runs kept for the delivery log page; github_poll records one every few seconds.
KEEP_RUNS = 1000
# ``--since`` from a minute to GitHub Enterprise Server's retention (7 days).
SINCE_MIN = timedelta(minutes=1)
SINCE_MAX = timedelta(days=7)
_SINCE = re.compile(r"([1-9][0-9]{0,5})([mhd])", re.ASCII)
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}

Trigger = ReconcileRun.Trigger


class ReconcileBusy(Exception):
    """Another reconcile is running."""


class SinceInvalid(ValueError):
    """``--since`` is not a duration such as 30m, 24h or 3d, within bounds."""


def since_parse(text: str) -> timedelta:
    """``30m``, ``24h``, ``3d`` as a timedelta, from a minute to 7 days."""
    match = _SINCE.fullmatch(text.strip()) if len(text) <= 20 else None
    if match is None:
        raise SinceInvalid(
            f"{text[:20]!r} is not a duration: write minutes, hours or days, as 30m, 24h or 3d"
        )
    since = timedelta(**{_UNITS[match[2]]: int(match[1])})
    if not SINCE_MIN <= since <= SINCE_MAX:
        raise SinceInvalid("the duration must be from 1m to 7d (GitHub keeps deliveries no longer)")
    return since


@dataclass
class ReconcileResult:
    """What a run did. ``missing`` counts events (guids) not stored here when
    the run saw them; ``recovered`` those it stored; ``pulled`` lists them (the
    missing ones, for a dry run)."""

    pages: int = 0
    deliveries_seen: int = 0
    missing: int = 0
    recovered: int = 0
    failed: int = 0
    caught_up: bool = False
    error: str = ""
    # Set when the run ended on GitHub's rate limit: not before this again.
    retry_at: datetime | None = None
    pulled: list[LoggedDelivery] = field(default_factory=list)
    run: ReconcileRun | None = None


@dataclass
class _Walk:
    """Where this run reads: from ``cursor`` (None: the newest page) down to
    ``stop_id`` (the mark, read back MARK_MARGIN before ``stop_at``) or
    ``floor`` (a time)."""

    cursor: str | None
    stop_id: int | None
    floor: datetime | None
    stop_at: datetime | None = None
    newest_id: int | None = None
    newest_at: datetime | None = None


def _lock(*, now: datetime) -> ReconcileState:
    with transaction.atomic():
        state, _ = ReconcileState.objects.select_for_update().get_or_create(pk=1)
        if state.running_since is not None and state.running_since > now - RECONCILE_LEASE:
            raise ReconcileBusy(
                f"another reconcile has been running since {state.running_since:%H:%M:%S} UTC"
            )
        state.running_since = now
        state.save(update_fields=["running_since", "updated_at"])
    return state


def _walk(*, state: ReconcileState, since: timedelta | None, now: datetime) -> _Walk:
    if since is not None:
        # A one-off look back: the mark and any unfinished walk stay as they are.
        return _Walk(cursor=None, stop_id=None, floor=now - since)
    first = timedelta(hours=settings.TFORMANCE_RECONCILE_FIRST_HOURS)
    floor = None if state.high_water_id is not None else (state.walk_floor_at or now - first)
    if state.walk_cursor:
        return _Walk(
            cursor=state.walk_cursor,
            stop_id=state.high_water_id,
            stop_at=state.high_water_at,
            floor=floor,
            newest_id=state.walk_newest_id,
            newest_at=state.walk_newest_at,
        )
    return _Walk(cursor=None, stop_id=state.high_water_id, stop_at=state.high_water_at, floor=floor)


def _save_walk(
    state: ReconcileState, walk: _Walk, result: ReconcileResult, *, resume: str | None
) -> None:
    if result.caught_up:
        if walk.newest_id is not None and (
            state.high_water_id is None or walk.newest_id > state.high_water_id
        ):
            state.high_water_id, state.high_water_at = walk.newest_id, walk.newest_at
        state.walk_cursor, state.walk_newest_id, state.walk_newest_at = "", None, None
        state.walk_floor_at = None
        return
    if resume is None:
        # Nothing of the walk to resume: the next run starts it again from the newest page.
        state.walk_cursor, state.walk_newest_id, state.walk_newest_at = "", None, None
    else:
        state.walk_cursor = resume
        state.walk_newest_id, state.walk_newest_at = walk.newest_id, walk.newest_at
    state.walk_floor_at = walk.floor if state.high_water_id is None else None


def _body(payload: object) -> str:
    # The default ensure_ascii keeps lone surrogates as escapes: the database
    # takes the text, and the drain fails the delivery as unreadable.
    return json.dumps(payload, separators=(",", ":"))


def _recover(
    client: GitHub[Any],
    logged: LoggedDelivery,
    result: ReconcileResult,
    on_recovered: Callable[[LoggedDelivery], None] | None,
) -> None:
    try:
        fetched = fetch_delivery(client, logged=logged)
    except (MalformedDelivery, NotFound) as error:
        # Gone from the log since it was listed, or not of GitHub's shape: this
        # one is lost, the others go on.
        logger.warning("delivery %s could not be recovered: %s", logged.guid, error)
        result.failed += 1
        return
    stored = store_delivery(
        headers=fetched.headers,
        body=_body(fetched.payload),
        payload=fetched.payload,
        source=WebhookDelivery.Source.RECOVERY,
    )
    if not stored:
        # The webhook brought it meanwhile.
        return
    result.recovered += 1
    result.pulled.append(logged)
    transaction.on_commit(wake_drain, robust=True)
    if on_recovered is not None:
        on_recovered(logged)


def _below(walk: _Walk, logged: LoggedDelivery) -> bool:
    """Whether the entry is past the end of the walk (the mark, or the floor)."""
    if walk.floor is not None and logged.delivered_at < walk.floor:
        return True
    if walk.stop_id is None or logged.id > walk.stop_id:
        return False
    return walk.stop_at is None or logged.delivered_at < walk.stop_at - MARK_MARGIN


def _read(
    walk: _Walk,
    result: ReconcileResult,
    *,
    dry_run: bool,
    max_pages: int,
    on_recovered: Callable[[LoggedDelivery], None] | None,
) -> str | None:
    """Read the walk's pages and recover what is missing. Returns the cursor
    to resume at (None: from the newest page), kept up to date as it goes, so
    that a run ended by GitHub resumes at the page it did not finish."""
    cursor = walk.cursor
    handled: set[str] = set()
    try:
        client = app_github()
        for _ in range(max_pages):
            page = list_delivery_page(client, cursor=cursor)
            result.pages += 1
            if not dry_run:
                # The lock's lease runs from the last page read.
                ReconcileState.objects.filter(pk=1).update(running_since=timezone.now())
            result.failed += page.malformed
            if cursor is None and walk.newest_id is None and page.deliveries:
                newest = max(page.deliveries, key=lambda d: d.id)
                walk.newest_id, walk.newest_at = newest.id, newest.delivered_at
            fresh: dict[str, LoggedDelivery] = {}
            reached = False
            for logged in page.deliveries:
                if _below(walk, logged):
                    reached = True
                    continue
                result.deliveries_seen += 1
                if logged.guid not in handled:
                    # Newest first: the first entry of a guid is its latest attempt.
                    fresh.setdefault(logged.guid, logged)
            stored = set(
                WebhookDelivery.objects.filter(delivery_id__in=list(fresh)).values_list(
                    "delivery_id", flat=True
                )
            )
            for guid, logged in fresh.items():
                handled.add(guid)
                if guid in stored:
                    continue
                result.missing += 1
                if dry_run:
                    result.pulled.append(logged)
                else:
                    _recover(client, logged, result, on_recovered)
            if reached or page.next_cursor is None:
                result.caught_up = True
                return None
            cursor = page.next_cursor
        # The page bound: not caught up, and no error; the next run goes on from here.
        return cursor
    except ValidationFailed as error:
        # GitHub's 422: "validation failed, or the endpoint has been spammed". A
        # cursor it no longer takes would fail the same way: start again from
        # the newest page next time (what is stored is not fetched twice).
        result.error = str(error)
        walk.newest_id = walk.newest_at = None
        return None
    except RateLimited as error:
        result.error, result.retry_at = str(error), error.reset_at
        return cursor
    except GitHubError as error:
        result.error = str(error)
        return cursor


def deliveries_reconcile(
    *,
    trigger: str,
    since: timedelta | None = None,
    dry_run: bool = False,
    max_pages: int | None = None,
    on_recovered: Callable[[LoggedDelivery], None] | None = None,
) -> ReconcileResult:
    """One reconcile run; see the module's docstring. ``since``: read down to
    that long ago instead of the mark (which it leaves alone). ``dry_run``:
    read and count, store nothing, record nothing. Raises ReconcileBusy when
    another run holds the lock. GitHub's errors end the run, in ``error``."""
    now = timezone.now()
    pages = max_pages or settings.TFORMANCE_RECONCILE_MAX_PAGES
    result = ReconcileResult()
    if dry_run:
        state = ReconcileState.objects.filter(pk=1).first() or ReconcileState()
        _read(
            _walk(state=state, since=since, now=now),
            result,
            dry_run=True,
            max_pages=pages,
            on_recovered=None,
        )
        return result
    state = _lock(now=now)
    run = ReconcileRun.objects.create(
        trigger=trigger, since=now - since if since else None, started_at=now
    )
    walk = _walk(state=state, since=since, now=now)
    resume = walk.cursor
    try:
        resume = _read(walk, result, dry_run=False, max_pages=pages, on_recovered=on_recovered)
    finally:
        if since is None:
            _save_walk(state, walk, result, resume=resume)
        state.running_since = None
        state.save()
        _record(run, result)
    result.run = run
    if result.error:
        logger.warning("reconcile ended early: %s", result.error)
    return result


def _record(run: ReconcileRun, result: ReconcileResult) -> None:
    run.finished_at = timezone.now()
    run.pages, run.deliveries_seen = result.pages, result.deliveries_seen
    run.missing, run.recovered, run.failed = result.missing, result.recovered, result.failed
    run.caught_up, run.error = result.caught_up, result.error[:300]
    run.save()
    kept = ReconcileRun.objects.order_by("-pk").values_list("pk", flat=True)
    oldest_kept = list(kept[KEEP_RUNS - 1 : KEEP_RUNS])
    if oldest_kept:
        ReconcileRun.objects.filter(pk__lt=oldest_kept[0]).delete()

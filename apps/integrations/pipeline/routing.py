"""Where each webhook event goes: one table from (event, action) to a handler,
and one list of events that are recorded but deliberately not processed.

A handler runs inside the delivery's transaction and returns an ``Outcome``;
any exception it raises fails the delivery and rolls back what it wrote."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from apps.integrations.models import Installation, WebhookDelivery
from apps.integrations.pipeline.eligibility import (
    Ineligible,
    installation_eligibility,
    repository_eligibility,
)
from apps.integrations.pipeline.lookups import Lookups
from apps.integrations.pipeline.requeue import requeue_ignored_deliveries
from apps.integrations.services import installations, repositories
from apps.metrics.services.payloads import (
    PayloadError,
    read_repository_block,
    require_mapping,
)
from apps.metrics.services.processors import EVENT_NAMES, MetricsEvent, Source
from github_app.values import github_id

Status = WebhookDelivery.Status


def payload_id(payload: Mapping[str, Any], key: str) -> int | None:
    """GitHub's id of the payload's ``installation``, ``repository``, … block."""
    block = payload.get(key)
    return github_id(block.get("id")) if isinstance(block, Mapping) else None


@dataclass(frozen=True, slots=True)
class Event:
    name: str
    action: str
    payload: Mapping[str, Any]
    received_at: datetime
    lookups: Lookups = field(default_factory=Lookups)
    source: Source = Source.WEBHOOK


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str
    reason: str = ""


PROCESSED = Outcome(Status.PROCESSED)


def ignored(reason: str) -> Outcome:
    return Outcome(Status.IGNORED, reason)


Handler = Callable[[Event], Outcome]


# --- installation -------------------------------------------------------------
# Each handler records the payload's installation block as of the delivery's
# receipt time: an event older than the state recorded changes nothing (see
# services/installations.py), so out-of-order and retried deliveries cannot undo
# newer ones.


def _recorded_installation(
    event: Event, *, block: Mapping[str, Any] | None = None
) -> Installation | Outcome:
    """Record the event's installation block (or ``block``, a corrected copy);
    a deleted installation's events are ignored (deletion is final: GitHub
    never reuses an installation id)."""
    installation = installations.installation_upsert(
        data=block or event.payload.get("installation"), at=event.received_at
    )
    if installation.deleted_at is not None:
        return ignored(f"Installation {installation.installation_id} was deleted.")
    return installation


def _repositories_synced(key: str) -> Handler:
    """Record the installation, then the repositories its payload lists under
    ``key`` (``installation.created`` lists them all, ``installation_repositories.
    added`` the new ones)."""

    def handle(event: Event) -> Outcome:
        installation = _recorded_installation(event)
        if isinstance(installation, Outcome):
            return installation
        synced = installations.repositories_sync(
            installation=installation,
            repositories=event.payload.get(key) or [],
            at=event.received_at,
        )
        for repository in synced:
            # Access granted again to a tracked repository: what was ignored
            # while it was removed goes through, as when it is tracked.
            if repository.tracked and repository.accessible and repository.deleted_at is None:
                requeue_ignored_deliveries(
                    installation_id=installation.installation_id,
                    repository_github_id=repository.github_id,
                )
        return PROCESSED

    return handle


def _installation_deleted(event: Event) -> Outcome:
    installation = installations.installation_upsert(
        data=event.payload.get("installation"), at=event.received_at
    )
    installations.installation_mark_deleted(installation=installation, at=event.received_at)
    return PROCESSED


def _installation_suspend(event: Event) -> Outcome:
    # Some suspend payloads carry no suspended_at; the event itself says when.
    block = dict(require_mapping(event.payload.get("installation"), "installation"))
    block["suspended_at"] = block.get("suspended_at") or event.received_at.isoformat()
    installation = _recorded_installation(event, block=block)
    return installation if isinstance(installation, Outcome) else PROCESSED


def _installation_updated(event: Event) -> Outcome:
    # unsuspend and new_permissions_accepted: the installation block says it all.
    installation = _recorded_installation(event)
    return installation if isinstance(installation, Outcome) else PROCESSED


# --- installation_repositories ---------------------------------------------------


def _repositories_removed(event: Event) -> Outcome:
    installation = _recorded_installation(event)
    if isinstance(installation, Outcome):
        return installation
    installations.repositories_remove(
        installation=installation,
        repositories=event.payload.get("repositories_removed") or [],
        at=event.received_at,
    )
    return PROCESSED


# --- names: repository and installation_target --------------------------------------
# GitHub's ids stay; names and states follow GitHub (services/repositories.py).


def _repository_changed(event: Event) -> Outcome:
    """renamed, transferred, archived, unarchived, privatized, publicized,
    edited, deleted: every row of the repository follows; created (a repository
    not recorded yet) changes nothing: installation events record repositories."""
    installation = installation_eligibility(
        installation_id=payload_id(event.payload, "installation"), lookups=event.lookups
    )
    if not isinstance(installation, Installation):
        return ignored(installation.reason)
    block = read_repository_block(event.payload.get("repository"))
    if block is None:
        raise PayloadError("repository.id or repository.full_name is missing or malformed")
    if event.action == "deleted":
        repositories.repositories_mark_deleted(github_id=block.github_id, at=event.received_at)
    else:
        repositories.repositories_follow(block=block, received_at=event.received_at)
    return PROCESSED


def _account_renamed(event: Event) -> Outcome:
    installation_id = payload_id(event.payload, "installation")
    account = event.payload.get("account")
    if installation_id is None or not isinstance(account, Mapping):
        raise PayloadError("installation.id or account is missing")
    renamed = installations.installation_account_renamed(
        installation_id=installation_id, account=account, at=event.received_at
    )
    if renamed is None:
        return ignored(f"Installation {installation_id} is not known here.")
    return PROCESSED


# --- pull requests and reviews ------------------------------------------------------


class ToMetrics:
    """Marks the events for the metrics' one entry (`events_apply`) in the
    table: the drain calls `prepare` for each such delivery (only for a
    repository its team may process, `repository_eligibility`) and applies the
    events of a pass together."""

    def prepare(self, event: Event) -> MetricsEvent | Outcome:
        """The event for the metrics, or why it is ignored."""
        repository_block = event.payload.get("repository")
        name = repository_block.get("full_name") if isinstance(repository_block, Mapping) else ""
        eligibility = repository_eligibility(
            installation_id=payload_id(event.payload, "installation"),
            repository_github_id=payload_id(event.payload, "repository"),
            repository_name=name if isinstance(name, str) else "",
            lookups=event.lookups,
        )
        if isinstance(eligibility, Ineligible):
            return ignored(eligibility.reason)
        block = read_repository_block(repository_block)
        if block is not None:
            # Names follow the newest block (a rename no event told us of):
            # a revert's "Reverts org/new-name#N" is then found by it.
            repositories.repository_snapshot_record(
                repository=eligibility.repository, block=block, received_at=event.received_at
            )
        return MetricsEvent(
            team=eligibility.team,
            repository=eligibility.repository,
            name=event.name,
            payload=event.payload,
            received_at=event.received_at,
            source=event.source,
        )


TO_METRICS = ToMetrics()

ANY_ACTION = None

# A handler (routed alone, in its turn), or the metrics' events (applied in passes).
Route = Handler | ToMetrics

ROUTES: dict[tuple[str, str | None], Route] = {
    ("installation", "created"): _repositories_synced("repositories"),
    ("installation", "deleted"): _installation_deleted,
    ("installation", "suspend"): _installation_suspend,
    ("installation", "unsuspend"): _installation_updated,
    ("installation", "new_permissions_accepted"): _installation_updated,
    ("installation_repositories", "added"): _repositories_synced("repositories_added"),
    ("installation_repositories", "removed"): _repositories_removed,
    ("installation_target", "renamed"): _account_renamed,
    ("repository", ANY_ACTION): _repository_changed,
    # The processors take every action of their events: each payload carries a
    # full snapshot, and they keep the newest one.
    **{(name, ANY_ACTION): TO_METRICS for name in sorted(EVENT_NAMES)},
}

# Events GitHub may send us that are recorded and deliberately not processed.
IGNORED_EVENTS: dict[str, str] = {
    "ping": "A ping only checks that the webhook is reachable.",
    "github_app_authorization": "User authorizations are not tracked.",
    "pull_request_review_comment": "Review comments are not part of the metrics.",
    "pull_request_review_thread": "Review threads are not part of the metrics.",
}


# Derived from the table: the events that go to the metrics (scoped to one
# repository, kept when ignored so that tracking it later takes them back), and
# the ones whose handlers change installations or their repositories, which the
# events after them are routed by.
REPOSITORY_EVENTS = frozenset(name for (name, _), h in ROUTES.items() if h is TO_METRICS)
CHANGES_INSTALLATIONS = frozenset(name for (name, _), h in ROUTES.items() if h is not TO_METRICS)
# GitHub sends these to every GitHub App, subscribed or not; the manifest
# subscribes to the other routed events (tests/test_layout.py checks it).
SENT_TO_EVERY_APP = frozenset({"installation", "installation_repositories", "installation_target"})
SUBSCRIBED_EVENTS = frozenset(name for name, _ in ROUTES) - SENT_TO_EVERY_APP


def _handler(event: Event) -> Route | Outcome:
    if event.name in IGNORED_EVENTS:
        return ignored(IGNORED_EVENTS[event.name])
    handler = ROUTES.get((event.name, event.action)) or ROUTES.get((event.name, ANY_ACTION))
    if handler is None:
        kind = f"{event.name}.{event.action}" if event.action else event.name
        return ignored(f"No handler for {kind} events.")
    return handler


def route(event: Event) -> Outcome:
    """Route an event that `prepare` left to be routed alone."""
    handler = _handler(event)
    if isinstance(handler, Outcome):
        return handler
    if isinstance(handler, ToMetrics):
        raise TypeError("the metrics' events are applied in passes: call prepare()")
    try:
        return handler(event)
    finally:
        # Also on failure: what the handler wrote is being rolled back.
        installation_id = payload_id(event.payload, "installation")
        if event.name in CHANGES_INSTALLATIONS and installation_id is not None:
            event.lookups.forget(installation_id)


def prepare(event: Event) -> MetricsEvent | Outcome | None:
    """For applying many deliveries together: a pull request or review event for
    the metrics (or why the event is ignored), without writing anything; None
    for an event that must be routed alone, in its turn (it changes installations
    or repositories, which the events after it are routed by)."""
    handler = _handler(event)
    if isinstance(handler, Outcome):
        return handler
    if isinstance(handler, ToMetrics):
        return handler.prepare(event)
    return None

"""Where each webhook event goes: one table from (event, action) to a handler,
and one list of events that are recorded but deliberately not processed.

A handler runs inside the delivery's transaction and returns an ``Outcome``;
any exception it raises fails the delivery and rolls back what it wrote."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from apps.integrations.models import Installation, Repository, WebhookDelivery
from apps.integrations.services import installations
from apps.metrics.services.batches import Change, apply_changes
from apps.metrics.services.pull_requests import read_pull_request_change
from apps.metrics.services.reviews import read_review_change

Status = WebhookDelivery.Status


def payload_id(payload: Mapping[str, Any], key: str) -> int | None:
    """GitHub's id of the payload's ``installation``, ``repository``, … block."""
    block = payload.get(key)
    if isinstance(block, Mapping) and isinstance(block.get("id"), int):
        return int(block["id"])
    return None


class Lookups:
    """Installations and repositories, read once per batch of deliveries (a batch
    is mostly one busy installation's events). An installation or
    installation_repositories event makes ``route`` forget that installation."""

    def __init__(self) -> None:
        self._installations: dict[int, Installation | None] = {}
        self._repositories: dict[tuple[int, int], Repository | None] = {}

    def installation(self, installation_id: int) -> Installation | None:
        if installation_id not in self._installations:
            self._installations[installation_id] = (
                Installation.objects.select_related("team")
                .filter(installation_id=installation_id)
                .first()
            )
        return self._installations[installation_id]

    def repository(self, installation: Installation, github_id: int | None) -> Repository | None:
        if github_id is None:
            return None
        key = (installation.installation_id, github_id)
        if key not in self._repositories:
            self._repositories[key] = Repository.objects.filter(
                installation=installation, github_id=github_id
            ).first()
        return self._repositories[key]

    def forget(self, installation_id: int) -> None:
        self._installations.pop(installation_id, None)
        for key in [key for key in self._repositories if key[0] == installation_id]:
            del self._repositories[key]


@dataclass(frozen=True, slots=True)
class Event:
    name: str
    action: str
    payload: Mapping[str, Any]
    received_at: datetime
    lookups: Lookups = field(default_factory=Lookups)


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str
    reason: str = ""


PROCESSED = Outcome(Status.PROCESSED)


def ignored(reason: str) -> Outcome:
    return Outcome(Status.IGNORED, reason)


Handler = Callable[[Event], Outcome]
# A processor's reader: read_pull_request_change, read_review_change.
Reader = Callable[..., Change]


def _known_installation(event: Event) -> Installation | Outcome:
    """The installation the event belongs to, or the reason to ignore it."""
    installation_id = payload_id(event.payload, "installation")
    if installation_id is None:
        return ignored("The payload names no installation.")
    installation = event.lookups.installation(installation_id)
    if installation is None:
        return ignored(f"Installation {installation_id} is not known here.")
    if installation.deleted_at is not None:
        return ignored(f"Installation {installation_id} was deleted.")
    return installation


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
        data=block or event.payload["installation"], at=event.received_at
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
        installations.repositories_sync(
            installation=installation,
            repositories=event.payload.get(key) or [],
            at=event.received_at,
        )
        return PROCESSED

    return handle


def _installation_deleted(event: Event) -> Outcome:
    installation = installations.installation_upsert(
        data=event.payload["installation"], at=event.received_at
    )
    installations.installation_mark_deleted(installation=installation, at=event.received_at)
    return PROCESSED


def _installation_suspend(event: Event) -> Outcome:
    # Some suspend payloads carry no suspended_at; the event itself says when.
    block = dict(event.payload["installation"])
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


# --- pull requests and reviews ------------------------------------------------------


@dataclass(frozen=True)
class ToProcessor:
    """Hands an event to a metrics processor (its reader, then `apply_changes`),
    only for a claimed installation and a repository its team tracks and can
    still reach. The drain calls `prepare` for many deliveries and applies their
    changes together."""

    read: Reader

    def prepare(self, event: Event) -> Change | Outcome:
        """The event's change, or why it is ignored. Raises PayloadError."""
        found = _known_installation(event)
        if isinstance(found, Outcome):
            return found
        installation = found
        repository_block = event.payload.get("repository") or {}
        repository = event.lookups.repository(installation, payload_id(event.payload, "repository"))
        team = installation.team
        name = repository_block.get("full_name") or "The repository"
        if team is None:
            return ignored(
                f"Installation {installation.installation_id} is not claimed by a team yet."
            )
        if repository is None or not repository.tracked:
            return ignored(f"{name} is not tracked by {team.name}.")
        if not repository.accessible:
            return ignored(f"{name} was removed from the installation.")
        return self.read(
            team=team, repository=repository, payload=event.payload, received_at=event.received_at
        )

    def __call__(self, event: Event) -> Outcome:
        prepared = self.prepare(event)
        if isinstance(prepared, Outcome):
            return prepared
        apply_changes([prepared])
        return PROCESSED


ANY_ACTION = None

ROUTES: dict[tuple[str, str | None], Handler] = {
    ("installation", "created"): _repositories_synced("repositories"),
    ("installation", "deleted"): _installation_deleted,
    ("installation", "suspend"): _installation_suspend,
    ("installation", "unsuspend"): _installation_updated,
    ("installation", "new_permissions_accepted"): _installation_updated,
    ("installation_repositories", "added"): _repositories_synced("repositories_added"),
    ("installation_repositories", "removed"): _repositories_removed,
    # The processors take every pull request action: each payload carries a full
    # snapshot, and they keep the newest one.
    ("pull_request", ANY_ACTION): ToProcessor(read_pull_request_change),
    ("pull_request_review", ANY_ACTION): ToProcessor(read_review_change),
}

# Events GitHub may send us that are recorded and deliberately not processed.
IGNORED_EVENTS: dict[str, str] = {
    "ping": "A ping only checks that the webhook is reachable.",
    "installation_target": "Account renames are picked up from the next installation event.",
    "github_app_authorization": "User authorizations are not tracked.",
    "pull_request_review_comment": "Review comments are not part of the metrics.",
    "pull_request_review_thread": "Review threads are not part of the metrics.",
}


# Events whose handlers change installations or their repositories.
CHANGES_INSTALLATIONS = frozenset({"installation", "installation_repositories"})


def _handler(event: Event) -> Handler | Outcome:
    if event.name in IGNORED_EVENTS:
        return ignored(IGNORED_EVENTS[event.name])
    handler = ROUTES.get((event.name, event.action)) or ROUTES.get((event.name, ANY_ACTION))
    if handler is None:
        kind = f"{event.name}.{event.action}" if event.action else event.name
        return ignored(f"No handler for {kind} events.")
    return handler


def route(event: Event) -> Outcome:
    handler = _handler(event)
    if isinstance(handler, Outcome):
        return handler
    try:
        return handler(event)
    finally:
        # Also on failure: what the handler wrote is being rolled back.
        installation_id = payload_id(event.payload, "installation")
        if event.name in CHANGES_INSTALLATIONS and installation_id is not None:
            event.lookups.forget(installation_id)


def prepare(event: Event) -> Change | Outcome | None:
    """For applying many deliveries together: a pull request or review event's
    change (or why the event is ignored), read without writing anything; None
    for an event that must be routed alone, in its turn (it changes installations
    or repositories, which the events after it are routed by). Raises what the
    processors' readers raise (PayloadError)."""
    handler = _handler(event)
    if isinstance(handler, Outcome):
        return handler
    if isinstance(handler, ToProcessor):
        return handler.prepare(event)
    return None

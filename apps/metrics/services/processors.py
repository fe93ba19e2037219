"""The one entry into the metrics: events in, rows out.

Every source of pull request and review events comes through `events_apply`:
the webhook drain, `github_replay`, the history backfill (GraphQL pages turned
into webhook-shaped payloads by one adapter), deliveries recovered from GitHub's
delivery log (stored and drained like the rest) and the demo (signed deliveries
posted to the real endpoint). So the rules that make the numbers right (order,
idempotency, bots, reverts) are the same for all of them.

An event is what a GitHub webhook of that name carries: its payload (or one
shaped like it), and when its delivery was received (None for a read of
GitHub's API, which is the state as of the read). Which events are read, and
into which kind of row, is the registry's (`kinds.KINDS`: each kind's
`readers`); `READERS` and `EVENT_NAMES` are derived from it, and the drain's
routing table and the tests derive their lists from those.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from apps.metrics.repositories import RepositoryRecord
from apps.metrics.services.batches import Change, Reader, apply_changes
from apps.metrics.services.kinds import KINDS
from apps.metrics.services.payloads import PayloadError
from apps.teams.models import Team


class Source(StrEnum):
    """Where an event came from."""

    WEBHOOK = "webhook"
    RECOVERY = "recovery"
    REPLAY = "replay"
    HISTORY = "history"
    DEMO = "demo"
    # A read of GitHub's API after a live event (a merged pull request's commits).
    FETCH = "fetch"
    # POST /api/teams/<slug>/deployments/: a deployment from a team's own CI.
    API = "api"


@dataclass(frozen=True, slots=True)
class MetricsEvent:
    """One pull request or review event for one team's metrics."""

    team: Team
    repository: RepositoryRecord | None
    name: str
    payload: Mapping[str, Any]
    # When GitHub's delivery of it was received; None for a read of GitHub's API.
    received_at: datetime | None = None
    source: Source = Source.WEBHOOK


# GitHub event name -> the reader that turns its payload into a change of rows.
READERS: dict[str, Reader] = {
    event: reader for kind in KINDS for event, reader in kind.readers.items()
}
# The events GitHub's webhooks carry (routed to the metrics by the drain); the
# internal ones (a pull request's commits) come from adapters only.
INTERNAL_EVENTS = frozenset(event for kind in KINDS for event in kind.internal_events)
EVENT_NAMES = frozenset(READERS) - INTERNAL_EVENTS


@dataclass(frozen=True, slots=True)
class EventResult:
    """What became of one event: the row it made or updated, or why it could not
    be read (a payload that can never be processed; it changed nothing)."""

    row: object | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


def event_read(event: MetricsEvent) -> Change:
    """The change the event makes, read without writing anything. Raises
    PayloadError for a payload that cannot be read (or an event with no processor)."""
    reader = READERS.get(event.name)
    if reader is None:
        raise PayloadError(f"no processor for {event.name} events")
    return reader(
        team=event.team,
        repository=event.repository,
        payload=event.payload,
        received_at=event.received_at,
    )


def events_apply(*, events: Sequence[MetricsEvent]) -> list[EventResult]:
    """Apply the events in order, in one transaction (a savepoint inside the
    caller's), and say what became of each. An event whose payload cannot be read,
    or whose review belongs to another pull request, gets its reason and changes
    nothing; the others are applied all the same.

    Other errors (the database's) propagate: nothing of the call is kept, and the
    caller may try again, or one event at a time."""
    read: list[Change | EventResult] = []
    for event in events:
        try:
            read.append(event_read(event))
        except PayloadError as error:
            read.append(EventResult(error=str(error)))
    # A change that can never be applied (a review already on another pull
    # request) fails its event alone, at once.
    for kind in KINDS:
        for index, reason in kind.refusals(read).items():
            read[index] = EventResult(error=reason)
    changes: list[Change] = []
    sources: list[str] = []
    results: list[EventResult | None] = []
    for event, item in zip(events, read, strict=True):
        if isinstance(item, EventResult):
            results.append(item)
        else:
            changes.append(item)
            sources.append(event.source)
            results.append(None)
    rows = iter(apply_changes(changes, sources=sources, kinds=KINDS) if changes else [])
    return [result if result is not None else EventResult(row=next(rows)) for result in results]

"""Feeding events to the metrics' one entry, as every source does."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from apps.integrations.models import Repository
from apps.metrics.services.payloads import PayloadError
from apps.metrics.services.processors import MetricsEvent, events_apply
from apps.teams.models import Team


def metrics_event(
    name: str,
    *,
    team: Team,
    repository: Repository | None,
    payload: Mapping[str, Any],
    received_at: datetime | None = None,
) -> MetricsEvent:
    return MetricsEvent(
        team=team, repository=repository, name=name, payload=payload, received_at=received_at
    )


def apply_events(events: Sequence[MetricsEvent]) -> list[Any]:
    """Apply the events together; the row each made, or PayloadError for the first unreadable."""
    results = events_apply(events=events)
    for result in results:
        if not result.ok:
            raise PayloadError(result.error)
    return [result.row for result in results]


def apply_pull_request_event(**fields: Any) -> Any:
    """One pull_request event through the one entry; the pull request row."""
    return apply_events([metrics_event("pull_request", **fields)])[0]


def apply_review_event(**fields: Any) -> Any:
    """One pull_request_review event through the one entry; the review row."""
    return apply_events([metrics_event("pull_request_review", **fields)])[0]

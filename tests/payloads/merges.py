"""A merged pull request's `pull_request` event, as the live-merge tests post it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from github_app.webhook_payloads import pull_request_payload


def merge_event(
    number: int = 7,
    *,
    at: str = "2025-01-08T10:00:00Z",
    open_hours: float = 24,
    pr_id: int | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """The `closed` event of pull request ``number`` merged ``at``, opened
    ``open_hours`` before; ``fields`` go to the pull request object."""
    opened = datetime.fromisoformat(at) - timedelta(hours=open_hours)
    return pull_request_payload(
        "closed",
        pr_id=pr_id or 700 + number,
        number=number,
        state="closed",
        merged=True,
        created_at=opened.strftime("%Y-%m-%dT%H:%M:%SZ"),
        merged_at=at,
        closed_at=at,
        updated_at=at,
        **fields,
    )

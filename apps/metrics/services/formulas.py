"""What is derived from a pull request's stored values: its first review and
first approval (from its reviews, by the one rule in `apps/metrics/rules.py`),
its flags (revert, hotfix) and its durations (by the engine in `durations.py`).

Everything here is computed from the row (and its reviews) as they stand, never
accumulated, so repeated and reordered events converge on the same values, and
`metrics_recompute` can derive them again from stored values alone.
Definitions: docs/metrics.md."""

from __future__ import annotations

from collections.abc import Iterable

from apps.metrics import rules
from apps.metrics.models import PullRequest
from apps.metrics.services.durations import Calendar, durations_store
from apps.metrics.services.payloads import is_hotfix, is_revert_title


def pull_request_reviews_derive(row: PullRequest, reviews: Iterable[rules.ReviewLike]) -> None:
    """Set the row's first review, first approval and review rounds from all of its reviews."""
    reviews = list(reviews)
    row.first_review_at = rules.first_review_at(reviews, author_id=row.author_id)
    row.first_approval_at = rules.first_approval_at(reviews, author_id=row.author_id)
    row.review_rounds = sum(1 for r in reviews if rules.review_counts(r, author_id=row.author_id))


def pull_request_derive(row: PullRequest, *, calendars: dict[str, Calendar]) -> None:
    """Set the row's flags and every stored duration from its stored values."""
    row.is_hotfix = is_hotfix(title=row.title, labels=row.labels, head_branch=row.head_branch)
    # What it says it reverts (reverts_number) is read from its body as it arrives.
    row.is_revert = is_revert_title(row.title) or row.reverts_number is not None
    durations_store(row, calendars=calendars)

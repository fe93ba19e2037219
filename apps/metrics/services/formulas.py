"""The metric formulas: what is derived from a pull request's rows.

Everything here is computed from the row and its reviews as they stand, never
accumulated, so repeated and reordered events converge on the same figures.
Definitions: docs/metrics.md."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from apps.metrics.models import PRReview, PullRequest

# Reviews that do not count as a review having happened.
NOT_COUNTED = frozenset({PRReview.State.PENDING, PRReview.State.DISMISSED})


def hours_between(start: Any, end: Any) -> float | None:
    if start is None or end is None:
        return None
    return float((end - start).total_seconds() / 3600)


def pull_request_derive(row: PullRequest) -> None:
    """Set the row's durations from its times: cycle time (opened to merged) and
    review time (opened to the first review), in hours."""
    row.cycle_time_hours = hours_between(row.pr_created_at, row.merged_at)
    row.review_time_hours = hours_between(row.pr_created_at, row.first_review_at)


def first_review_at(pull_request: PullRequest, reviews: Iterable[PRReview]) -> datetime | None:
    """The earliest submitted, not dismissed review by a human other than the author.

    GitHub's deleted-account placeholder (`ghost`) is left out as bots are: it
    stands for every deleted person, so it is nobody's review, and a review by
    `ghost` of a pull request by `ghost` is never taken for the author's own
    (two deleted people are both `ghost`): it is left out as a deleted
    account's, not as a self-review."""
    times = [
        review.submitted_at
        for review in reviews
        if review.submitted_at is not None
        and review.state not in NOT_COUNTED
        and not (
            review.reviewer is not None
            and (review.reviewer.is_bot or review.reviewer.is_deleted_account)
        )
        and (pull_request.author_id is None or review.reviewer_id != pull_request.author_id)
    ]
    return min(times, default=None)

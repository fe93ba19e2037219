"""Which reviews count: the one rule, used by the formulas (first review, first
approval), the lifecycle events (approved) and the figures (review load).

A review counts as a review having happened when it was submitted, is neither
pending nor dismissed, and is by a counted reviewer: a human (not a bot), not
GitHub's deleted-account placeholder (`ghost`, which stands for every deleted
person, so it is nobody's review), and not the pull request's author. A review
by `ghost` of a pull request by `ghost` is left out as a deleted account's, not
as a self-review (two deleted people are both `ghost`). A review whose payload
named no reviewer is nobody's own review, so it counts.

`counted_reviewer` is the rule in Python; `counted_reviewer_q` is the same rule
as a query filter, for the figures (tests/metrics/test_rules.py checks that the
two agree on every combination). Definitions: docs/metrics.md."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from django.db.models import F, Q

from apps.metrics.models import PRReview, TeamMember

# States of a review that is no review having happened (yet, or any more).
NOT_COUNTED_STATES = frozenset({PRReview.State.PENDING, PRReview.State.DISMISSED})
# States that set where a reviewer stands on a pull request; a comment leaves it.
STANDING_STATES = frozenset(
    {PRReview.State.APPROVED, PRReview.State.CHANGES_REQUESTED, PRReview.State.DISMISSED}
)


class ReviewLike(Protocol):
    """What the rule reads of a review (a PRReview, or a historical model's row)."""

    github_id: int
    state: str
    submitted_at: datetime | None
    reviewer_id: int | None

    @property
    def reviewer(self) -> TeamMember | None: ...


def counted_reviewer(review: ReviewLike, *, author_id: int | None) -> bool:
    """Whether the review's reviewer counts: a human, not a deleted account, not the author."""
    reviewer = review.reviewer if review.reviewer_id is not None else None
    if reviewer is not None and (reviewer.is_bot or reviewer.is_deleted_account):
        return False
    return author_id is None or review.reviewer_id != author_id


def review_counts(review: ReviewLike, *, author_id: int | None) -> bool:
    """Whether the review counts as a review having happened."""
    return (
        review.submitted_at is not None
        and review.state not in NOT_COUNTED_STATES
        and counted_reviewer(review, author_id=author_id)
    )


def first_review_at(reviews: Iterable[ReviewLike], *, author_id: int | None) -> datetime | None:
    """The earliest counted review's submission."""
    times = [r.submitted_at for r in reviews if review_counts(r, author_id=author_id)]
    return min((t for t in times if t is not None), default=None)


def first_approval_at(reviews: Iterable[ReviewLike], *, author_id: int | None) -> datetime | None:
    """The earliest counted approval's submission (the review phase ends there)."""
    times = [
        r.submitted_at
        for r in reviews
        if r.state == PRReview.State.APPROVED and review_counts(r, author_id=author_id)
    ]
    return min((t for t in times if t is not None), default=None)


def standing_approval_at(
    reviews: Iterable[ReviewLike], *, author_id: int | None
) -> datetime | None:
    """When the pull request's standing approval was given: each counted reviewer
    stands where their latest approval, request for changes or dismissed review
    left them; approved when one of them stands on an approval, since the latest
    such approval. None when no one does."""
    latest: dict[object, ReviewLike] = {}
    standing = (
        r
        for r in reviews
        if r.submitted_at is not None
        and r.state in STANDING_STATES
        and counted_reviewer(r, author_id=author_id)
    )
    for review in sorted(standing, key=lambda r: (r.submitted_at, r.github_id)):
        latest[review.reviewer_id if review.reviewer_id is not None else review.github_id] = review
    times = [r.submitted_at for r in latest.values() if r.state == PRReview.State.APPROVED]
    return max((t for t in times if t is not None), default=None)


def counted_reviewer_q(*, reviewer: str = "reviewer", author: str = "pull_request__author") -> Q:
    """`counted_reviewer` as a filter of reviews; ``reviewer`` and ``author`` are
    the paths from the queried model to the reviewer and to the pull request's
    author. (No `!=` across the join: `<` or `>`, which leave NULLs out.)"""
    human = Q(**{f"{reviewer}__isnull": True}) | Q(
        **{f"{reviewer}__is_bot": False, f"{reviewer}__is_deleted_account": False}
    )
    not_author = (
        Q(**{f"{author}__isnull": True})
        | Q(**{f"{reviewer}__isnull": True})
        | Q(**{f"{reviewer}_id__lt": F(f"{author}_id")})
        | Q(**{f"{reviewer}_id__gt": F(f"{author}_id")})
    )
    return human & not_author

"""The pull_request_review processor: reviews, and the first review they make."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from apps.integrations.models import Repository
from apps.metrics.models import PRReview, PullRequest, TeamMember
from apps.metrics.services.members import members_for_users
from apps.metrics.services.payloads import (
    ReviewSnapshot,
    SnapshotTime,
    read_pull_request,
    read_review,
)
from apps.metrics.services.pull_requests import (
    apply_pull_request_snapshot,
    lock_pull_request,
    retry_on_concurrent_creation,
)
from apps.teams.models import Team

# A review only moves forward: pending -> submitted (approved, changes requested,
# commented) -> dismissed. A late redelivery of "submitted" after the dismissal
# must not bring the review back.
_STATE_RANK: dict[str, int] = {PRReview.State.PENDING: 0, PRReview.State.DISMISSED: 2}
_SUBMITTED_RANK = 1
_NOT_COUNTED = {PRReview.State.PENDING, PRReview.State.DISMISSED}


def process_pull_request_review_event(
    *,
    team: Team,
    repository: Repository | None,
    payload: Mapping[str, Any],
    received_at: datetime | None = None,
) -> PRReview:
    """Create or update the review (submitted, edited, dismissed) and its pull request.

    A review that arrives before its pull request creates it from the review's
    embedded copy. `received_at` is when GitHub's delivery of the event was
    received (None for a REST read). Raises PayloadError when the review or the
    pull request cannot be identified."""
    review_snapshot = read_review(payload.get("review"))
    pr_snapshot = read_pull_request(payload.get("pull_request"))
    dismissed = payload.get("action") == "dismissed"
    # The payload was made after both its pull request's last update and the
    # review's submission (an edit or a dismissal comes later than the submission):
    # the later of the two is the best known time of the users it shows.
    known_times = (pr_snapshot.updated_at, review_snapshot.submitted_at)
    seen_at = max((moment for moment in known_times if moment is not None), default=None)
    pr_time = SnapshotTime(pr_snapshot.updated_at, received_at)

    def process() -> PRReview:
        with transaction.atomic():
            members = members_for_users(
                team=team,
                users=[pr_snapshot.author, review_snapshot.reviewer],
                seen=SnapshotTime(seen_at, received_at),
            )
            locked = lock_pull_request(team=team, snapshot=pr_snapshot)
            pull_request = locked.row
            apply_pull_request_snapshot(
                pull_request, pr_snapshot, time=pr_time, repository=repository, members=members
            )
            # All of this pull request's reviews (a handful, whatever the team's
            # size): the one to update is among them, and the first review needs them.
            reviews = [] if locked.created else list(_reviews_of(pull_request))
            review = next((r for r in reviews if r.github_id == review_snapshot.github_id), None)
            if review is None:
                review = PRReview(team=team, github_id=review_snapshot.github_id)
                reviews.append(review)
            changed = _apply_review(review, review_snapshot, dismissed=dismissed, members=members)
            pull_request.first_review_at = first_review_at(pull_request, reviews)
            locked.save()
            if review.pk is None:
                review.pull_request = pull_request
                review.save()
            elif changed:
                review.save(update_fields=[*changed, "updated_at"])
        return review

    return retry_on_concurrent_creation(process)


def _reviews_of(pull_request: PullRequest) -> QuerySet[PRReview]:
    return PRReview.objects.filter(pull_request=pull_request).select_related("reviewer")


def first_review_at(pull_request: PullRequest, reviews: Iterable[PRReview]) -> datetime | None:
    """The earliest submitted, not dismissed review by a human other than the author."""
    times = [
        review.submitted_at
        for review in reviews
        if review.submitted_at is not None
        and review.state not in _NOT_COUNTED
        and not (review.reviewer is not None and review.reviewer.is_bot)
        and (pull_request.author_id is None or review.reviewer_id != pull_request.author_id)
    ]
    return min(times, default=None)


def _apply_review(
    review: PRReview,
    snapshot: ReviewSnapshot,
    *,
    dismissed: bool,
    members: Mapping[int, TeamMember],
) -> list[str]:
    """Update the review in memory; the names of the fields that changed."""
    loaded = {
        "state": review.state,
        "submitted_at": review.submitted_at,
        "reviewer_id": review.reviewer_id,
    }
    state = str(PRReview.State.DISMISSED) if dismissed else _known_state(snapshot.state)
    if not review.state or _rank(state) >= _rank(review.state):
        review.state = state
    if snapshot.submitted_at is not None:
        review.submitted_at = snapshot.submitted_at
    if snapshot.reviewer is not None:
        review.reviewer = members[snapshot.reviewer.github_id]
    return [name for name, value in loaded.items() if getattr(review, name) != value]


def _known_state(state: str | None) -> str:
    # A state this code does not know (a newer GitHub, or none at all) still
    # records the review; it counts as a comment.
    if state is not None and state in PRReview.State.values:
        return state
    return str(PRReview.State.COMMENTED)


def _rank(state: str) -> int:
    return _STATE_RANK.get(state, _SUBMITTED_RANK)

"""The review kind of row: `PRReview`, keyed by team and GitHub's review id, read
from `pull_request_review` events.

A batch loads all the reviews of a pull request a review event is about (a
handful, whatever the team's size): the one to update is among them, and the
pull request's first review and first approval are derived from all of them
(`formulas.pull_request_reviews_derive`). A review's state only moves forward
(`_STATE_RANK`), so a late redelivery cannot undo a dismissal. A review
contributes to its pull request's lifecycle (first review, approved), which
the pull request kind reads from these reviews."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apps.common.bulk import update_rows
from apps.metrics.models import PRReview, TeamMember
from apps.metrics.repositories import RepositoryRecord
from apps.metrics.services.batches import Batch, Need, RowKind, changed_fields, tracked_values
from apps.metrics.services.formulas import pull_request_reviews_derive
from apps.metrics.services.members import MemberRows, Sighting, sighting_needs
from apps.metrics.services.payloads import (
    PullRequestSnapshot,
    RepositoryBlock,
    ReviewSnapshot,
    SnapshotTime,
    read_pull_request,
    read_repository_block,
    read_review,
)
from apps.metrics.services.pull_requests import (
    PullRequestRows,
    apply_pull_request_snapshot,
    pull_request_need,
)
from apps.teams.models import Team

# A review only moves forward: pending -> submitted (approved, changes requested,
# commented) -> dismissed. A late redelivery of "submitted" after the dismissal
# must not bring the review back.
_STATE_RANK: dict[str, int] = {PRReview.State.PENDING: 0, PRReview.State.DISMISSED: 2}
_SUBMITTED_RANK = 1


@dataclass(frozen=True)
class ReviewChange:
    """What a pull_request_review event says about a review and its pull request."""

    team: Team
    repository: RepositoryRecord | None
    pull_request: PullRequestSnapshot
    # When the embedded pull request was shown (its updated_at, the delivery's receipt).
    pull_request_time: SnapshotTime
    review: ReviewSnapshot
    dismissed: bool
    # When the users it shows were seen (see read_review_change).
    seen: SnapshotTime
    repository_block: RepositoryBlock | None = None

    def sightings(self) -> list[Sighting]:
        users = (self.pull_request.author, self.review.reviewer)
        return [(user, self.seen) for user in users if user is not None]

    def needs(self) -> list[Need]:
        return [
            pull_request_need(self.team, self.pull_request, self.repository),
            *sighting_needs(self.team, self.sightings()),
            # All of the pull request's reviews.
            Need(ReviewRows.name, self.team, self.pull_request.github_id),
        ]

    def apply(self, batch: Batch) -> PRReview:
        members = batch.kind(MemberRows).members(self.team, self.sightings())
        pull_request = batch.kind(PullRequestRows).row(self.team, self.pull_request)
        apply_pull_request_snapshot(
            pull_request,
            self.pull_request,
            time=self.pull_request_time,
            repository=self.repository,
            members=members,
            repository_block=self.repository_block,
        )
        # All of this pull request's reviews (a handful, whatever the team's size):
        # the one to update is among them, and the first review needs them.
        reviews = batch.kind(ReviewRows).of(self.team, self.pull_request)
        review = next((r for r in reviews if r.github_id == self.review.github_id), None)
        if review is None:
            review = PRReview(
                team=self.team, github_id=self.review.github_id, pull_request=pull_request
            )
            reviews.append(review)
        _apply_review(review, self.review, dismissed=self.dismissed, members=members)
        pull_request_reviews_derive(pull_request, reviews)
        return review


def read_review_change(
    *,
    team: Team,
    repository: RepositoryRecord | None,
    payload: Mapping[str, Any],
    received_at: datetime | None = None,
) -> ReviewChange:
    """Read a pull_request_review event (submitted, edited, dismissed). A review
    that arrives before its pull request creates it from the review's embedded
    copy. `received_at` is when GitHub's delivery of the event was received (None
    for a REST read). Raises PayloadError when the review or the pull request
    cannot be identified."""
    review = read_review(payload.get("review"))
    pull_request = read_pull_request(payload.get("pull_request"))
    # The payload was made after both its pull request's last update and the
    # review's submission (an edit or a dismissal comes later than the submission):
    # the later of the two is the best known time of the users it shows.
    known_times = (pull_request.updated_at, review.submitted_at)
    seen_at = max((moment for moment in known_times if moment is not None), default=None)
    return ReviewChange(
        team=team,
        repository=repository,
        pull_request=pull_request,
        pull_request_time=SnapshotTime(pull_request.updated_at, received_at),
        review=review,
        dismissed=payload.get("action") == "dismissed",
        seen=SnapshotTime(seen_at, received_at),
        repository_block=read_repository_block(payload.get("repository")),
    )


def _apply_review(
    review: PRReview,
    snapshot: ReviewSnapshot,
    *,
    dismissed: bool,
    members: Mapping[int, TeamMember],
) -> None:
    """Update the review in memory (the batch writes what changed)."""
    state = str(PRReview.State.DISMISSED) if dismissed else _known_state(snapshot.state)
    if not review.state or _rank(state) >= _rank(review.state):
        review.state = state
    if snapshot.submitted_at is not None:
        review.submitted_at = snapshot.submitted_at
    if snapshot.reviewer is not None:
        review.reviewer = members[snapshot.reviewer.github_id]


def _known_state(state: str | None) -> str:
    # A state this code does not know (a newer GitHub, or none at all) still
    # records the review; it counts as a comment.
    if state is not None and state in PRReview.State.values:
        return state
    return str(PRReview.State.COMMENTED)


def _rank(state: str) -> int:
    return _STATE_RANK.get(state, _SUBMITTED_RANK)


class ReviewRows(RowKind):
    """A batch's reviews: all those of the pull requests its review changes are about."""

    name = "review"
    model = PRReview
    readers = {"pull_request_review": read_review_change}

    def __init__(self, batch: Batch) -> None:
        super().__init__(batch)
        self._reviews: list[list[PRReview]] = []
        self._loaded: dict[int, dict[str, Any]] = {}

    def load(self, needs: Sequence[Need]) -> None:
        pull_requests = self.batch.kind(PullRequestRows)
        by_pk: dict[int, list[PRReview]] = {}
        for need in needs:
            tracked = pull_requests.tracked(need.team, need.github_id)
            if tracked.reviews is not None:
                continue
            tracked.reviews = [] if tracked.created else by_pk.setdefault(tracked.row.pk, [])
            self._reviews.append(tracked.reviews)
        if not by_pk:
            return
        # One object per person: a sighting applied in memory (a login, the bot
        # flag) shows on the reviews of the pull requests it reviewed too.
        members = self.batch.kind(MemberRows).loaded()
        for review in PRReview.objects.filter(pull_request_id__in=by_pk).select_related("reviewer"):
            if review.reviewer_id in members:
                review.reviewer = members[review.reviewer_id]
            by_pk[review.pull_request_id].append(review)
            self._loaded[review.pk] = tracked_values(review)

    def of(self, team: Team, snapshot: PullRequestSnapshot) -> list[PRReview]:
        """The pull request's reviews; a review added to the list is inserted on save."""
        reviews = self.batch.kind(PullRequestRows).tracked(team, snapshot.github_id).reviews
        if reviews is None:
            raise LookupError("a review change needs its pull request's reviews loaded")
        return reviews

    @classmethod
    def refusals(cls, changes: Sequence[object]) -> dict[int, str]:
        return reviews_claimed_elsewhere(changes)

    def save(self) -> None:
        reviews = [review for reviews in self._reviews for review in reviews]
        new = [review for review in reviews if review.pk is None]
        if new:
            PRReview.objects.bulk_create(new)
        changed, fields = changed_fields(
            (review, self._loaded[review.pk]) for review in reviews if review.pk in self._loaded
        )
        update_rows(model=PRReview, rows=changed, fields=fields)


def reviews_claimed_elsewhere(changes: Sequence[object]) -> dict[int, str]:
    """The changes (by index) whose review is stored on another pull request of
    its team, or claimed by an earlier change of the list for another one, each
    with the reason. A review belongs to one pull request for good (GitHub's
    review ids are unique): such a change can never be applied, however often
    it is tried (the database's unique review per team refuses it)."""
    reviews = [
        (index, change) for index, change in enumerate(changes) if isinstance(change, ReviewChange)
    ]
    if not reviews:
        return {}
    stored = PRReview.objects.filter(
        team_id__in={change.team.pk for _, change in reviews},
        github_id__in={change.review.github_id for _, change in reviews},
    ).values_list("team_id", "github_id", "pull_request__github_id", "pull_request__number")
    owners: dict[tuple[int, int], tuple[int, int | None]] = {
        (team_id, github_id): (pull_request_id, number)
        for team_id, github_id, pull_request_id, number in stored
    }
    refused: dict[int, str] = {}
    for index, change in reviews:
        key = (change.team.pk, change.review.github_id)
        owner = owners.setdefault(key, (change.pull_request.github_id, change.pull_request.number))
        if owner[0] != change.pull_request.github_id:
            refused[index] = (
                f"review {change.review.github_id} belongs to another pull request "
                f"(#{owner[1]}), not to #{change.pull_request.number}"
            )
    return refused

"""The pull_request processor, and the snapshot rules the review processor shares.

Every source of pull request data (webhooks, the copy embedded in review events,
backfill's REST items) is read into a change and applied through `batches`, by
`apply_pull_request_snapshot`, so the ordering rules live in one place:

- the row is locked (SELECT ... FOR UPDATE) while its batch is applied, so
  concurrent workers on the same pull request apply their events one after the other;
- a snapshot older than the stored one (GitHub's `updated_at`, then the receipt
  time of its delivery: see `is_not_older`) changes nothing, except fields the
  stored snapshots never carried (see `OWN_CLOCK_FIELDS`);
- everything derived (state, durations, revert and hotfix flags) is computed from
  the resulting row, never accumulated, so repeats and reorderings converge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from apps.metrics.models import PullRequest, TeamMember
from apps.metrics.services.batches import Batch
from apps.metrics.services.members import Sighting
from apps.metrics.services.payloads import (
    PullRequestSnapshot,
    RepositoryBlock,
    RevertReference,
    SnapshotTime,
    is_hotfix,
    is_not_older,
    is_revert_title,
    read_pull_request,
    read_repository_block,
    revert_reference,
)
from apps.teams.models import Team

if TYPE_CHECKING:
    # Annotations only: apps.metrics never imports apps.integrations at run time.
    from apps.integrations.models import Repository


@dataclass(frozen=True)
class SnapshotClock:
    """The PullRequest fields holding the time of the snapshot some fields came from."""

    updated_at: str
    received_at: str

    def read(self, row: PullRequest) -> SnapshotTime:
        return SnapshotTime(getattr(row, self.updated_at), getattr(row, self.received_at))

    def advance(self, row: PullRequest, time: SnapshotTime) -> None:
        # An undated snapshot may fill fields in, but cannot date them.
        if time.updated_at is not None:
            setattr(row, self.updated_at, time.updated_at)
            setattr(row, self.received_at, time.received_at)


SNAPSHOT_CLOCK = SnapshotClock("pr_updated_at", "pr_received_at")
_SIZE_CLOCK = SnapshotClock("size_snapshot_at", "size_received_at")
# Fields that partial copies (review events, REST list items) may lack, each with
# the clock of the snapshot it last came from.
OWN_CLOCK_FIELDS = {
    "is_draft": SnapshotClock("draft_snapshot_at", "draft_received_at"),
    "additions": _SIZE_CLOCK,
    "deletions": _SIZE_CLOCK,
}


@dataclass(frozen=True)
class PullRequestChange:
    """What a pull_request event (or a REST item) says about its pull request."""

    team: Team
    repository: Repository | None
    pull_request: PullRequestSnapshot
    time: SnapshotTime
    ready_for_review: bool = False
    # The event's own repository block: a revert naming it reverts in it.
    repository_block: RepositoryBlock | None = None
    wants_reviews: ClassVar[bool] = False

    def sightings(self) -> list[Sighting]:
        author = self.pull_request.author
        return [(author, self.time)] if author is not None else []

    def apply(self, batch: Batch) -> PullRequest:
        row = batch.pull_request(self.team, self.pull_request)
        apply_pull_request_snapshot(
            row,
            self.pull_request,
            time=self.time,
            repository=self.repository,
            members=batch.members(self.team, self.sightings()),
            repository_block=self.repository_block,
        )
        if self.ready_for_review:
            _mark_ready_for_review(row, self.pull_request.updated_at)
        return row


def read_pull_request_change(
    *,
    team: Team,
    repository: Repository | None,
    payload: Mapping[str, Any],
    received_at: datetime | None = None,
) -> PullRequestChange:
    """Read a pull_request event (any action), or backfill's {"action": "backfill",
    "pull_request": <REST item>}. `received_at` is when GitHub's delivery of the
    event was received (None for a REST read). Raises PayloadError when the pull
    request cannot be identified."""
    snapshot = read_pull_request(payload.get("pull_request"))
    return PullRequestChange(
        team=team,
        repository=repository,
        pull_request=snapshot,
        time=SnapshotTime(snapshot.updated_at, received_at),
        ready_for_review=payload.get("action") == "ready_for_review",
        repository_block=read_repository_block(payload.get("repository")),
    )


def apply_pull_request_snapshot(
    row: PullRequest,
    snapshot: PullRequestSnapshot,
    *,
    time: SnapshotTime,
    repository: Repository | None,
    members: Mapping[int, TeamMember],
    repository_block: RepositoryBlock | None = None,
) -> None:
    """Bring the row up to date with the snapshot taken at `time`, in memory, by the
    ordering rules."""
    if repository is not None:
        row.repository = repository
        row.repository_github_id = repository.github_id
    row.number = snapshot.number
    newer = is_not_older(time, SNAPSHOT_CLOCK.read(row))
    for name, value in snapshot.fields.items():
        clock = OWN_CLOCK_FIELDS.get(name)
        if clock is None and newer:
            setattr(row, name, value)
        elif clock is not None and is_not_older(time, clock.read(row)):
            setattr(row, name, value)
            clock.advance(row, time)
    if not newer:
        return
    if snapshot.author is not None:
        row.author = members[snapshot.author.github_id]
    SNAPSHOT_CLOCK.advance(row, time)
    row.is_hotfix = is_hotfix(title=row.title, labels=row.labels, head_branch=row.head_branch)
    _refresh_revert(row, body=snapshot.body, repository_block=repository_block)


def _named_repository_github_id(
    row: PullRequest, full_name: str, repository_block: RepositoryBlock | None
) -> int | None:
    """GitHub's id of the repository a revert names, when the event tells: no
    name is the revert's own repository, and so is the name its event's
    repository block has (GitHub's revert button writes the current name, which
    may be newer than any recorded here). None: to be found by name."""
    if not full_name:
        return row.repository_github_id
    if repository_block is not None and repository_block.full_name.lower() == full_name.lower():
        return repository_block.github_id
    return None


def _mark_ready_for_review(row: PullRequest, moment: datetime | None) -> None:
    # A pull request can go back to draft and be made ready again; the latest
    # time counts (the review phase starts then), whatever order events came in.
    if moment is not None and (row.ready_for_review_at is None or moment > row.ready_for_review_at):
        row.ready_for_review_at = moment


def _refresh_revert(
    row: PullRequest, *, body: str | None, repository_block: RepositoryBlock | None
) -> None:
    if body is None and row.reverts_number is not None:
        # This copy has no body: keep what an earlier body said.
        reference: RevertReference | None = RevertReference(
            number=row.reverts_number, repository_full_name=row.reverts_repository_full_name
        )
    else:
        reference = revert_reference(title=row.title, head_branch=row.head_branch, body=body or "")
    number = reference.number if reference else None
    full_name = reference.repository_full_name if reference else ""
    named_github_id = _named_repository_github_id(row, full_name, repository_block)
    if (number, full_name) != (row.reverts_number, row.reverts_repository_full_name):
        row.reverts = None
        row.reverts_repository_github_id = named_github_id if number is not None else None
    elif named_github_id is not None and named_github_id != row.reverts_repository_github_id:
        # The same words, now known to name this repository (by its id).
        row.reverts = None
        row.reverts_repository_github_id = named_github_id
    row.reverts_number, row.reverts_repository_full_name = number, full_name
    row.is_revert = is_revert_title(row.title) or reference is not None

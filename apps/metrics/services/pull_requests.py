"""The pull_request processor, and the pull request upsert the review processor shares.

Every source of pull request data (webhooks, the copy embedded in review events,
backfill's REST items) goes through `lock_pull_request` -> `apply_pull_request_snapshot`
-> `LockedPullRequest.save`, so the ordering rules live in one place:

- the row is locked (SELECT ... FOR UPDATE) for the whole event, so concurrent
  workers on the same pull request apply their events one after the other;
- a snapshot older than the stored one (GitHub's `updated_at`, then the receipt
  time of its delivery: see `is_not_older`) changes nothing, except fields the
  stored snapshots never carried (see `OWN_CLOCK_FIELDS`);
- everything derived (state, durations, revert and hotfix flags) is computed from
  the resulting row, never accumulated, so repeats and reorderings converge.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from django.db import transaction
from django.db.models import Q

from apps.integrations.models import Repository
from apps.metrics.models import PullRequest, TeamMember
from apps.metrics.services.members import members_for_users
from apps.metrics.services.payloads import (
    PullRequestSnapshot,
    RevertReference,
    SnapshotTime,
    is_hotfix,
    is_not_older,
    is_revert_title,
    read_pull_request,
    revert_reference,
)
from apps.teams.models import Team


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
_UNTRACKED = {"id", "created_at", "updated_at"}
T = TypeVar("T")


def process_pull_request_event(
    *,
    team: Team,
    repository: Repository | None,
    payload: Mapping[str, Any],
    received_at: datetime | None = None,
) -> PullRequest:
    """Create or update the team's pull request from a pull_request event.

    Works for every action, and for backfill ({"action": "backfill", "pull_request":
    <REST item>}). `received_at` is when GitHub's delivery of the event was received
    (None for a REST read). Raises PayloadError when the pull request cannot be
    identified."""
    snapshot = read_pull_request(payload.get("pull_request"))
    time = SnapshotTime(snapshot.updated_at, received_at)
    ready_for_review = payload.get("action") == "ready_for_review"

    def process() -> PullRequest:
        with transaction.atomic():
            members = members_for_users(team=team, users=[snapshot.author], seen=time)
            locked = lock_pull_request(team=team, snapshot=snapshot)
            apply_pull_request_snapshot(
                locked.row, snapshot, time=time, repository=repository, members=members
            )
            if ready_for_review:
                _mark_ready_for_review(locked.row, snapshot.updated_at)
            locked.save()
        return locked.row

    return retry_on_concurrent_creation(process)


class ConcurrentCreation(Exception):
    """Another worker created the same pull request first; run the event again."""


def retry_on_concurrent_creation(process: Callable[[], T]) -> T:
    try:
        return process()
    except ConcurrentCreation:
        # The other worker's row is committed now: the second run updates it.
        return process()


@dataclass
class LockedPullRequest:
    """A pull request row locked for this event (or a new one, not yet inserted),
    with its values as loaded."""

    row: PullRequest
    created: bool
    loaded: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.loaded = _tracked_values(self.row)

    def save(self) -> None:
        """Write what changed (nothing if nothing did) and settle revert links."""
        row = self.row
        row.cycle_time_hours = _hours_between(row.pr_created_at, row.merged_at)
        row.review_time_hours = _hours_between(row.pr_created_at, row.first_review_at)
        if row.reverts_number is not None and row.reverts_id is None:
            row.reverts = _reverted_pull_request(row)
        if self.created:
            _insert(row)
        else:
            changed = [
                name for name, value in _tracked_values(row).items() if self.loaded[name] != value
            ]
            if changed:
                row.save(update_fields=[*changed, "updated_at"])
        if self.created or self.loaded["repository_id"] != row.repository_id:
            _link_reverts_waiting_for(row)
        self.created, self.loaded = False, _tracked_values(row)


def lock_pull_request(*, team: Team, snapshot: PullRequestSnapshot) -> LockedPullRequest:
    """The team's row for this pull request, locked; a new unsaved one if unknown."""
    try:
        row = PullRequest.objects.select_for_update().get(team=team, github_id=snapshot.github_id)
    except PullRequest.DoesNotExist:
        pass
    else:
        return LockedPullRequest(row=row, created=False)
    return LockedPullRequest(
        row=PullRequest(team=team, github_id=snapshot.github_id, number=snapshot.number),
        created=True,
    )


def _insert(row: PullRequest) -> None:
    # Insert-or-nothing, so that a race with another worker creating the same
    # pull request does not abort our transaction; the row read back is ours
    # if it carries our creation time (to the microsecond), else theirs.
    PullRequest.objects.bulk_create([row], ignore_conflicts=True)
    stored = PullRequest.objects.select_for_update().get(
        team_id=row.team_id, github_id=row.github_id
    )
    if stored.created_at != row.created_at:
        raise ConcurrentCreation
    row.pk = stored.pk


def apply_pull_request_snapshot(
    row: PullRequest,
    snapshot: PullRequestSnapshot,
    *,
    time: SnapshotTime,
    repository: Repository | None,
    members: Mapping[int, TeamMember],
) -> None:
    """Bring the row up to date with the snapshot taken at `time`, in memory, by the
    ordering rules."""
    if repository is not None:
        row.repository = repository
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
    _refresh_revert(row, body=snapshot.body)


def _mark_ready_for_review(row: PullRequest, moment: datetime | None) -> None:
    # A pull request can go back to draft and be made ready again; the latest
    # time counts (the review phase starts then), whatever order events came in.
    if moment is not None and (row.ready_for_review_at is None or moment > row.ready_for_review_at):
        row.ready_for_review_at = moment


def _refresh_revert(row: PullRequest, *, body: str | None) -> None:
    if body is None and row.reverts_number is not None:
        # This copy has no body: keep what an earlier body said.
        reference: RevertReference | None = RevertReference(
            number=row.reverts_number, repository_full_name=row.reverts_repository_full_name
        )
    else:
        reference = revert_reference(title=row.title, head_branch=row.head_branch, body=body or "")
    number = reference.number if reference else None
    full_name = reference.repository_full_name if reference else ""
    if (number, full_name) != (row.reverts_number, row.reverts_repository_full_name):
        row.reverts = None
    row.reverts_number, row.reverts_repository_full_name = number, full_name
    row.is_revert = is_revert_title(row.title) or reference is not None


def _reverted_pull_request(row: PullRequest) -> PullRequest | None:
    """The pull request this revert names, if the team has it (by number, never by title)."""
    candidates = PullRequest.objects.filter(team_id=row.team_id, number=row.reverts_number)
    if row.reverts_repository_full_name:
        candidates = candidates.filter(
            repository__full_name__iexact=row.reverts_repository_full_name
        )
    elif row.repository_id is not None:
        candidates = candidates.filter(repository_id=row.repository_id)
    else:
        # Numbers repeat across repositories: without one, a link would be a guess.
        return None
    return candidates.exclude(pk=row.pk).first()


def _link_reverts_waiting_for(row: PullRequest) -> None:
    """Link the reverts that arrived before the pull request they revert."""
    if row.repository_id is None:
        return
    same_repository = Q(reverts_repository_full_name="", repository_id=row.repository_id)
    named = Q(reverts_repository_full_name__iexact=row.repository.full_name)
    PullRequest.objects.filter(
        team_id=row.team_id, reverts_number=row.number, reverts__isnull=True
    ).filter(same_repository | named).exclude(pk=row.pk).update(reverts=row)


def _hours_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds() / 3600


def _tracked_values(row: PullRequest) -> dict[str, Any]:
    return {
        f.attname: getattr(row, f.attname)
        for f in PullRequest._meta.concrete_fields
        if f.name not in _UNTRACKED
    }

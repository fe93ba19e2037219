"""The pull request kind of row: `PullRequest`, keyed by team and GitHub's pull
request id, read from `pull_request` events, and the snapshot rules the review
kind shares (a review event embeds a copy of its pull request).

Every source of pull request data (webhooks, the copy embedded in review events,
history's GraphQL nodes shaped as webhooks) is read into a change and applied
through the batch, by `apply_pull_request_snapshot`, so the ordering rules live
in one place:

- the row is locked (SELECT ... FOR UPDATE) while its batch is applied, so
  concurrent workers on the same pull request apply their events one after the other;
- a snapshot older than the stored one (GitHub's `updated_at`, then the receipt
  time of its delivery: see `is_not_older`) changes nothing, except fields the
  stored snapshots never carried (see `OWN_CLOCK_FIELDS`);
- everything derived (state, durations, revert and hotfix flags) is computed from
  the resulting row as it is saved (`formulas`), never accumulated, so repeats
  and reorderings converge.

Its lifecycle transitions (opened, ready for review, first review, approved,
merged, closed, reopened, reverted) are read from its state before and after each
change (`lifecycle_state`), and from the reverts its save links.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from apps.common.bulk import update_rows
from apps.metrics.models import PRReview, PullRequest, PullRequestEvent, TeamMember
from apps.metrics.repositories import RepositoryRecord, repository_assign
from apps.metrics.services.batches import (
    Batch,
    Change,
    ConcurrentCreation,
    Need,
    OneAtATime,
    RowKind,
    Watcher,
    changed_fields,
    tracked_values,
)
from apps.metrics.services.durations import Calendar, team_calendars
from apps.metrics.services.formulas import pull_request_derive
from apps.metrics.services.lifecycle import (
    NOT_STORED,
    LifecycleState,
    Transition,
    is_live,
    lifecycle_state,
    transitions_between,
)
from apps.metrics.services.members import MemberRows, Sighting, sighting_needs
from apps.metrics.services.payloads import (
    PullRequestSnapshot,
    RepositoryBlock,
    RevertReference,
    SnapshotTime,
    is_not_older,
    read_pull_request,
    read_repository_block,
    revert_reference,
)
from apps.metrics.services.reverts import reverted_pull_request, reverts_link_waiting
from apps.teams.models import Team

# A body is kept up to this many characters (its marker lines are near the top
# or the bottom; a pasted log need not be kept whole).
MAX_BODY = 20_000


class PullRequestNotStored(Exception):
    """The database skipped a new pull request's row (SQLite's insert-or-ignore
    does so for a row that breaks a constraint)."""


def pull_request_need(
    team: Team, snapshot: PullRequestSnapshot, repository: RepositoryRecord | None
) -> Need:
    """What a change about this pull request needs loaded: a new row starts with
    its number; the repository the change puts it in tells a move."""
    seed = (snapshot.number, repository.pk if repository is not None else None)
    return Need(PullRequestRows.name, team, snapshot.github_id, seed)


@dataclass
class TrackedPullRequest:
    """A batch's pull request row, and what the batch knows of it."""

    row: PullRequest
    created: bool
    loaded: dict[str, Any]
    loaded_repository_id: int | None
    # What a revert was linked to, and when merged, before the batch.
    loaded_revert: tuple[int | None, Any]
    # All of its reviews, when a change of the batch needs them (the review kind
    # loads them); None when the batch does not know them.
    reviews: list[PRReview] | None = None
    # Its lifecycle state after the changes applied so far (None: none yet),
    # and the source and repository of the last change applied to it.
    lifecycle: LifecycleState | None = None
    source: str = ""
    repository: RepositoryRecord | None = None
    # (kind, when) of the transitions its changes made, with their source and repository.
    moved: list[tuple[str, Any, str, RepositoryRecord | None]] = field(default_factory=list)


def _transition(
    row: PullRequest,
    pull_request_id: int,
    kind: str,
    at: Any,
    source: str,
    repository: RepositoryRecord | None,
) -> Transition:
    return Transition(
        team_id=row.team_id,
        pull_request_id=pull_request_id,
        kind=kind,
        occurred_at=at,
        source=source,
        live=is_live(source=source, occurred_at=at, repository=repository),
    )


def _insert(rows: list[PullRequest]) -> None:
    # Insert-or-nothing, so that a race with another worker creating the same
    # pull request does not abort our transaction; a row read back is ours if it
    # carries our creation time (to the microsecond), else theirs.
    PullRequest.objects.bulk_create(rows, ignore_conflicts=True)
    for team_id in sorted({row.team_id for row in rows}):
        ours = {row.github_id: row for row in rows if row.team_id == team_id}
        stored = (
            PullRequest.objects.select_for_update()
            .filter(team_id=team_id, github_id__in=ours)
            .values_list("github_id", "pk", "created_at")
        )
        for github_id, pk, created_at in stored:
            if created_at != ours[github_id].created_at:
                raise ConcurrentCreation
            ours[github_id].pk = pk
    # SQLite's insert-or-ignore also skips a row that breaks a CHECK constraint.
    if missing := [row.github_id for row in rows if row.pk is None]:
        raise PullRequestNotStored(f"pull requests {missing} could not be stored")


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
    repository: RepositoryRecord | None
    pull_request: PullRequestSnapshot
    time: SnapshotTime
    ready_for_review: bool = False
    # The event's own repository block: a revert naming it reverts in it.
    repository_block: RepositoryBlock | None = None

    def sightings(self) -> list[Sighting]:
        author = self.pull_request.author
        return [(author, self.time)] if author is not None else []

    def needs(self) -> list[Need]:
        return [
            pull_request_need(self.team, self.pull_request, self.repository),
            *sighting_needs(self.team, self.sightings()),
        ]

    def apply(self, batch: Batch) -> PullRequest:
        row = batch.kind(PullRequestRows).row(self.team, self.pull_request)
        apply_pull_request_snapshot(
            row,
            self.pull_request,
            time=self.time,
            repository=self.repository,
            members=batch.kind(MemberRows).members(self.team, self.sightings()),
            repository_block=self.repository_block,
        )
        if self.ready_for_review:
            _mark_ready_for_review(row, self.pull_request.updated_at)
        return row


def read_pull_request_change(
    *,
    team: Team,
    repository: RepositoryRecord | None,
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
    repository: RepositoryRecord | None,
    members: Mapping[int, TeamMember],
    repository_block: RepositoryBlock | None = None,
) -> None:
    """Bring the row up to date with the snapshot taken at `time`, in memory, by the
    ordering rules."""
    if repository is not None:
        repository_assign(row, repository)
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
    if snapshot.author is not None:
        member = members[snapshot.author.github_id]
        # An older snapshot leaves the author as it is; one naming the same
        # person still hands the row the member (the AI signals read its login:
        # otherwise a query per pull request).
        if newer or (member.pk is not None and row.author_id == member.pk):
            row.author = member
    if not newer:
        return
    SNAPSHOT_CLOCK.advance(row, time)
    if snapshot.body is not None:
        # Kept for the AI signals' marker lines (services/ai_signals.py).
        row.body = snapshot.body[:MAX_BODY]
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


class PullRequestRows(RowKind):
    """A batch's pull requests, locked by team and GitHub id."""

    name = "pull_request"
    model = PullRequest
    readers = {"pull_request": read_pull_request_change}

    def __init__(self, batch: Batch) -> None:
        super().__init__(batch)
        self._tracked: dict[tuple[int, int], TrackedPullRequest] = {}
        # Reverts the save linked: pull request pk -> when its merged reverts were merged.
        self._linked: dict[int, list[Any]] = {}

    # --- loading -----------------------------------------------------------------

    def load(self, needs: Sequence[Need]) -> None:
        teams = sorted({need.team.pk: need.team for need in needs}.items())
        for team_id, team in teams:
            numbers = {need.github_id: need.seed[0] for need in needs if need.team.pk == team_id}
            self._lock(team, numbers)
        if self.batch.size > 1:
            self._refuse_moves(needs)

    def _lock(self, team: Team, numbers: dict[int, int]) -> None:
        # ORDER BY under FOR UPDATE: the rows are locked in that order.
        locked = (
            PullRequest.objects.select_for_update()
            .filter(team=team, github_id__in=numbers)
            .order_by("github_id")
        )
        for row in locked:
            self._track(row, created=False)
        for github_id in sorted(numbers.keys() - {row.github_id for row in locked}):
            row = PullRequest(team=team, github_id=github_id, number=numbers[github_id])
            self._track(row, created=True)

    def _track(self, row: PullRequest, *, created: bool) -> None:
        self._tracked[(row.team_id, row.github_id)] = TrackedPullRequest(
            row=row,
            created=created,
            loaded=tracked_values(row),
            loaded_repository_id=row.repository_id,
            loaded_revert=(row.reverts_id, row.merged_at),
        )

    def _refuse_moves(self, needs: Sequence[Need]) -> None:
        """Raise OneAtATime when a pull request moves between repositories in
        the batch: which pull request a revert names, and which reverts wait for
        a pull request, depend on where it is at each change (rare enough to
        leave to one change at a time)."""
        seen: dict[tuple[int, int], set[int | None]] = {}
        for need in needs:
            repository_id = need.seed[1]
            if repository_id is None:
                continue
            key = (need.team.pk, need.github_id)
            tracked = self._tracked[key]
            start = set() if tracked.created else {tracked.loaded_repository_id}
            seen.setdefault(key, start).add(repository_id)
        if any(len(repositories) > 1 for repositories in seen.values()):
            raise OneAtATime

    # --- what changes read and update -----------------------------------------------

    def tracked(self, team: Team, github_id: int) -> TrackedPullRequest:
        return self._tracked[(team.pk, github_id)]

    def every_tracked(self) -> list[TrackedPullRequest]:
        """Every pull request the batch holds (loaded or new)."""
        return list(self._tracked.values())

    def row(self, team: Team, snapshot: PullRequestSnapshot) -> PullRequest:
        """The team's row for this pull request: locked, or new and not yet inserted."""
        return self._tracked[(team.pk, snapshot.github_id)].row

    def watch(self, change: Change) -> Watcher | None:
        keys = [(n.team.pk, n.github_id) for n in change.needs() if n.kind == self.name]
        if not keys:
            return None
        befores = []
        for key in keys:
            tracked = self._tracked[key]
            before = tracked.lifecycle
            if before is None:
                before = (
                    NOT_STORED
                    if tracked.created
                    else lifecycle_state(tracked.row, reviews=tracked.reviews, approved_at=None)
                )
            befores.append((tracked, before))

        def after(source: str) -> None:
            for tracked, before in befores:
                state = lifecycle_state(
                    tracked.row, reviews=tracked.reviews, approved_at=before.approved_at
                )
                for kind, at in transitions_between(before, state):
                    tracked.moved.append((kind, at, source, change.repository))
                tracked.lifecycle, tracked.source = state, source
                if change.repository is not None:
                    tracked.repository = change.repository

        return after

    # --- writing ---------------------------------------------------------------------

    def save(self) -> None:
        tracked = [self._tracked[key] for key in sorted(self._tracked)]
        calendars: dict[int, dict[str, Calendar]] = {}
        for item in tracked:
            row = item.row
            if row.team_id not in calendars:
                calendars[row.team_id] = team_calendars(row.team)
            pull_request_derive(row, calendars=calendars[row.team_id])
            if row.reverts_number is not None and row.reverts_id is None:
                row.reverts = reverted_pull_request(row)
        created = [item for item in tracked if item.created]
        if created:
            _insert([item.row for item in created])
            for item in created:
                item.loaded = tracked_values(item.row)
        changed, fields = changed_fields((item.row, item.loaded) for item in tracked)
        update_rows(model=PullRequest, rows=changed, fields=fields)
        arrived = [
            item.row
            for item in tracked
            if item.created or item.loaded_repository_id != item.row.repository_id
        ]
        self._linked = reverts_link_waiting(arrived)
        if self._linked:
            self._refresh_waiting_reverts()

    def _refresh_waiting_reverts(self) -> None:
        """Reverts of this batch left waiting may have just been linked to a pull
        request that arrived in it: the rows this batch returns say so too."""
        waiting = {
            item.row.pk: item.row
            for item in self._tracked.values()
            if item.row.reverts_number is not None and item.row.reverts_id is None
        }
        if not waiting:
            return
        for pk, reverts_id in PullRequest.objects.filter(pk__in=waiting).values_list(
            "pk", "reverts_id"
        ):
            waiting[pk].reverts_id = reverts_id

    def transitions(self) -> list[Transition]:
        """The transitions the changes made, the rows stored (so with their ids):
        those noted change by change, and the reverts the save linked."""
        transitions = []
        for item in (self._tracked[key] for key in sorted(self._tracked)):
            row = item.row
            for kind, at, source, repository in item.moved:
                transitions.append(_transition(row, row.pk, kind, at, source, repository))
            # A merged revert reverted what it links: when it was merged, or
            # when linked to it (either may come first).
            was_linked, was_merged = item.loaded_revert
            if (
                row.reverts_id is not None
                and row.merged_at is not None
                and (was_linked != row.reverts_id or was_merged is None)
            ):
                transitions.append(
                    _transition(
                        row,
                        row.reverts_id,
                        PullRequestEvent.Kind.REVERTED,
                        row.merged_at,
                        item.source,
                        item.repository,
                    )
                )
            for merged_at in self._linked.get(row.pk, []):
                # Reverts that came first, linked to this pull request as it arrived.
                transitions.append(
                    _transition(
                        row,
                        row.pk,
                        PullRequestEvent.Kind.REVERTED,
                        merged_at,
                        item.source,
                        item.repository,
                    )
                )
        return transitions

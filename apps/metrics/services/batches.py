"""Applying pull request and review events together: the processors' one write path.

A batch loads what its events need in a few queries (the members they show, their
pull requests, locked, and those pull requests' reviews), applies every event to
those rows in memory, in order, then writes what changed: a handful of
statements per batch instead of several per event. One event is a batch of one,
so the processors, the webhook drain, replay and backfill all write through here.

Rows are locked in one order (each team's members by GitHub id, then each team's
pull requests by GitHub id, teams by id), so two workers' batches wait for each
other rather than deadlock; a pull request new to both is the exception, settled
by `ConcurrentCreation`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from django.db import transaction

from apps.common.bulk import update_rows
from apps.metrics.models import PRReview, PullRequest, TeamMember
from apps.metrics.services.members import Sighting, members_for_sightings
from apps.metrics.services.payloads import PullRequestSnapshot
from apps.teams.models import Team

_UNTRACKED = {"id", "created_at", "updated_at"}


class Change(Protocol):
    """What one event says, read from its payload (see `read_pull_request_change`
    and `read_review_change`), ready to be applied to a batch's rows."""

    @property
    def team(self) -> Team: ...

    @property
    def pull_request(self) -> PullRequestSnapshot: ...

    # Whether applying it needs the pull request's reviews.
    wants_reviews: bool

    def sightings(self) -> list[Sighting]: ...

    def apply(self, batch: Batch) -> object: ...


class ConcurrentCreation(Exception):
    """Another worker created one of the batch's pull requests first; apply again."""


class PullRequestNotStored(Exception):
    pass


def apply_changes(changes: Sequence[Change]) -> list[object]:
    """Apply the changes in order, in one transaction (a savepoint inside the
    caller's); the row or review each one made or updated, in order."""

    def apply_once() -> list[object]:
        with transaction.atomic():
            batch = Batch.load(changes)
            results = [change.apply(batch) for change in changes]
            batch.save()
        return results

    try:
        return apply_once()
    except ConcurrentCreation:
        # The other worker's rows are committed now: the second run updates them.
        return apply_once()


@dataclass
class _TrackedPullRequest:
    row: PullRequest
    created: bool
    loaded: dict[str, Any]
    loaded_repository_id: int | None


class Batch:
    """The rows a batch of changes reads and writes, loaded once and saved once."""

    def __init__(self) -> None:
        self._members: dict[int, dict[int, TeamMember]] = {}
        self._pull_requests: dict[tuple[int, int], _TrackedPullRequest] = {}
        self._reviews: dict[tuple[int, int], list[PRReview]] = {}
        self._changed_reviews: dict[int, tuple[PRReview, set[str]]] = {}

    @classmethod
    def load(cls, changes: Sequence[Change]) -> Batch:
        batch = cls()
        teams = sorted({change.team.pk: change.team for change in changes}.items())
        for team_id, team in teams:
            batch._members[team_id] = members_for_sightings(
                team=team,
                sightings=[s for c in changes if c.team.pk == team_id for s in c.sightings()],
            )
        for team_id, team in teams:
            snapshots = {
                c.pull_request.github_id: c.pull_request for c in changes if c.team.pk == team_id
            }
            batch._lock_pull_requests(team, snapshots)
        batch._load_reviews(changes)
        return batch

    def _lock_pull_requests(self, team: Team, snapshots: dict[int, PullRequestSnapshot]) -> None:
        # ORDER BY under FOR UPDATE: the rows are locked in that order.
        locked = (
            PullRequest.objects.select_for_update()
            .filter(team=team, github_id__in=snapshots)
            .order_by("github_id")
        )
        for row in locked:
            self._track(row, created=False)
        for github_id in sorted(snapshots.keys() - {row.github_id for row in locked}):
            row = PullRequest(team=team, github_id=github_id, number=snapshots[github_id].number)
            self._track(row, created=True)

    def _track(self, row: PullRequest, *, created: bool) -> None:
        self._pull_requests[(row.team_id, row.github_id)] = _TrackedPullRequest(
            row=row,
            created=created,
            loaded=_tracked_values(row),
            loaded_repository_id=row.repository_id,
        )

    def _load_reviews(self, changes: Sequence[Change]) -> None:
        wanted = {(c.team.pk, c.pull_request.github_id) for c in changes if c.wants_reviews}
        by_pk: dict[int, list[PRReview]] = {}
        for key in wanted:
            tracked = self._pull_requests[key]
            self._reviews[key] = [] if tracked.created else by_pk.setdefault(tracked.row.pk, [])
        if by_pk:
            for review in PRReview.objects.filter(pull_request_id__in=by_pk).select_related(
                "reviewer"
            ):
                by_pk[review.pull_request_id].append(review)

    # --- what changes read and update ------------------------------------------

    def members(self, team: Team) -> dict[int, TeamMember]:
        return self._members[team.pk]

    def pull_request(self, team: Team, snapshot: PullRequestSnapshot) -> PullRequest:
        """The team's row for this pull request: locked, or new and not yet inserted."""
        return self._pull_requests[(team.pk, snapshot.github_id)].row

    def reviews(self, team: Team, snapshot: PullRequestSnapshot) -> list[PRReview]:
        """The pull request's reviews; a review added to the list is inserted on save."""
        return self._reviews[(team.pk, snapshot.github_id)]

    def review_changed(self, review: PRReview, fields: list[str]) -> None:
        if review.pk is not None and fields:
            _, changed = self._changed_reviews.setdefault(id(review), (review, set()))
            changed.update(fields)

    # --- writing -------------------------------------------------------------------

    def save(self) -> None:
        tracked = [self._pull_requests[key] for key in sorted(self._pull_requests)]
        for item in tracked:
            row = item.row
            row.cycle_time_hours = _hours_between(row.pr_created_at, row.merged_at)
            row.review_time_hours = _hours_between(row.pr_created_at, row.first_review_at)
            if row.reverts_number is not None and row.reverts_id is None:
                row.reverts = _reverted_pull_request(row)
        created = [item for item in tracked if item.created]
        if created:
            _insert([item.row for item in created])
            for item in created:
                item.loaded = _tracked_values(item.row)
        _update_changed(tracked)
        arrived = [
            item.row
            for item in tracked
            if item.created or item.loaded_repository_id != item.row.repository_id
        ]
        for revert in _link_reverts_waiting_for(arrived):
            # Also a revert in this same batch: its row here must say so too.
            in_batch = self._pull_requests.get((revert.team_id, revert.github_id))
            if in_batch is not None:
                in_batch.row.reverts = revert.reverts
        for item in tracked:
            item.created, item.loaded = False, _tracked_values(item.row)
            item.loaded_repository_id = item.row.repository_id
        self._save_reviews()

    def _save_reviews(self) -> None:
        new = [
            review for reviews in self._reviews.values() for review in reviews if review.pk is None
        ]
        if new:
            PRReview.objects.bulk_create(new)
        changed = [review for review, _ in self._changed_reviews.values()]
        if changed:
            fields = set().union(*(names for _, names in self._changed_reviews.values()))
            update_rows(model=PRReview, rows=changed, fields=fields)
        self._changed_reviews.clear()


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


def _update_changed(tracked: list[_TrackedPullRequest]) -> None:
    changed_rows, fields = [], set()
    for item in tracked:
        names = {
            name for name, value in _tracked_values(item.row).items() if item.loaded[name] != value
        }
        if names:
            changed_rows.append(item.row)
            fields |= names
    if changed_rows:
        update_rows(model=PullRequest, rows=changed_rows, fields=fields)


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


def _link_reverts_waiting_for(rows: list[PullRequest]) -> list[PullRequest]:
    """Link the reverts that arrived before the pull requests they revert (rows
    new, or moved to another repository): one read per team, usually finding
    none. Returns the reverts linked."""
    targets = [row for row in rows if row.repository_id is not None]
    linked: list[PullRequest] = []
    for team_id in sorted({row.team_id for row in targets}):
        team_targets = [row for row in targets if row.team_id == team_id]
        waiting = PullRequest.objects.filter(
            team_id=team_id,
            reverts__isnull=True,
            reverts_number__in={row.number for row in team_targets},
        ).order_by("pk")
        for revert in waiting:
            target = next((row for row in team_targets if _names(revert, row)), None)
            if target is not None:
                revert.reverts = target
                linked.append(revert)
    update_rows(model=PullRequest, rows=linked, fields=["reverts"])
    return linked


def _names(revert: PullRequest, target: PullRequest) -> bool:
    """Whether what ``revert`` says it reverts is ``target``."""
    if revert.pk == target.pk or revert.reverts_number != target.number:
        return False
    if revert.reverts_repository_full_name:
        # As the reverted pull request's lookup: repository names ignore case.
        named = revert.reverts_repository_full_name.upper()
        return named == target.repository.full_name.upper()
    return revert.repository_id == target.repository_id


def _hours_between(start: Any, end: Any) -> float | None:
    if start is None or end is None:
        return None
    return float((end - start).total_seconds() / 3600)


def _tracked_values(row: PullRequest) -> dict[str, Any]:
    return {
        f.attname: getattr(row, f.attname)
        for f in PullRequest._meta.concrete_fields
        if f.name not in _UNTRACKED
    }

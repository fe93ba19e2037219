"""Applying pull request and review events together: the processors' one write path.

A batch loads what its events need in a few queries (the members they show, their
pull requests, locked, and those pull requests' reviews), applies every event to
those rows in memory, in order, then writes what changed: a handful of
statements per batch instead of several per event. One event is a batch of one,
so the processors, the webhook drain, replay and backfill all write through here.

Rows are locked in one order (each team's pull requests by GitHub id, teams by
id, then the members the batch writes, by team and GitHub id), so two workers'
batches wait for each other rather than deadlock. Two exceptions: a pull request
new to both (settled by `ConcurrentCreation`), and the reverts a new pull request
links, whose rows are locked out of that order; a deadlock there fails the batch,
and the webhook drain then processes its deliveries one at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from django.db import transaction

from apps.common.bulk import update_rows
from apps.metrics.models import PRReview, PullRequest, PullRequestEvent, TeamMember
from apps.metrics.services.formulas import pull_request_derive
from apps.metrics.services.lifecycle import (
    NOT_STORED,
    LifecycleState,
    Transition,
    is_live,
    lifecycle_events_record,
    lifecycle_state,
    transitions_between,
)
from apps.metrics.services.members import (
    Sighting,
    apply_sighting,
    load_members,
    save_members,
)
from apps.metrics.services.payloads import PullRequestSnapshot
from apps.metrics.services.reverts import reverted_pull_request, reverts_link_waiting
from apps.teams.models import Team

if TYPE_CHECKING:
    # Annotations only: apps.metrics never imports apps.integrations at run time.
    from apps.integrations.models import Repository

_UNTRACKED = {"id", "created_at", "updated_at"}


class Change(Protocol):
    """What one event says, read from its payload (see `read_pull_request_change`
    and `read_review_change`), ready to be applied to a batch's rows."""

    @property
    def team(self) -> Team: ...

    @property
    def repository(self) -> Repository | None: ...

    @property
    def pull_request(self) -> PullRequestSnapshot: ...

    # Whether applying it needs the pull request's reviews.
    wants_reviews: bool

    def sightings(self) -> list[Sighting]: ...

    def apply(self, batch: Batch) -> object: ...


class ConcurrentCreation(Exception):
    """Another worker created one of the batch's pull requests first; apply again."""


class PullRequestNotStored(Exception):
    """The database skipped a new pull request's row (SQLite's insert-or-ignore
    does so for a row that breaks a constraint)."""


class _OneAtATime(Exception):
    """The batch holds what only applying its changes one at a time gets right."""


def apply_changes(changes: Sequence[Change], *, sources: Sequence[str]) -> list[object]:
    """Apply the changes in order, in one transaction (a savepoint inside the
    caller's); the row or review each one made or updated, in order. `sources`
    says where each change came from (`processors.Source`), for the lifecycle
    events the changes make."""
    sourced = list(zip(changes, sources, strict=True))

    def apply_once(batch_of: Sequence[tuple[Change, str]]) -> list[object]:
        with transaction.atomic():
            batch = Batch.load([change for change, _ in batch_of])
            results = [batch.apply(change, source=source) for change, source in batch_of]
            batch.save()
        return results

    def apply(batch_of: Sequence[tuple[Change, str]]) -> list[object]:
        try:
            return apply_once(batch_of)
        except ConcurrentCreation:
            # The other worker's rows are committed now: the second run updates them.
            return apply_once(batch_of)

    try:
        return apply(sourced)
    except _OneAtATime:
        return [result for one in sourced for result in apply([one])]


@dataclass
class _TrackedPullRequest:
    row: PullRequest
    created: bool
    loaded: dict[str, Any]
    loaded_repository_id: int | None
    # What a revert was linked to, and when merged, before the batch.
    loaded_revert: tuple[int | None, Any]
    # Its lifecycle state after the changes applied so far (None: none yet),
    # and the source and repository of the last change applied to it.
    lifecycle: LifecycleState | None = None
    source: str = ""
    repository: Repository | None = None


class Batch:
    """The rows a batch of changes reads and writes, loaded once and saved once.

    Changes are applied in order to these rows in memory, members included, so
    each change sees what the ones before it did, as it would one at a time."""

    def __init__(self) -> None:
        self._members: dict[int, dict[int, TeamMember]] = {}
        self._changed_members: dict[tuple[int, int], TeamMember] = {}
        self._pull_requests: dict[tuple[int, int], _TrackedPullRequest] = {}
        self._reviews: dict[tuple[int, int], list[PRReview]] = {}
        self._loaded_reviews: dict[int, dict[str, Any]] = {}
        # (pull request key, kind, when, source, repository) of each transition.
        self._transitions: list[tuple[tuple[int, int], str, Any, str, Repository | None]] = []

    @classmethod
    def load(cls, changes: Sequence[Change]) -> Batch:
        batch = cls()
        teams = sorted({change.team.pk: change.team for change in changes}.items())
        for team_id, team in teams:
            snapshots = {
                c.pull_request.github_id: c.pull_request for c in changes if c.team.pk == team_id
            }
            batch._lock_pull_requests(team, snapshots)
        if len(changes) > 1 and batch._moves_between_repositories(changes):
            # Which pull request a revert names, and which reverts wait for a pull
            # request, depend on where it is at each change: rare enough to leave
            # to one change at a time.
            raise _OneAtATime
        for team_id, team in teams:
            batch._load_members(team, [c for c in changes if c.team.pk == team_id])
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

    def _load_members(self, team: Team, changes: list[Change]) -> None:
        """The members the changes show. People new to the team are stored now, as
        their first sighting shows them (as one change at a time would), so that
        rows point at them, and compare them, by member id."""
        first_sightings: dict[int, Sighting] = {}
        for change in changes:
            for user, seen in change.sightings():
                first_sightings.setdefault(user.github_id, (user, seen))
        members = self._members[team.pk] = load_members(team=team, github_ids=first_sightings)
        new = []
        for github_id, (user, seen) in first_sightings.items():
            if github_id not in members:
                apply_sighting(members, team=team, user=user, seen=seen)
                new.append(members[github_id])
        save_members(new)

    def _track(self, row: PullRequest, *, created: bool) -> None:
        self._pull_requests[(row.team_id, row.github_id)] = _TrackedPullRequest(
            row=row,
            created=created,
            loaded=_tracked_values(row),
            loaded_repository_id=row.repository_id,
            loaded_revert=(row.reverts_id, row.merged_at),
        )

    def _moves_between_repositories(self, changes: Sequence[Change]) -> bool:
        repositories: dict[tuple[int, int], set[int | None]] = {}
        for change in changes:
            if change.repository is not None:
                key = (change.team.pk, change.pull_request.github_id)
                tracked = self._pull_requests[key]
                start = set() if tracked.created else {tracked.loaded_repository_id}
                repositories.setdefault(key, start).add(change.repository.pk)
        return any(len(seen) > 1 for seen in repositories.values())

    def _load_reviews(self, changes: Sequence[Change]) -> None:
        wanted = {(c.team.pk, c.pull_request.github_id) for c in changes if c.wants_reviews}
        by_pk: dict[int, list[PRReview]] = {}
        for key in wanted:
            tracked = self._pull_requests[key]
            self._reviews[key] = [] if tracked.created else by_pk.setdefault(tracked.row.pk, [])
        if not by_pk:
            return
        # One object per person: a sighting applied in memory (a login, the bot
        # flag) shows on the reviews of the pull requests it reviewed too.
        members = {member.pk: member for team in self._members.values() for member in team.values()}
        for review in PRReview.objects.filter(pull_request_id__in=by_pk).select_related("reviewer"):
            if review.reviewer_id in members:
                review.reviewer = members[review.reviewer_id]
            by_pk[review.pull_request_id].append(review)
            self._loaded_reviews[review.pk] = _review_values(review)

    # --- what changes read and update ------------------------------------------

    def apply(self, change: Change, *, source: str) -> object:
        """Apply one change, and note the lifecycle transitions it makes."""
        key = (change.team.pk, change.pull_request.github_id)
        tracked = self._pull_requests[key]
        reviews = self._reviews.get(key)
        before = tracked.lifecycle
        if before is None:
            before = (
                NOT_STORED
                if tracked.created
                else lifecycle_state(tracked.row, reviews=reviews, approved_at=None)
            )
        result = change.apply(self)
        after = lifecycle_state(tracked.row, reviews=reviews, approved_at=before.approved_at)
        for kind, at in transitions_between(before, after):
            self._transitions.append((key, kind, at, source, change.repository))
        tracked.lifecycle, tracked.source = after, source
        if change.repository is not None:
            tracked.repository = change.repository
        return result

    def members(self, team: Team, sightings: list[Sighting]) -> dict[int, TeamMember]:
        """The team's members, once these sightings (the change's own) are applied."""
        members = self._members[team.pk]
        for user, seen in sightings:
            if apply_sighting(members, team=team, user=user, seen=seen):
                self._changed_members[(team.pk, user.github_id)] = members[user.github_id]
        return members

    def pull_request(self, team: Team, snapshot: PullRequestSnapshot) -> PullRequest:
        """The team's row for this pull request: locked, or new and not yet inserted."""
        return self._pull_requests[(team.pk, snapshot.github_id)].row

    def reviews(self, team: Team, snapshot: PullRequestSnapshot) -> list[PRReview]:
        """The pull request's reviews; a review added to the list is inserted on save."""
        return self._reviews[(team.pk, snapshot.github_id)]

    # --- writing -------------------------------------------------------------------

    def save(self) -> None:
        save_members(self._changed_members.values())
        tracked = [self._pull_requests[key] for key in sorted(self._pull_requests)]
        for item in tracked:
            row = item.row
            pull_request_derive(row)
            if row.reverts_number is not None and row.reverts_id is None:
                row.reverts = reverted_pull_request(row)
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
        linked = reverts_link_waiting(arrived)
        if linked:
            self._refresh_waiting_reverts()
        self._save_reviews()
        lifecycle_events_record(self._lifecycle_transitions(tracked, linked))

    def _lifecycle_transitions(
        self, tracked: list[_TrackedPullRequest], linked: dict[int, list[Any]]
    ) -> list[Transition]:
        """The transitions the changes made, the rows stored (so with their ids):
        those noted change by change, and the reverts the save linked."""
        transitions = []
        for key, kind, at, source, repository in self._transitions:
            row = self._pull_requests[key].row
            transitions.append(_transition(row.team_id, row.pk, kind, at, source, repository))
        for item in tracked:
            row = item.row
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
                        row.team_id,
                        row.reverts_id,
                        PullRequestEvent.Kind.REVERTED,
                        row.merged_at,
                        item.source,
                        item.repository,
                    )
                )
            for merged_at in linked.get(row.pk, []):
                # Reverts that came first, linked to this pull request as it arrived.
                transitions.append(
                    _transition(
                        row.team_id,
                        row.pk,
                        PullRequestEvent.Kind.REVERTED,
                        merged_at,
                        item.source,
                        item.repository,
                    )
                )
        return transitions

    def _refresh_waiting_reverts(self) -> None:
        """Reverts of this batch left waiting may have just been linked to a pull
        request that arrived in it: the rows this batch returns say so too."""
        waiting = {
            item.row.pk: item.row
            for item in self._pull_requests.values()
            if item.row.reverts_number is not None and item.row.reverts_id is None
        }
        if not waiting:
            return
        for pk, reverts_id in PullRequest.objects.filter(pk__in=waiting).values_list(
            "pk", "reverts_id"
        ):
            waiting[pk].reverts_id = reverts_id

    def _save_reviews(self) -> None:
        reviews = [review for reviews in self._reviews.values() for review in reviews]
        new = [review for review in reviews if review.pk is None]
        if new:
            PRReview.objects.bulk_create(new)
        changed, fields = [], set()
        for review in reviews:
            loaded = self._loaded_reviews.get(review.pk) if review.pk is not None else None
            if loaded is None:
                continue
            names = {
                name for name, value in _review_values(review).items() if loaded[name] != value
            }
            if names:
                changed.append(review)
                fields |= names
        update_rows(model=PRReview, rows=changed, fields=fields)


def _transition(
    team_id: int,
    pull_request_id: int,
    kind: str,
    at: Any,
    source: str,
    repository: Repository | None,
) -> Transition:
    return Transition(
        team_id=team_id,
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


def _update_changed(tracked: list[_TrackedPullRequest]) -> None:
    changed_rows, fields = [], set()
    for item in tracked:
        names = {
            name for name, value in _tracked_values(item.row).items() if item.loaded[name] != value
        }
        if names:
            changed_rows.append(item.row)
            fields |= names
    update_rows(model=PullRequest, rows=changed_rows, fields=fields)


@cache
def _tracked_attnames() -> tuple[str, ...]:
    return tuple(f.attname for f in PullRequest._meta.concrete_fields if f.name not in _UNTRACKED)


def _tracked_values(row: PullRequest) -> dict[str, Any]:
    return {attname: getattr(row, attname) for attname in _tracked_attnames()}


def _review_values(review: PRReview) -> dict[str, Any]:
    return {
        "state": review.state,
        "submitted_at": review.submitted_at,
        "reviewer_id": review.reviewer_id,
    }

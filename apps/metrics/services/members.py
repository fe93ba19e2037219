"""The member kind of row: GitHub users as one team sees them (`TeamMember`),
keyed by team and GitHub user id.

No event is read into members alone: every pull request and review event shows
people (its author, its reviewer), and each such sighting is applied to the
member it shows. A member takes the login and bot flag of the newest sighting
(`is_not_older`). A member new to the team is stored as the batch loads, so the
rows of the other kinds can point at it by id."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from apps.metrics.models import TeamMember
from apps.metrics.services.batches import Batch, Need, RowKind
from apps.metrics.services.payloads import GitHubUser, SnapshotTime, is_not_older
from apps.teams.models import Team

# A user as one event's payload shows them, and when (see SnapshotTime).
Sighting = tuple[GitHubUser, SnapshotTime]


def sighting_needs(team: Team, sightings: Iterable[Sighting]) -> list[Need]:
    """What a change that shows these people needs loaded."""
    return [Need(MemberRows.name, team, user.github_id, (user, seen)) for user, seen in sightings]


class MemberRows(RowKind):
    """A batch's members: those its changes show, by team and GitHub id."""

    name = "member"
    model = TeamMember

    def __init__(self, batch: Batch) -> None:
        super().__init__(batch)
        self._members: dict[int, dict[int, TeamMember]] = {}
        self._changed: dict[tuple[int, int], TeamMember] = {}

    def load(self, needs: Sequence[Need]) -> None:
        """The members the changes show. People new to the team are stored now, as
        their first sighting shows them (as one change at a time would), so that
        rows point at them, and compare them, by member id."""
        first_sightings: dict[int, dict[int, tuple[Team, Sighting]]] = {}
        for need in needs:
            by_id = first_sightings.setdefault(need.team.pk, {})
            by_id.setdefault(need.github_id, (need.team, need.seed))
        new = []
        for team_id, sightings in sorted(first_sightings.items()):
            team = next(iter(sightings.values()))[0]
            members = self._members[team_id] = load_members(team=team, github_ids=sightings)
            for github_id, (_, (user, seen)) in sightings.items():
                if github_id not in members:
                    apply_sighting(members, team=team, user=user, seen=seen)
                    new.append(members[github_id])
        save_members(new)

    def members(self, team: Team, sightings: list[Sighting]) -> dict[int, TeamMember]:
        """The team's members, once these sightings (the change's own) are applied."""
        members = self._members.setdefault(team.pk, {})
        for user, seen in sightings:
            if apply_sighting(members, team=team, user=user, seen=seen):
                self._changed[(team.pk, user.github_id)] = members[user.github_id]
        return members

    def loaded(self) -> dict[int, TeamMember]:
        """Every member the batch holds, by primary key (one object per person)."""
        return {m.pk: m for team in self._members.values() for m in team.values()}

    def save(self) -> None:
        save_members(self._changed.values())


def load_members(*, team: Team, github_ids: Iterable[int]) -> dict[int, TeamMember]:
    """The team's members with these GitHub ids, by GitHub id: one query, whatever
    the team's size."""
    wanted = set(github_ids)
    if not wanted:
        return {}
    return {
        member.github_id: member
        for member in TeamMember.objects.filter(team=team, github_id__in=wanted).order_by()
    }


def apply_sighting(
    members: dict[int, TeamMember], *, team: Team, user: GitHubUser, seen: SnapshotTime
) -> bool:
    """Bring the member ``user`` is up to date with this sighting, in memory (an
    unknown user becomes a placeholder member: login kept, no account). Whether
    it changed, and so must be saved.

    A member takes the login and bot flag of a sighting no older than the one it
    has them from (`is_not_older`), so a late older event cannot undo a rename."""
    member = members.get(user.github_id)
    if member is None:
        member = members[user.github_id] = TeamMember(team=team, github_id=user.github_id)
    elif not _snapshot_updates_member(member, user, seen):
        return False
    member.login, member.is_bot = user.login, user.is_bot
    member.is_deleted_account = user.is_deleted_account
    member.login_seen_at, member.login_received_at = seen.updated_at, seen.received_at
    return True


def save_members(members: Iterable[TeamMember]) -> None:
    """Write new and changed members in one upsert; a new one gets its primary key.

    By team and GitHub id, so that two workers writing the same members take their
    row locks in the same order and cannot deadlock; the upsert also settles a
    race with another worker creating the same member (unique team + github_id).
    Two workers applying different logins at once (a rename racing an older
    event) are not ordered here: the next newer event sets the login right."""
    ordered = sorted(members, key=lambda member: (member.team_id, member.github_id))
    if not ordered:
        return
    written = TeamMember.objects.bulk_create(
        [_unsaved_copy(member) for member in ordered],
        update_conflicts=True,
        unique_fields=["team", "github_id"],
        update_fields=[
            "login",
            "is_bot",
            "is_deleted_account",
            "login_seen_at",
            "login_received_at",
            "updated_at",
        ],
    )
    for member, copy in zip(ordered, written, strict=True):
        if member.pk is None:
            # The rows that point at this member hold this very object.
            member.pk, member.created_at, member.updated_at = (
                copy.pk,
                copy.created_at,
                copy.updated_at,
            )


def _unsaved_copy(member: TeamMember) -> TeamMember:
    # Without its primary key: the upsert's conflict is on (team, github_id).
    return TeamMember(
        team_id=member.team_id,
        github_id=member.github_id,
        login=member.login,
        is_bot=member.is_bot,
        is_deleted_account=member.is_deleted_account,
        login_seen_at=member.login_seen_at,
        login_received_at=member.login_received_at,
    )


def _snapshot_updates_member(member: TeamMember, user: GitHubUser, seen: SnapshotTime) -> bool:
    """Whether this snapshot of the user should replace what the member holds.

    Its time is recorded even when the login is unchanged: a user renamed and
    renamed back must not take the middle name from a late event."""
    stored = SnapshotTime(member.login_seen_at, member.login_received_at)
    return is_not_older(seen, stored) and (
        member.login,
        member.is_bot,
        stored,
    ) != (user.login, user.is_bot, seen)

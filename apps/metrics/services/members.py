"""Team members: GitHub users as one team sees them, keyed by GitHub user id."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser

from apps.metrics.models import TeamMember
from apps.metrics.services.payloads import GitHubUser, SnapshotTime, is_not_older
from apps.teams.models import Team

# A user as one event's payload shows them, and when (see SnapshotTime).
Sighting = tuple[GitHubUser, SnapshotTime]


def members_for_sightings(*, team: Team, sightings: Iterable[Sighting]) -> dict[int, TeamMember]:
    """The team's member for each GitHub user sighted, by GitHub id.

    ``sightings`` come in the order their events are applied. Unknown users become
    placeholder members (login kept, no account). A member takes the login and bot
    flag of each sighting no older than the one it has them from (`is_not_older`),
    so a late older event cannot undo a rename; folding a batch's sightings in
    memory leaves each member as applying its events one by one would. One query
    when nothing changed, two otherwise, whatever the team's size or the batch's."""
    ordered = list(sightings)
    if not ordered:
        return {}
    members = {
        member.github_id: member
        for member in TeamMember.objects.filter(
            team=team, github_id__in={user.github_id for user, _ in ordered}
        ).order_by()
    }
    changed: set[int] = set()
    for user, seen in ordered:
        member = members.get(user.github_id)
        if member is None:
            member = members[user.github_id] = TeamMember(team=team, github_id=user.github_id)
        elif not _snapshot_updates_member(member, user, seen):
            continue
        member.login, member.is_bot = user.login, user.is_bot
        member.login_seen_at, member.login_received_at = seen.updated_at, seen.received_at
        changed.add(user.github_id)
    if changed:
        # One upsert for new and changed members, by GitHub id so that two
        # workers writing the same members take their row locks in the same order
        # and cannot deadlock; it also settles a race with another worker creating
        # the same member (unique team + github_id). Two workers applying
        # different logins at once (a rename racing an older event) are not
        # ordered here: the next newer event sets the login right.
        written = TeamMember.objects.bulk_create(
            [_unsaved_copy(members[github_id]) for github_id in sorted(changed)],
            update_conflicts=True,
            unique_fields=["team", "github_id"],
            update_fields=["login", "is_bot", "login_seen_at", "login_received_at", "updated_at"],
        )
        for copy in written:
            if members[copy.github_id].pk is None:
                members[copy.github_id] = copy
    return members


def _unsaved_copy(member: TeamMember) -> TeamMember:
    # Without its primary key: the upsert's conflict is on (team, github_id).
    return TeamMember(
        team_id=member.team_id,
        github_id=member.github_id,
        login=member.login,
        is_bot=member.is_bot,
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


def link_member_to_user(
    *, team: Team, github_id: int, login: str, user: AbstractBaseUser
) -> TeamMember:
    """Match the team's member with this GitHub id to an account.

    The placeholder created from events is reused, so the member's pull requests
    and reviews stay with it; a member is created only if none exists yet."""
    member, created = TeamMember.objects.get_or_create(
        team=team, github_id=github_id, defaults={"login": login, "user": user}
    )
    if not created and member.user_id != user.pk:
        member.user = user
        member.save(update_fields=["user", "updated_at"])
    return member

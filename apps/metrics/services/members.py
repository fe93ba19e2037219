"""Team members: GitHub users as one team sees them, keyed by GitHub user id."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser

from apps.metrics.models import TeamMember
from apps.metrics.services.payloads import GitHubUser, SnapshotTime, is_not_older
from apps.teams.models import Team

# A user as one event's payload shows them, and when (see SnapshotTime).
Sighting = tuple[GitHubUser, SnapshotTime]


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

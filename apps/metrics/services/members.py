"""Team members: GitHub users as one team sees them, keyed by GitHub user id."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser

from apps.metrics.models import TeamMember
from apps.metrics.services.payloads import GitHubUser, SnapshotTime, is_not_older
from apps.teams.models import Team


def members_for_users(
    *, team: Team, users: Iterable[GitHubUser | None], seen: SnapshotTime
) -> dict[int, TeamMember]:
    """The team's member for each GitHub user, by GitHub id.

    `seen` is when the payload showed these users (its snapshot's time, None if it
    has none, and its delivery's receipt time). Unknown users become placeholder
    members (login kept, no account). A known member takes the login and bot flag
    of a snapshot no older than the one it has them from (`is_not_older`), so a
    late older event cannot undo a rename. One query when
    nothing changed, two otherwise, whatever the team's size."""
    wanted = {user.github_id: user for user in users if user is not None}
    if not wanted:
        return {}
    members = {
        member.github_id: member
        for member in TeamMember.objects.filter(team=team, github_id__in=wanted).order_by()
    }
    to_write = [
        TeamMember(
            team=team,
            github_id=github_id,
            login=user.login,
            is_bot=user.is_bot,
            login_seen_at=seen.updated_at,
            login_received_at=seen.received_at,
        )
        # By GitHub id, so that two workers writing the same members take their
        # row locks in the same order and cannot deadlock.
        for github_id, user in sorted(wanted.items())
        if github_id not in members or _snapshot_updates_member(members[github_id], user, seen)
    ]
    if to_write:
        # One upsert for new and changed members; it also settles a race with
        # another worker creating the same member (unique team + github_id).
        # Two workers applying different logins at once (a rename racing an older
        # event) are not ordered here: the next newer event sets the login right.
        written = TeamMember.objects.bulk_create(
            to_write,
            update_conflicts=True,
            unique_fields=["team", "github_id"],
            update_fields=["login", "is_bot", "login_seen_at", "login_received_at", "updated_at"],
        )
        for member in written:
            previous = members.get(member.github_id)
            if previous is not None:
                previous.login, previous.is_bot = member.login, member.is_bot
                previous.login_seen_at = member.login_seen_at
                previous.login_received_at = member.login_received_at
            else:
                members[member.github_id] = member
    return members


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

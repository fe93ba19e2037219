"""Team members: GitHub users as one team sees them, keyed by GitHub user id."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser

from apps.metrics.models import TeamMember
from apps.metrics.services.payloads import GitHubUser
from apps.teams.models import Team


def members_for_users(*, team: Team, users: Iterable[GitHubUser | None]) -> dict[int, TeamMember]:
    """The team's member for each GitHub user, by GitHub id.

    Unknown users become placeholder members (login kept, no account); a renamed
    login or a changed bot flag is written back. One query when nothing changed,
    two otherwise, whatever the team's size."""
    wanted = {user.github_id: user for user in users if user is not None}
    if not wanted:
        return {}
    members = {
        member.github_id: member
        for member in TeamMember.objects.filter(team=team, github_id__in=wanted).order_by()
    }
    to_write = [
        TeamMember(team=team, github_id=user.github_id, login=user.login, is_bot=user.is_bot)
        for github_id, user in wanted.items()
        if github_id not in members
        or (members[github_id].login, members[github_id].is_bot) != (user.login, user.is_bot)
    ]
    if to_write:
        # One upsert for new and changed members; it also settles a race with
        # another worker creating the same member (unique team + github_id).
        written = TeamMember.objects.bulk_create(
            to_write,
            update_conflicts=True,
            unique_fields=["team", "github_id"],
            update_fields=["login", "is_bot", "updated_at"],
        )
        for member in written:
            previous = members.get(member.github_id)
            if previous is not None:
                previous.login, previous.is_bot = member.login, member.is_bot
            else:
                members[member.github_id] = member
    return members


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

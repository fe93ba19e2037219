"""Linking a team's GitHub person (TeamMember) to a team member's account, so
pages can show that person's own pull requests."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from apps.metrics.models import TeamMember
from apps.teams.models import Membership, Team


class MemberLinkRefused(Exception):
    """The link cannot be made; the message says why, for the page."""


@transaction.atomic
def team_member_link(*, team: Team, member_id: int, user: AbstractBaseUser | None) -> TeamMember:
    """Link the team's GitHub person ``member_id`` to ``user`` (None unlinks).

    An account is one GitHub person within a team: linking it to another person
    unlinks it from the first. Only accounts in the team can be linked, and no bot."""
    member = TeamMember.objects.select_for_update().filter(team=team, pk=member_id).first()
    if member is None:
        raise MemberLinkRefused("That GitHub account is not one of this team's.")
    if user is not None:
        if member.is_bot:
            raise MemberLinkRefused(f"{member.login} is a bot: it has no person to link.")
        if not Membership.objects.filter(team=team, user=user).exists():
            raise MemberLinkRefused(f"{user.get_username()} is not a member of {team.name}.")
        TeamMember.objects.filter(team=team, user=user).exclude(pk=member.pk).update(user=None)
    if member.user_id != (user.pk if user is not None else None):
        member.user = user  # type: ignore[assignment]
        member.save(update_fields=["user", "updated_at"])
    return member

"""Linking a team's GitHub person (TeamMember) to a team member's account, so
pages can show that person's own pull requests: the one way to do it, for the
GitHub accounts page (a person picked by an admin) and the install flow (the
installer's GitHub identity, verified by GitHub).

One account is at most one GitHub person per team (a database constraint,
`one_person_per_account_per_team`): linking an account to another person
unlinks it from the first, in the same transaction. Only accounts of the team
can be linked, and no bot.

A person linked to an account is asked the merge question about their merges of
the last 14 days (`merge_questions_catch_up`), in the same transaction; the email
follows its commit."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

from apps.metrics.models import TeamMember
from apps.metrics.services.merge_questions import (
    merge_questions_catch_up,
    merge_questions_email_later,
)
from apps.metrics.services.payloads import GitHubUser
from apps.teams.models import Membership, Team


class MemberLinkRefused(Exception):
    """The link cannot be made; the message says why, for the page."""


def team_member_link(
    *,
    team: Team,
    user: AbstractBaseUser | None,
    member_id: int | None = None,
    github_user: GitHubUser | None = None,
) -> TeamMember:
    """Link the team's GitHub person to ``user`` (None unlinks). The person is
    the team's member ``member_id``, or the GitHub user ``github_user`` (a
    person not seen in any event yet becomes a member, with no pull request)."""
    if (member_id is None) == (github_user is None):
        raise TypeError("name the person by member_id or by github_user")
    try:
        with transaction.atomic():
            return _link(team=team, user=user, member_id=member_id, github_user=github_user)
    except IntegrityError:
        # Another request linked the same account at the same moment.
        raise MemberLinkRefused(
            "That account was linked to another GitHub person just now; try again."
        ) from None


def _link(
    *,
    team: Team,
    user: AbstractBaseUser | None,
    member_id: int | None,
    github_user: GitHubUser | None,
) -> TeamMember:
    members = TeamMember.objects.select_for_update().filter(team=team)
    if github_user is not None:
        member, _ = members.get_or_create(
            team=team,
            github_id=github_user.github_id,
            defaults={"login": github_user.login, "is_bot": github_user.is_bot},
        )
    else:
        found = members.filter(pk=member_id).first() if member_id is not None else None
        if found is None:
            raise MemberLinkRefused("That GitHub account is not one of this team's.")
        member = found
    if user is not None:
        if member.is_bot:
            raise MemberLinkRefused(f"{member.login} is a bot: it has no person to link.")
        if not Membership.objects.filter(team=team, user_id=user.pk).exists():
            raise MemberLinkRefused(f"{user.get_username()} is not a member of {team.name}.")
        TeamMember.objects.filter(team=team, user_id=user.pk).exclude(pk=member.pk).update(
            user=None
        )
    if member.user_id != (user.pk if user is not None else None):
        member.user_id = user.pk if user is not None else None
        member.save(update_fields=["user", "updated_at"])
        if user is not None:
            merge_questions_email_later(question_ids=merge_questions_catch_up(member=member))
    return member

"""A team's people and their Slack users: matched by their account's email
(users.lookupByEmail), or linked by hand by an admin (checked with users.info).
Slack's own time zone of each person is kept: their working hours are theirs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model

from apps.notifications.models import SlackConnection, SlackPerson
from apps.notifications.services import slack_api
from apps.notifications.services.connections import (
    SlackRefused,
    slack_connection_break,
    slack_scope_missing,
    slack_token,
)
from apps.teams.models import Membership, Team

# Slack's user ids: U… or W… (Enterprise Grid), upper-case letters and digits.
SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,30}")


@dataclass(frozen=True)
class MatchResult:
    matched: int
    not_found: int


def _tz(user: dict[str, Any]) -> str:
    tz = user.get("tz")
    return tz[:64] if isinstance(tz, str) else ""


def _guard(connection: SlackConnection, call: Any) -> Any:
    try:
        return call()
    except slack_api.SlackFailure as failure:
        if failure.revoked:
            slack_connection_break(team_id=connection.team_id, reason=failure.error)
            raise SlackRefused(
                f"Slack refused the team's token ({failure.error}): connect Slack again."
            ) from None
        if failure.missing_scope:
            advice = slack_scope_missing(
                team_id=connection.team_id, needed=failure.needed, provided=failure.provided
            )
            raise SlackRefused(f"Slack refused ({failure.error}). {advice}") from None
        raise SlackRefused(f"Slack did not answer as expected ({failure.error}).") from None


def slack_people_match(*, team: Team, connection: SlackConnection) -> MatchResult:
    """Match every member not linked yet by their account's email."""
    token = slack_token(connection=connection)
    linked = set(SlackPerson.objects.filter(team=team).values_list("user_id", flat=True))
    matched = not_found = 0
    users = (
        get_user_model()
        .objects.filter(memberships__team=team, is_active=True)
        .exclude(pk__in=linked)
    )
    for user in users.exclude(email=""):
        found = _guard(
            connection, lambda user=user: slack_api.user_by_email(token=token, email=user.email)
        )
        slack_id = found.get("id") if found else None
        if not isinstance(slack_id, str) or not SLACK_USER_ID.fullmatch(slack_id):
            not_found += 1
            continue
        SlackPerson.objects.update_or_create(
            team=team,
            user=user,
            defaults={
                "slack_user_id": slack_id,
                "time_zone": _tz(found),
                "matched_by": SlackPerson.Matched.EMAIL,
            },
        )
        matched += 1
    return MatchResult(matched=matched, not_found=not_found)


def slack_person_link(
    *, team: Team, connection: SlackConnection, user_id: int, slack_user_id: str
) -> SlackPerson:
    """Link a member to a Slack user by hand (its id, from their Slack profile)."""
    slack_user_id = slack_user_id.strip()
    if not SLACK_USER_ID.fullmatch(slack_user_id):
        raise SlackRefused(
            "A Slack member id looks like U012AB3CD (their profile, ⋮, Copy member ID)."
        )
    if not Membership.objects.filter(team=team, user_id=user_id).exists():
        raise SlackRefused("That person is not in this team.")
    token = slack_token(connection=connection)
    found = _guard(connection, lambda: slack_api.user_info(token=token, user_id=slack_user_id))
    if not found or found.get("deleted") is True:
        raise SlackRefused(f"Slack has no member {slack_user_id} in this workspace.")
    person, _ = SlackPerson.objects.update_or_create(
        team=team,
        user_id=user_id,
        defaults={
            "slack_user_id": slack_user_id,
            "time_zone": _tz(found),
            "matched_by": SlackPerson.Matched.HAND,
        },
    )
    return person


def slack_person_unlink(*, team: Team, user_id: int) -> None:
    SlackPerson.objects.filter(team=team, user_id=user_id).delete()

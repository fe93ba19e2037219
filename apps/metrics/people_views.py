"""The team's GitHub people (its `TeamMember` rows) and the accounts linked to
them: the GitHub accounts page, next to Members."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from apps.metrics.figures import people_activity
from apps.metrics.periods import Period, request_read
from apps.metrics.selectors import members_for_team
from apps.metrics.services.members_link import MemberLinkRefused, team_member_link
from apps.teams.access import team_admin, team_member
from apps.teams.models import Team
from apps.teams.selectors import team_memberships

LINK_ADMINS_ONLY = "Only team admins can link accounts to GitHub people."
# The accounts page counts each person's pull requests over this many days.
ACTIVITY_DAYS = 90


def _activity_period(team: Team) -> Period:
    today = timezone.now().astimezone(team.tzinfo).date()
    return request_read(
        params={"days": [str(ACTIVITY_DAYS)]}, time_zone=str(team.tzinfo), today=today
    ).period


@login_required
@require_safe
def team_member_links(request: HttpRequest, team_slug: str) -> HttpResponse:
    membership = team_member(user=request.user, team_slug=team_slug)
    team = membership.team
    activity = people_activity(team=team, period=_activity_period(team))
    people = list(members_for_team(team=team).filter(is_bot=False).order_by("login"))
    for person in people:
        person.activity = activity.get(person.pk, {"opened": 0, "reviewed": 0})  # type: ignore[attr-defined]
    return render(
        request,
        "metrics/team_member_links.html",
        {
            "team": team,
            "membership": membership,
            "people": people,
            "memberships": team_memberships(team=team),
            "activity_days": ACTIVITY_DAYS,
        },
    )


def _member_id(value: str) -> int | None:
    # Only ASCII digits, and within a bigint: anything else names no one.
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        return None
    return int(value)


def _linked_message(login: str, username: str, counts: dict[str, Any]) -> str:
    return (
        f"{login} is now linked to {username}: {login}'s pull requests and reviews are "
        f"{username}'s on this team's pages ({counts['opened']} pull request"
        f"{'s' if counts['opened'] != 1 else ''} opened and {counts['reviewed']} reviewed "
        f"in the last {ACTIVITY_DAYS} days)."
    )


@login_required
@require_POST
def team_member_link_view(request: HttpRequest, team_slug: str) -> HttpResponse:
    membership = team_admin(user=request.user, team_slug=team_slug, reason=LINK_ADMINS_ONLY)
    team = membership.team
    member_id = _member_id(request.POST.get("person", ""))
    account = request.POST.get("account", "")
    user = None
    if account:
        account_id = _member_id(account)
        found = (
            team_memberships(team=team).filter(user_id=account_id).first() if account_id else None
        )
        if found is None:
            messages.error(request, "Choose an account of a member of the team.")
            return redirect("team_member_links", team_slug=team_slug)
        user = found.user
    if member_id is None:
        messages.error(request, "Choose one of the team's GitHub accounts.")
        return redirect("team_member_links", team_slug=team_slug)
    try:
        person = team_member_link(team=team, member_id=member_id, user=user)
    except MemberLinkRefused as refusal:
        messages.error(request, str(refusal))
    else:
        if user is None:
            messages.success(request, f"{person.login} is no longer linked to an account.")
        else:
            counts = people_activity(team=team, period=_activity_period(team)).get(
                person.pk, {"opened": 0, "reviewed": 0}
            )
            messages.success(request, _linked_message(person.login, user.get_username(), counts))
    return redirect(reverse("team_member_links", args=[team_slug]) + f"#person-{member_id}")

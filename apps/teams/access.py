"""Who may see a team's pages: the one check every team view uses.

An outsider (anonymous, or a member of another team) gets 404, so no page
confirms that a team exists; a member asking for an admin's page gets the
styled 403 page with the reason. The site's own pages (creating the GitHub App,
every team's deliveries) are for staff: `staff_only`.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied

from apps.teams.models import Membership
from apps.teams.selectors import membership_or_404


def team_member(*, user: AbstractBaseUser | AnonymousUser, team_slug: str) -> Membership:
    """The user's membership of the team; 404 for anyone outside it."""
    return membership_or_404(user=user, team_slug=team_slug)


def team_admin(
    *,
    user: AbstractBaseUser | AnonymousUser,
    team_slug: str,
    reason: str = "Only team admins can do this.",
) -> Membership:
    """The user's admin membership of the team; 404 outside it, 403 for a member."""
    membership = membership_or_404(user=user, team_slug=team_slug)
    if not membership.is_admin:
        raise PermissionDenied(reason)
    return membership


class StaffOnly(PermissionDenied):
    """A page for the site's staff, not for a team: the 403 page says how a
    staff account is made rather than to ask a team admin."""


def staff_only(*, user: AbstractBaseUser | AnonymousUser, reason: str) -> None:
    """Nothing for staff; the styled 403 page with ``reason`` for anyone else."""
    if not user.is_staff:
        raise StaffOnly(reason)

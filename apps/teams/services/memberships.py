"""Who is in a team, and as what. A team always keeps at least one admin."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from apps.teams.models import Membership, Team


class MembershipChangeRefused(Exception):
    """The change would leave the team without an admin, or is not allowed;
    the message says why, for the page."""


LAST_ADMIN = (
    "{name} is the team's only admin: make another member an admin first, "
    "so the team is never left without one."
)


def membership_add(*, team: Team, user: AbstractBaseUser, role: str) -> Membership:
    """Put the user in the team with this role (an existing membership keeps its role)."""
    membership, _ = Membership.objects.get_or_create(team=team, user=user, defaults={"role": role})
    return membership


def _lock_admins(team: Team) -> list[Membership]:
    # Two admins demoting each other at once: the second waits, then sees
    # that only one admin is left.
    return list(
        Membership.objects.select_for_update().filter(team=team, role=Membership.Role.ADMIN)
    )


@transaction.atomic
def membership_set_role(*, membership: Membership, role: str) -> Membership:
    if role not in Membership.Role.values:
        raise MembershipChangeRefused("Choose Admin or Member.")
    admins = _lock_admins(membership.team)
    membership.refresh_from_db()
    if membership.role == role:
        return membership
    if membership.is_admin and len(admins) <= 1:
        raise MembershipChangeRefused(LAST_ADMIN.format(name=membership.user.get_username()))
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership) -> None:
    """Take the user out of the team (removed by an admin, or leaving)."""
    admins = _lock_admins(membership.team)
    membership.refresh_from_db()
    if membership.is_admin and len(admins) <= 1:
        raise MembershipChangeRefused(LAST_ADMIN.format(name=membership.user.get_username()))
    membership.delete()

"""Invitation links: made by a team's admins, each good for one person, one
team, until it expires or is revoked."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from apps.teams.models import Invitation, Membership, Team
from apps.teams.services.memberships import membership_add

INVITATION_LIFETIME = timedelta(days=7)
# The longest token a link may carry; anything longer is not one of ours.
TOKEN_MAX_LENGTH = 64
NOT_VALID = "This invitation link is not valid: check that it was copied whole."


class InvitationRefused(Exception):
    """The link cannot be used; the message says why, for the page, and
    ``status`` is the HTTP status of that page."""

    def __init__(self, reason: str, *, status: int = 410) -> None:
        super().__init__(reason)
        self.status = status


class AlreadyMember(Exception):
    """The user is in the team already; the link stays unused."""

    def __init__(self, membership: Membership) -> None:
        super().__init__(f"You are already in {membership.team.name}.")
        self.membership = membership


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_create(
    *, team: Team, created_by: AbstractBaseUser, lifetime: timedelta = INVITATION_LIFETIME
) -> tuple[Invitation, str]:
    """A new invitation and its token (the secret part of the link, not stored)."""
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        team=team,
        token_hash=token_hash(token),
        created_by=created_by,
        expires_at=timezone.now() + lifetime,
    )
    return invitation, token


def invitation_revoke(*, invitation: Invitation) -> Invitation:
    """Revoke an invitation nobody has used yet; a used one stays as it is."""
    if invitation.used_at is None and invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
    return invitation


def invitation_check(*, team_slug: str, token: str) -> Invitation:
    """The open invitation this link names, or InvitationRefused with the reason."""
    if not token or len(token) > TOKEN_MAX_LENGTH or not token.isascii():
        raise InvitationRefused(NOT_VALID, status=404)
    invitation = (
        Invitation.objects.select_related("team").filter(token_hash=token_hash(token)).first()
    )
    if invitation is None:
        raise InvitationRefused(NOT_VALID, status=404)
    if invitation.team.slug != team_slug:
        raise InvitationRefused(
            "This invitation link is for another team than the one in its address: "
            "use the link exactly as the admin sent it.",
            status=404,
        )
    state = invitation.state
    if state == "used":
        raise InvitationRefused(
            "This invitation link has already been used. Each link lets one person join: "
            "ask a team admin for a new one."
        )
    if state == "revoked":
        raise InvitationRefused(
            "This invitation link was revoked by a team admin: ask them for a new one."
        )
    if state == "expired":
        raise InvitationRefused(
            f"This invitation link expired on {invitation.expires_at:%Y-%m-%d %H:%M} UTC: "
            "ask a team admin for a new one."
        )
    return invitation


@transaction.atomic
def invitation_accept(*, team_slug: str, token: str, user: AbstractBaseUser) -> Membership:
    """Join the invitation's team as a member, using the link up.

    Raises InvitationRefused (with the reason) for a link that is not valid,
    another team's, used, revoked or expired, and AlreadyMember for someone
    already in the team (the link stays unused for the person it was meant for)."""
    checked = invitation_check(team_slug=team_slug, token=token)
    # Locked and checked again: two people opening one link at once, one joins.
    invitation = Invitation.objects.select_for_update().select_related("team").get(pk=checked.pk)
    existing = Membership.objects.filter(team=invitation.team, user=user).first()
    if existing is not None:
        raise AlreadyMember(existing)
    invitation = invitation_check(team_slug=team_slug, token=token)
    membership = membership_add(team=invitation.team, user=user, role=Membership.Role.MEMBER)
    Invitation.objects.filter(pk=invitation.pk).update(used_at=timezone.now(), used_by=user)
    return membership

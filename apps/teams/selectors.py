from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.http import Http404

from apps.teams.models import Invitation, Membership, Team


def teams_for_user(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Team]:
    if not user.is_authenticated:
        return Team.objects.none()
    return Team.objects.filter(memberships__user=user).order_by("name")


def membership_or_404(*, user: AbstractBaseUser | AnonymousUser, team_slug: str) -> Membership:
    """The user's membership of the team, or 404: another team's pages do not
    even confirm that the team exists."""
    if not user.is_authenticated:
        raise Http404("No such team.")
    membership = (
        Membership.objects.select_related("team").filter(user=user, team__slug=team_slug).first()
    )
    if membership is None:
        raise Http404("No such team.")
    return membership


def team_memberships(*, team: Team) -> QuerySet[Membership]:
    """The team's members, admins first, then by user name."""
    return (
        Membership.objects.filter(team=team)
        .select_related("user")
        .order_by("role", "user__username")
    )


def team_membership_or_404(*, team: Team, pk: int) -> Membership:
    membership = Membership.objects.select_related("user", "team").filter(team=team, pk=pk).first()
    if membership is None:
        raise Http404("No such member.")
    return membership


def team_invitations(*, team: Team) -> QuerySet[Invitation]:
    """The team's invitations, newest first, with who made and used them."""
    return (
        Invitation.objects.filter(team=team)
        .select_related("created_by", "used_by")
        .order_by("-created_at")
    )


def team_invitation_or_404(*, team: Team, pk: int) -> Invitation:
    invitation = Invitation.objects.filter(team=team, pk=pk).first()
    if invitation is None:
        raise Http404("No such invitation.")
    return invitation

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet
from django.http import Http404

from apps.teams.models import Membership, Team


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

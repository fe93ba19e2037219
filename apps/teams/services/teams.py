from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.text import slugify

from apps.teams.models import MERGE_QUESTIONS_PER_WEEK_MAX, Membership, Team
from apps.teams.services.memberships import membership_add


def _unique_slug(name: str) -> str:
    base = slugify(name)[:90] or "team"
    slug, n = base, 2
    while Team.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


@transaction.atomic
def team_create(*, name: str, creator: AbstractBaseUser) -> Team:
    """A new team, with its creator as its first admin."""
    team = Team.objects.create(name=name.strip(), slug=_unique_slug(name))
    membership_add(team=team, user=creator, role=Membership.Role.ADMIN)
    return team


def team_merge_questions_cap_set(*, team: Team, per_week: int) -> Team:
    """How many merge questions the team asks a person per week at most (0 to
    MERGE_QUESTIONS_PER_WEEK_MAX; 0 asks no one)."""
    if not 0 <= per_week <= MERGE_QUESTIONS_PER_WEEK_MAX:
        raise ValueError(f"per_week must be from 0 to {MERGE_QUESTIONS_PER_WEEK_MAX}")
    team.merge_questions_per_week = per_week
    team.save(update_fields=["merge_questions_per_week"])
    return team

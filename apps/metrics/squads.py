"""Selectors of squads (written by `services/squads.py`): a team's squads
as pages and the API show them."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import Http404

from apps.metrics.models import Squad, TeamMember
from apps.teams.models import Team


def squads_for_team(*, team: Team) -> QuerySet[Squad]:
    """The team's squads by name, with their members and repositories."""
    return (
        Squad.objects.filter(team=team)
        .prefetch_related(Prefetch("members", queryset=TeamMember.objects.order_by("login")))
        .prefetch_related("repositories")
        .order_by("name")
    )


def squad_names_for_team(*, team: Team) -> list[str]:
    return list(Squad.objects.filter(team=team).order_by("name").values_list("name", flat=True))


def squad_of_team(*, team: Team, squad_id: int) -> Squad:
    """The team's squad; Http404 for another team's or none (no answer says
    that a squad of another team exists)."""
    squad = squads_for_team(team=team).filter(pk=squad_id).first()
    if squad is None:
        raise Http404("No such squad.")
    return squad


def squad_json(squad: Squad) -> dict[str, Any]:
    return {
        "id": squad.pk,
        "name": squad.name,
        "members": sorted(member.login for member in squad.members.all()),
        "repositories": sorted({repository.full_name for repository in squad.repositories.all()}),
    }

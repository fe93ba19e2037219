"""May a team process this installation's repository, and if not, why.

One answer for every source of events: the webhook drain routes pull request
and review events by it, and the history backfill asks it before loading."""

from __future__ import annotations

from dataclasses import dataclass

from apps.integrations.models import Installation, Repository
from apps.integrations.pipeline.lookups import Lookups
from apps.teams.models import Team


@dataclass(frozen=True, slots=True)
class Eligible:
    installation: Installation
    team: Team
    repository: Repository


@dataclass(frozen=True, slots=True)
class Ineligible:
    reason: str


def installation_eligibility(
    *, installation_id: int | None, lookups: Lookups | None = None
) -> Installation | Ineligible:
    """The installation events belong to, or why they are ignored."""
    if installation_id is None:
        return Ineligible("The payload names no installation.")
    installation = (lookups or Lookups()).installation(installation_id)
    if installation is None:
        return Ineligible(f"Installation {installation_id} is not known here.")
    if installation.deleted_at is not None:
        return Ineligible(f"Installation {installation_id} was deleted.")
    return installation


def repository_eligibility(
    *,
    installation_id: int | None,
    repository_github_id: int | None,
    repository_name: str = "",
    lookups: Lookups | None = None,
) -> Eligible | Ineligible:
    """Which team processes the repository's events, or the reason they are
    ignored: an unknown, deleted or unclaimed installation, a repository the team
    does not track, or one removed from the installation."""
    lookups = lookups or Lookups()
    installation = installation_eligibility(installation_id=installation_id, lookups=lookups)
    if isinstance(installation, Ineligible):
        return installation
    team = installation.team
    if team is None:
        return Ineligible(
            f"Installation {installation.installation_id} is not claimed by a team yet."
        )
    repository = lookups.repository(installation, repository_github_id)
    name = repository_name or (repository.full_name if repository else "") or "The repository"
    if repository is not None and repository.deleted_at is not None:
        return Ineligible(f"{name} was deleted on GitHub.")
    if repository is None or not repository.tracked:
        return Ineligible(f"{name} is not tracked by {team.name}.")
    if not repository.accessible:
        return Ineligible(f"{name} was removed from the installation.")
    return Eligible(installation=installation, team=team, repository=repository)

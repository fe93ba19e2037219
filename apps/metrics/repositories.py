"""What the metrics need to know of repositories, and who tells them.

Repositories are the integrations' rows (`apps.integrations.models.Repository`,
which pull requests point at); the metrics never import that app. They ask this
port instead, which the integrations app provides when Django starts
(`IntegrationsConfig.ready`): the dashboard lists a team's repositories, and
revert linking finds a repository by the names it has had. A test checks that
it is provided (tests/test_layout.py).

The write path is handed repository rows (an event's repository, the one a
deployment is recorded in); it names them by `RepositoryRecord`, the few
attributes it reads, never by the integrations' model."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured
from django.db import models

from apps.teams.models import Team


class RepositoryRecord(Protocol):
    """A repository row as the metrics read it: the integrations' `Repository`
    is one (structurally), and is what the pipeline, history and the API hand
    over. Read-only, so that nothing here can write a repository."""

    @property
    def pk(self) -> Any: ...

    @property
    def github_id(self) -> int: ...

    @property
    def tracked_at(self) -> datetime | None: ...


def repository_assign(row: models.Model, repository: RepositoryRecord) -> None:
    """Point a metrics row's `repository` foreign key at this repository.

    The key's declared type is the integrations' model, which the metrics do not
    name; the object handed over always is one, and Django checks that on
    assignment (a ValueError otherwise). The object is kept, not only its id, so
    that the row's `repository` is read without a query."""
    setattr(row, "repository", repository)  # noqa: B010 (typed as the port, see above)


class RepositoryDirectory(Protocol):
    def names_for_team(self, *, team: Team) -> list[str]:
        """Full names of the team's repositories the dashboard's filter offers
        (tracked, or holding the team's pull requests), sorted, each once."""
        ...

    def ids_named(self, *, team: Team, full_name: str) -> list[int]:
        """Row ids of the team's repositories with this full name (none: [])."""
        ...

    def github_ids_named(self, *, team_id: int, full_name: str) -> Any:
        """GitHub ids of the team's repositories (of its installations, or holding
        its pull requests) whose newest name is this one, case-insensitive: a
        values query, for use as a subquery."""
        ...

    def names_of(self, *, github_id: int) -> set[str]:
        """Every name (lower case) the repository with this GitHub id has had here."""
        ...

    def tracked_named(self, *, team: Team, full_name: str) -> Any:
        """The team's tracked repository of this name, case-insensitive (the
        newest row), or None: where the API records a deployment."""
        ...


class _Directory:
    provided: RepositoryDirectory | None = None


def repository_directory_provide(directory: RepositoryDirectory) -> None:
    _Directory.provided = directory


def repository_directory() -> RepositoryDirectory:
    if _Directory.provided is None:
        raise ImproperlyConfigured("no repository directory: is apps.integrations installed?")
    return _Directory.provided

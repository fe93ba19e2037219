"""Installations and repositories read once per pass of the drain."""

from __future__ import annotations

from apps.integrations.models import Installation, Repository


class Lookups:
    """Installations and repositories, read once per batch of deliveries (a batch
    is mostly one busy installation's events). An installation or
    installation_repositories event makes routing forget that installation."""

    def __init__(self) -> None:
        self._installations: dict[int, Installation | None] = {}
        self._repositories: dict[tuple[int, int], Repository | None] = {}

    def installation(self, installation_id: int) -> Installation | None:
        if installation_id not in self._installations:
            self._installations[installation_id] = (
                Installation.objects.select_related("team")
                .filter(installation_id=installation_id)
                .first()
            )
        return self._installations[installation_id]

    def repository(self, installation: Installation, github_id: int | None) -> Repository | None:
        if github_id is None:
            return None
        key = (installation.installation_id, github_id)
        if key not in self._repositories:
            self._repositories[key] = Repository.objects.filter(
                installation=installation, github_id=github_id
            ).first()
        return self._repositories[key]

    def forget(self, installation_id: int) -> None:
        self._installations.pop(installation_id, None)
        for key in [key for key in self._repositories if key[0] == installation_id]:
            del self._repositories[key]

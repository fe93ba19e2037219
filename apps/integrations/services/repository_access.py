"""What a team does with its installation's repositories: re-sync the list
from GitHub, choose which to track, disconnect the installation."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from apps.integrations.models import Installation, Repository
from apps.integrations.pipeline.requeue import requeue_ignored_deliveries
from apps.integrations.services.github_api import installation_github
from apps.integrations.services.history import history_backfill_queue, history_runs_stop
from apps.integrations.services.installations import repositories_sync
from github_app import api


class RepositoryNotTrackable(Exception):
    """Tracking was refused; the message says why, for the page."""


def repositories_resync(*, installation: Installation) -> list[Repository]:
    """The installation's whole repository list, every page, from
    ``GET /installation/repositories``; repositories missing from it are marked
    no longer accessible. Raises GitHubError when GitHub cannot be read."""
    # An event received while the pages are read is newer than the list: the
    # list counts as of when reading began.
    read_started = timezone.now()
    items = api.installation_repositories(
        installation_github(installation_id=installation.installation_id)
    )
    with transaction.atomic():
        return repositories_sync(
            installation=installation, repositories=items, complete=True, at=read_started
        )


def repository_set_tracked(*, repository: Repository, tracked: bool) -> Repository:
    if tracked and repository.tracked:
        return repository
    if tracked:
        installation = repository.installation
        if installation.deleted_at is not None:
            raise RepositoryNotTrackable(
                f"{repository.full_name} cannot be tracked: the app was uninstalled on GitHub."
            )
        if installation.suspended_at is not None:
            raise RepositoryNotTrackable(
                f"{repository.full_name} cannot be tracked while the installation is "
                "suspended on GitHub."
            )
        if repository.deleted_at is not None:
            raise RepositoryNotTrackable(
                f"{repository.full_name} cannot be tracked: it was deleted on GitHub."
            )
        if not repository.accessible:
            raise RepositoryNotTrackable(
                f"{repository.full_name} cannot be tracked: the installation no longer "
                "grants access to it. Change repository access on GitHub, then re-sync."
            )
    with transaction.atomic():
        repository.tracked = tracked
        repository.tracked_at = timezone.now() if tracked else None
        repository.untracked_reason = ""
        repository.save(update_fields=["tracked", "tracked_at", "untracked_reason", "updated_at"])
        if tracked:
            requeue_ignored_deliveries(
                installation_id=repository.installation.installation_id,
                repository_github_id=repository.github_id,
            )
            history_backfill_queue(repository=repository)
        else:
            history_runs_stop(repositories=[repository], reason="Tracking was stopped.")
    return repository


@transaction.atomic
def installation_disconnect(*, installation: Installation) -> Installation:
    """Unlink the installation from its team. Rows and metrics are kept; its
    events are stored and ignored from now on, until a team claims it again.

    Tracking choices were the team's: they go too, so a team that claims the
    installation later starts from nothing tracked, not from another team's picks."""
    installation.team = None
    installation.claimed_at = None
    installation.claimed_by = None
    installation.save(update_fields=["team", "claimed_at", "claimed_by", "updated_at"])
    history_runs_stop(
        repositories=installation.repositories.all(), reason="The installation was disconnected."
    )
    installation.repositories.filter(tracked=True).update(
        tracked=False, tracked_at=None, updated_at=timezone.now()
    )
    return installation

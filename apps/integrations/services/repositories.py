"""Repositories follow GitHub: names, privacy, archiving and deletion.

Keyed by GitHub's repository id. GitHub shows a repository's current name,
privacy and archived flag in the ``repository`` block of every event about it
(pull requests and reviews included), and sends a ``repository`` event when it
is renamed, transferred, archived, unarchived, made private or public, edited
or deleted. The newest block wins: blocks are ordered by their own
``updated_at`` (GitHub moves it on every change of the repository), then by
the delivery's receipt time, as pull request snapshots are
(`apps.metrics.services.payloads.is_not_older`). A deletion is final: GitHub
never reuses a repository id."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction

from apps.integrations.models import Repository
from apps.metrics.services.payloads import RepositoryBlock, SnapshotTime, is_not_older

DELETED_REASON = "Deleted on GitHub: no longer tracked."


def _snapshot_fields(repository: Repository, block: RepositoryBlock) -> dict[str, object]:
    fields: dict[str, object] = {"full_name": block.full_name}
    if block.private is not None:
        fields["private"] = block.private
    if block.archived is not None:
        fields["archived"] = block.archived
    return {name: value for name, value in fields.items() if getattr(repository, name) != value}


def repository_snapshot_record(
    *, repository: Repository, block: RepositoryBlock, received_at: datetime | None
) -> bool:
    """Record what the block shows of the repository (its name, privacy and
    archived flag), unless the row holds a newer block or the repository was
    deleted. The row (and the object passed in) change only when something
    differs, so the events of a repository that did not change write nothing.
    Whether it changed."""
    if repository.deleted_at is not None or block.github_id != repository.github_id:
        return False
    seen = SnapshotTime(block.updated_at, received_at)
    stored = SnapshotTime(repository.snapshot_updated_at, repository.snapshot_received_at)
    changed = _snapshot_fields(repository, block)
    if not changed or not is_not_older(seen, stored):
        return False
    for name, value in changed.items():
        setattr(repository, name, value)
    repository.snapshot_updated_at, repository.snapshot_received_at = seen.updated_at, received_at
    repository.save(
        update_fields=[*changed, "snapshot_updated_at", "snapshot_received_at", "updated_at"]
    )
    return True


@transaction.atomic
def repositories_follow(
    *, block: RepositoryBlock, received_at: datetime | None
) -> list[Repository]:
    """A ``repository`` event (renamed, transferred, archived, …): every row of
    this GitHub repository (one per installation that reached it) takes the
    block's name and states, newest wins. The rows changed."""
    rows = Repository.objects.select_for_update().filter(github_id=block.github_id).order_by("pk")
    return [
        row
        for row in rows
        if repository_snapshot_record(repository=row, block=block, received_at=received_at)
    ]


@transaction.atomic
def repositories_mark_deleted(*, github_id: int, at: datetime) -> list[Repository]:
    """The repository was deleted on GitHub: every row of it stops being tracked,
    with the reason kept. Its pull requests and metrics stay."""
    rows: Iterable[Repository] = (
        Repository.objects.select_for_update()
        .filter(github_id=github_id, deleted_at__isnull=True)
        .order_by("pk")
    )
    deleted = []
    for row in rows:
        row.deleted_at, row.tracked, row.tracked_at = at, False, None
        row.accessible, row.untracked_reason = False, DELETED_REASON
        row.save(
            update_fields=[
                "deleted_at",
                "tracked",
                "tracked_at",
                "accessible",
                "untracked_reason",
                "updated_at",
            ]
        )
        deleted.append(row)
    return deleted

"""Revert linking: which pull request a revert reverts, found by what it names.

What a pull request says it reverts is read from its title, branch and body
(`payloads.revert_reference`); the link is made here, by number within one
repository, never by title. The repository is matched by GitHub's id
(`repository_github_id`), never by the per-installation Repository row, so a
repository's pull requests stay one history across an uninstall and reinstall
(a second row for the same GitHub repository). A name (`Reverts org/repo#N`) is
taken as the revert's own repository when its event's repository block has
that name, else looked up among the repositories' newest names, case-insensitive.

A revert can arrive before the pull request it reverts: it then waits
(`reverts_number` set, `reverts` empty) and is linked when that pull request
arrives (`reverts_link_waiting`)."""

from __future__ import annotations

from datetime import datetime
from functools import reduce
from operator import or_

from django.db.models import Q

from apps.metrics.models import PullRequest
from apps.metrics.repositories import repository_directory


def reverted_pull_request(row: PullRequest) -> PullRequest | None:
    """The pull request this revert names, if the team has it (by number, never by title)."""
    if row.reverts_number is None:
        return None
    candidates = PullRequest.objects.filter(team_id=row.team_id, number=row.reverts_number)
    if row.reverts_repository_github_id is not None:
        candidates = candidates.filter(repository_github_id=row.reverts_repository_github_id)
    elif row.reverts_repository_full_name:
        candidates = candidates.filter(
            repository_github_id__in=repository_directory().github_ids_named(
                team_id=row.team_id, full_name=row.reverts_repository_full_name
            )
        )
    else:
        # Numbers repeat across repositories: without one, a link would be a guess.
        return None
    return candidates.exclude(pk=row.pk).order_by("pk").first()


def reverts_link_waiting(arrived: list[PullRequest]) -> dict[int, list[datetime]]:
    """Link the reverts that arrived before the pull requests they revert (rows
    new, or moved to another repository). For each arrived pull request that
    reverts were linked to (by its pk), when its merged reverts were merged:
    empty when none was linked.

    One read finds the numbers reverts wait for (usually none); each pull request
    waited for is then linked by an UPDATE whose conditions are its own, so
    PostgreSQL checks them again on a revert another worker changed while this
    one waited for its lock."""
    targets = [row for row in arrived if row.repository_github_id is not None]
    if not targets:
        return {}
    waited_for = set(
        PullRequest.objects.filter(
            team_id__in={row.team_id for row in targets},
            reverts_number__in={row.number for row in targets},
            reverts__isnull=True,
        ).values_list("team_id", "reverts_number")
    )
    linked: dict[int, list[datetime]] = {}
    for row in targets:
        repository_github_id = row.repository_github_id
        if repository_github_id is None or (row.team_id, row.number) not in waited_for:
            continue
        by_id = Q(reverts_repository_github_id=row.repository_github_id)
        # Reverts stored before ids were kept name no id: the same repository,
        # or one of the names this repository has had here.
        unresolved = Q(reverts_repository_github_id__isnull=True)
        same_repository = Q(
            reverts_repository_full_name="", repository_github_id=row.repository_github_id
        )
        names = repository_directory().names_of(github_id=repository_github_id)
        named = [Q(reverts_repository_full_name__iexact=name) for name in sorted(names)]
        count = (
            PullRequest.objects.filter(
                team_id=row.team_id, reverts_number=row.number, reverts__isnull=True
            )
            .filter(by_id | (unresolved & reduce(or_, [same_repository, *named])))
            .exclude(pk=row.pk)
            .update(reverts=row)
        )
        if count:
            # Those merged have reverted it (the lifecycle's `reverted`); reverts
            # linked before are read too, and their event is there already.
            linked[row.pk] = [
                merged_at
                for merged_at in PullRequest.objects.filter(reverts=row, merged_at__isnull=False)
                .exclude(pk=row.pk)
                .values_list("merged_at", flat=True)
                if merged_at is not None
            ]
    return linked

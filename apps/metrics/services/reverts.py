"""Revert linking: which pull request a revert reverts, found by what it names.

What a pull request says it reverts is read from its title, branch and body
(`payloads.revert_reference`); the link is made here, by number within the
team's repositories, never by title. A revert can arrive before the pull request
it reverts: it then waits (`reverts_number` set, `reverts` empty) and is linked
when that pull request arrives (`reverts_link_waiting`)."""

from __future__ import annotations

from django.db.models import Q

from apps.metrics.models import PullRequest


def reverted_pull_request(row: PullRequest) -> PullRequest | None:
    """The pull request this revert names, if the team has it (by number, never by title)."""
    candidates = PullRequest.objects.filter(team_id=row.team_id, number=row.reverts_number)
    if row.reverts_repository_full_name:
        candidates = candidates.filter(
            repository__full_name__iexact=row.reverts_repository_full_name
        )
    elif row.repository_id is not None:
        candidates = candidates.filter(repository_id=row.repository_id)
    else:
        # Numbers repeat across repositories: without one, a link would be a guess.
        return None
    return candidates.exclude(pk=row.pk).first()


def reverts_link_waiting(arrived: list[PullRequest]) -> bool:
    """Link the reverts that arrived before the pull requests they revert (rows
    new, or moved to another repository). Whether any was linked.

    One read finds the numbers reverts wait for (usually none); each pull request
    waited for is then linked by an UPDATE whose conditions are its own, so
    PostgreSQL checks them again on a revert another worker changed while this
    one waited for its lock."""
    targets = [row for row in arrived if row.repository_id is not None]
    if not targets:
        return False
    waited_for = set(
        PullRequest.objects.filter(
            team_id__in={row.team_id for row in targets},
            reverts_number__in={row.number for row in targets},
            reverts__isnull=True,
        ).values_list("team_id", "reverts_number")
    )
    linked = 0
    for row in targets:
        if (row.team_id, row.number) not in waited_for:
            continue
        same_repository = Q(reverts_repository_full_name="", repository_id=row.repository_id)
        named = Q(reverts_repository_full_name__iexact=row.repository.full_name)
        linked += (
            PullRequest.objects.filter(
                team_id=row.team_id, reverts_number=row.number, reverts__isnull=True
            )
            .filter(same_repository | named)
            .exclude(pk=row.pk)
            .update(reverts=row)
        )
    return linked > 0

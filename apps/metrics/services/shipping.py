"""Recording what a deployment shipped: the merged pull requests its commits
merged, applied through the write path's batch (`ShipChange`) like every
change of rows. Apart from `deployments.py` because it applies through the
registry of kinds, which lists the deployment kind."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q

from apps.metrics.models import Deployment, PullRequest
from apps.metrics.services.batches import apply_changes
from apps.metrics.services.deployments import FAMILIES, ShipChange
from apps.metrics.services.kinds import KINDS
from apps.metrics.services.payloads import read_sha


def deployment_ship(
    *,
    deployment_id: int,
    previous_id: int | None,
    shas: Iterable[str] | None,
    sha: str = "",
) -> Deployment:
    """Record what the deployment shipped: the merged pull requests of its
    repository whose merge commit is among ``shas`` (the commits GitHub's compare
    gives between the previous successful production deployment and this one).
    ``shas`` None: there is no previous one; it shipped the merged pull requests
    of its repository merged before it finished that no deployment shipped yet
    (docs/metrics.md)."""
    deployment = Deployment.objects.select_related("team").get(pk=deployment_id)
    merged = PullRequest.objects.filter(
        team_id=deployment.team_id,
        repository_github_id=deployment.repository_github_id,
        state=PullRequest.State.MERGED,
    )
    family = FAMILIES[deployment.source]
    # Deployed by no deployment of this history (or by one of a source that no
    # longer counts for the repository: the automatic source moved on).
    not_shipped_here = Q(deployment__isnull=True) | ~Q(deployment__source__in=family)
    if shas is None:
        matched = merged.filter(not_shipped_here, merged_at__lte=deployment.finished_at)
    else:
        wanted = sorted({sha for sha in (read_sha(value) for value in shas) if sha})
        matched = merged.filter(merge_commit_sha__in=wanted) if wanted else merged.none()
    found = list(
        matched.order_by("github_id").values_list("github_id", "number", "deployment__source")
    )
    pull_requests = tuple((github_id, number) for github_id, number, _ in found)
    replace = frozenset(
        github_id for github_id, _, source in found if source is not None and source not in family
    )
    change = ShipChange(
        team=deployment.team,
        deployment_key=deployment.key,
        previous_id=previous_id,
        pull_requests=pull_requests,
        sha=read_sha(sha) or "",
        replace=replace,
    )
    (row,) = apply_changes([change], sources=["webhook"], kinds=KINDS)
    return deployment if not isinstance(row, Deployment) else row

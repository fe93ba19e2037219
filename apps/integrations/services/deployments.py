"""What a deployment shipped, read from GitHub: the commits between the
previous successful production deployment of its repository and this one
(GitHub's compare API), handed to the metrics (`deployment_ship`), which match
them to merged pull requests by their merge commit.

Queued (by name, `apps.metrics.services.deployments.SHIP_TASK`) after the
commit that stores a successful production deployment; the task
(`apps/integrations/tasks.py`) retries GitHub's transient errors."""

from __future__ import annotations

import logging

from apps.integrations.models import Repository
from apps.integrations.services.github_api import installation_github
from apps.metrics.figures_deployments import deployment_sources
from apps.metrics.models import Deployment, PullRequest
from apps.metrics.services.deployments import FAMILIES, deployment_previous
from apps.metrics.services.shipping import deployment_ship
from github_app.api import commit_sha, compare_commits
from github_app.client import GitHubClient, InstallationStrategy
from github_app.errors import NotFound

logger = logging.getLogger(__name__)


def deployment_ship_read(*, deployment_id: int) -> str:
    """Read and record what the deployment shipped; what became of it."""
    deployment = Deployment.objects.select_related("team").filter(pk=deployment_id).first()
    if deployment is None:
        return "gone"
    if deployment.shipped_at is not None:
        return "shipped already"
    resolved = deployment_sources(team=deployment.team).get(deployment.repository_github_id or 0)
    if resolved is None or deployment.source not in FAMILIES[resolved[1]]:
        # Not the repository's source (yet): it ships nothing, counts for nothing.
        return "not counted"
    if deployment.source == Deployment.Source.MERGE:
        # A merge deploys its own pull request, and only it.
        deployment_ship(deployment_id=deployment.pk, previous_id=None, shas=[deployment.sha])
        return "merge"
    repository = (
        Repository.objects.select_related("installation")
        .filter(pk=deployment.repository_id)
        .first()
    )
    sha = deployment.sha
    if not sha:
        # A release names a tag: its commit is GitHub's to say.
        if repository is None or not deployment.ref:
            return "no commit"
        sha = commit_sha(_github(repository), full_name=repository.full_name, ref=deployment.ref)
    previous = deployment_previous(deployment)
    if previous is None or not previous.sha:
        # No previous deployment to compare with (docs/metrics.md).
        deployment_ship(deployment_id=deployment.pk, previous_id=None, shas=None, sha=sha)
        return "first"
    if repository is None:
        return "no repository"
    shas: list[str] = []
    if repository.installation.demo:
        # The demo's story has no GitHub behind it: its history is linear, so
        # the commits between two deployments are the merges between theirs.
        shas = _demo_commits(deployment=deployment, base=previous.sha, head=sha)
    elif previous.sha != sha:
        try:
            shas = compare_commits(
                _github(repository), full_name=repository.full_name, base=previous.sha, head=sha
            )
        except NotFound:
            # A commit GitHub does not know (force-pushed away): nothing to match.
            logger.warning("compare %s...%s: not found", previous.sha, sha)
    deployment_ship(deployment_id=deployment.pk, previous_id=previous.pk, shas=shas, sha=sha)
    return "compared"


def _demo_commits(*, deployment: Deployment, base: str, head: str) -> list[str]:
    merged = PullRequest.objects.filter(
        team_id=deployment.team_id,
        repository_github_id=deployment.repository_github_id,
        merged_at__isnull=False,
    )
    times = dict(
        merged.filter(merge_commit_sha__in=[base, head]).values_list(
            "merge_commit_sha", "merged_at"
        )
    )
    if base not in times or head not in times or times[head] <= times[base]:
        return []
    return list(
        merged.filter(merged_at__gt=times[base], merged_at__lte=times[head]).values_list(
            "merge_commit_sha", flat=True
        )
    )


def _github(repository: Repository) -> GitHubClient[InstallationStrategy]:
    return installation_github(installation_id=repository.installation.installation_id)

"""A pull request's commits read from GitHub into the metrics: after a live
merge (the task `fetch_pull_request_commits`, queued by the metrics' consumer
`pull-request-commits`) and inside history's pages (`history_commit_events`).

Both read with the installation's token through `github_app/commits.py`, whose
adapter shapes the commits as a `pull_request_commits` event, and apply it
through the one entry (`events_apply`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from githubkit import GitHub

from apps.integrations.models import Repository
from apps.integrations.pipeline.eligibility import Ineligible, repository_eligibility
from apps.integrations.services.github_api import installation_github
from apps.metrics.models import PullRequest
from apps.metrics.services.processors import MetricsEvent, Source, events_apply
from github_app.commits import (
    EVENT,
    Pace,
    commits_payload,
    pull_request_commits,
    pull_requests_commits,
    unpaced,
)
from github_app.history import RateLimit, graphql_endpoint
from github_app.values import github_id, id_from_text

logger = logging.getLogger(__name__)


def pull_request_commits_fetch(*, pull_request_id: int) -> str:
    """Read the pull request's commits from GitHub and apply them; what became
    of it ("stored", or why nothing was asked or stored). Raises GitHub's errors
    (github_app.errors) for the task to retry or give up on."""
    pull_request = (
        PullRequest.objects.select_related("repository__installation")
        .filter(pk=pull_request_id)
        .first()
    )
    if pull_request is None or pull_request.repository is None:
        return "no such pull request, or no repository"
    repository: Repository = pull_request.repository
    if repository.installation.demo:
        return "a demo repository: GitHub has no such pull request"
    eligibility = repository_eligibility(
        installation_id=repository.installation.installation_id,
        repository_github_id=repository.github_id,
    )
    if isinstance(eligibility, Ineligible):
        return eligibility.reason
    if eligibility.team.pk != pull_request.team_id:
        return "the repository is another team's now"
    github = installation_github(installation_id=repository.installation.installation_id)
    nodes, _ = pull_request_commits(
        github,
        endpoint=graphql_endpoint(settings.GITHUB_API_URL),
        full_name=repository.full_name,
        number=pull_request.number,
    )
    payload = commits_payload(
        pull_request_id=pull_request.github_id,
        number=pull_request.number,
        nodes=nodes,
        repository=_block(repository),
    )
    event = MetricsEvent(
        team=eligibility.team,
        repository=eligibility.repository,
        name=EVENT,
        payload=payload,
        source=Source.FETCH,
    )
    [result] = events_apply(events=[event])
    if not result.ok:
        logger.warning("commits of pull request %s not stored: %s", pull_request_id, result.error)
        return result.error
    return "stored"


def history_commit_events(
    github: GitHub[Any],
    *,
    endpoint: str,
    repository: Repository,
    nodes: Sequence[Mapping[str, Any]],
    pace: Pace = unpaced,
) -> tuple[list[dict[str, Any]], RateLimit | None]:
    """The `pull_request_commits` payloads of a history page's merged pull
    requests (GraphQL nodes), read in batches by node id, each request through
    ``pace`` (history's pacer); and the rate limit as the last read left it
    (None: nothing read)."""
    merged = {
        node["id"]: node
        for node in nodes
        if node.get("merged") is True and isinstance(node.get("id"), str)
    }
    if not merged:
        return [], None
    found, rate_limit = pull_requests_commits(
        github,
        endpoint=endpoint,
        full_name=repository.full_name,
        node_ids=list(merged),
        pace=pace,
    )
    payloads = []
    for item in found:
        node = merged.get(item.node_id)
        database_id = _database_id(node) if node is not None else None
        number = node.get("number") if node is not None else None
        if database_id is None or not isinstance(number, int):
            continue
        payloads.append(
            commits_payload(
                pull_request_id=database_id,
                number=number,
                nodes=item.nodes,
                repository=_block(repository),
            )
        )
    return payloads, rate_limit


def _block(repository: Repository) -> dict[str, Any]:
    return {"id": repository.github_id, "full_name": repository.full_name}


def _database_id(node: Mapping[str, Any]) -> int | None:
    full = node.get("fullDatabaseId")
    if isinstance(full, str) and (found := id_from_text(full)) is not None:
        return found
    return github_id(node.get("databaseId"))

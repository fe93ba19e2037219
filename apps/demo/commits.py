"""The demo's commits (docs/ai.md): no webhook carries a pull request's
commits, and the demo's pull requests are on no GitHub to read them from, so
the demo shapes each merged pull request's commits as GitHub's GraphQL lists
them, through the one adapter (`github_app/commits.py`), and applies them
through the one entry, as the live read after a merge does.

Deterministic (a seed per pull request): some people let an AI co-author
their commits (Claude, Cursor's agent, Copilot), each at their own rate, and
the Copilot coding agent's pull requests are committed by its account."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from apps.demo import story
from apps.metrics.models import PullRequest
from apps.metrics.services.processors import MetricsEvent, Source, events_apply
from apps.teams.models import Team
from github_app.commits import EVENT, commits_payload

# How often each person's commits have an AI co-author, and which.
CO_AUTHORS = {
    "amara-okafor": (0.15, "Claude <noreply@anthropic.com>"),
    "bruno-lima": (0.05, "Copilot <175728472+Copilot@users.noreply.github.com>"),
    "chen-wei": (0.5, "Claude Sonnet 4.5 <noreply@anthropic.com>"),
    "dana-kovacs": (0.25, "Cursor Agent <cursoragent@cursor.com>"),
    "eli-brennan": (0.2, "Claude <noreply@anthropic.com>"),
    "farah-haddad": (0.45, "Cursor Agent <cursoragent@cursor.com>"),
}
AGENT_COMMITTER = {"databaseId": 198175, "login": "copilot-swe-agent[bot]"}
BATCH = 100


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _nodes(pull_request: PullRequest) -> list[dict[str, Any]]:
    """The pull request's commits as GraphQL nodes: one before it was opened,
    more while it was open."""
    rng = random.Random(pull_request.github_id)  # noqa: S311 (a story, not a secret)
    author = pull_request.author
    login = author.login if author is not None else ""
    opened = pull_request.pr_created_at
    merged = pull_request.merged_at
    if opened is None or merged is None:
        return []
    times = [opened - timedelta(minutes=rng.randint(20, 600))]
    for _ in range(rng.randint(0, 3)):
        times.append(opened + (merged - opened) * rng.uniform(0.05, 0.9))
    rate, co_author = CO_AUTHORS.get(login, (0.0, ""))
    agent = login == story.AGENT["login"]
    nodes = []
    for index, moment in enumerate(sorted(times)):
        message = f"{pull_request.title} ({index + 1})" if index else pull_request.title
        if agent:
            user = AGENT_COMMITTER
            message += "\n\nCo-authored-by: " + f"{login} <{login}@users.noreply.github.com>"
        else:
            user = {"databaseId": author.github_id, "login": login} if author else None
            if rng.random() < rate:
                message += f"\n\nCo-authored-by: {co_author}"
        sha = f"{rng.getrandbits(160):040x}"
        nodes.append(
            {
                "commit": {
                    "oid": sha,
                    "message": message,
                    "authoredDate": _iso(moment),
                    "committedDate": _iso(moment),
                    "author": {"name": login, "email": "", "user": user},
                }
            }
        )
    return nodes


def demo_commits(*, team: Team) -> int:
    """Apply the commits of the team's merged pull requests; how many pull
    requests were given commits. Safe to run again: the same commits each time."""
    pull_requests = list(
        PullRequest.objects.filter(
            team=team, state=PullRequest.State.MERGED, repository__isnull=False
        )
        .select_related("author", "repository")
        .order_by("pk")
    )
    events = [
        MetricsEvent(
            team=team,
            repository=pr.repository,
            name=EVENT,
            payload=commits_payload(
                pull_request_id=pr.github_id,
                number=pr.number,
                nodes=_nodes(pr),
                repository={"id": pr.repository.github_id, "full_name": pr.repository.full_name},
            ),
            source=Source.DEMO,
        )
        for pr in pull_requests
        if pr.repository is not None
    ]
    for first in range(0, len(events), BATCH):
        events_apply(events=events[first : first + BATCH])
    return len(events)

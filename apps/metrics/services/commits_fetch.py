"""Reading a merged pull request's commits, asked on merge: the lifecycle
consumer `pull-request-commits` (`lifecycle.CONSUMERS`).

The metrics never call GitHub: this queues the integrations' task by name
(`COMMITS_TASK`), which reads the commits with the installation's token
(`apps/integrations/services/commits.py`, `github_app/commits.py`) and brings
them back through the one entry as a `pull_request_commits` event. Consumers
take live events only (never history, replay or old merges), once per merge;
history reads the commits of its merged pull requests in its own pages."""

from __future__ import annotations

from apps.common.scheduling import task_send
from apps.metrics.models import PullRequestEvent

COMMITS_TASK = "apps.integrations.tasks.fetch_pull_request_commits"


def commits_fetch_on_merge(event: PullRequestEvent) -> None:
    """Queue the reading of the merged pull request's commits. A broker that
    cannot take it fails the consumer, which is retried."""
    if event.pull_request.repository_id is None:
        return  # no repository, so nothing to ask GitHub about
    task_send(COMMITS_TASK, kwargs={"pull_request_id": event.pull_request_id})

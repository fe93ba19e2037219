"""The registry of row kinds: every kind of row the write path keeps.

Listed in the order a batch loads them: pull requests first, because their rows
are the ones locked (by team and GitHub id), so two workers' batches on the same
pull request wait for each other before touching anything else. They are saved
in dependency order, derived from their models' foreign keys (`save_order`).

Adding a kind (a deployment, a commit) is one module that subclasses
`batches.RowKind` (its readers, keys, load, newest-wins rule, lifecycle part and
save), one line here and a migration for its model; its events are then routed
to the metrics (`processors.READERS`, the drain's routing table) by themselves.
See docs/architecture.md, "Where a change goes"."""

from __future__ import annotations

from apps.metrics.services.batches import RowKind
from apps.metrics.services.commits import CommitRows
from apps.metrics.services.deployments import DeploymentRows
from apps.metrics.services.members import MemberRows
from apps.metrics.services.pull_requests import PullRequestRows
from apps.metrics.services.reviews import ReviewRows

KINDS: tuple[type[RowKind], ...] = (
    PullRequestRows,
    MemberRows,
    ReviewRows,
    CommitRows,
    DeploymentRows,
)

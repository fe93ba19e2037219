"""The registry of row kinds: the batch loads, applies and saves through it,
naming no kind; a new kind is a class and a line in the registry."""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from apps.metrics.models import PullRequest, PullRequestEvent
from apps.metrics.services import batches
from apps.metrics.services.batches import Batch, Need, RowKind, apply_changes, save_order
from apps.metrics.services.commits import CommitRows, read_commits_change
from apps.metrics.services.deployments import DeploymentRows
from apps.metrics.services.kinds import KINDS
from apps.metrics.services.members import MemberRows
from apps.metrics.services.processors import EVENT_NAMES, INTERNAL_EVENTS, READERS, Source
from apps.metrics.services.pull_requests import PullRequestRows, read_pull_request_change
from apps.metrics.services.reviews import ReviewRows
from github_app.webhook_payloads import pull_request_payload


def test_the_events_the_metrics_read_are_the_kinds_readers():
    expected = {
        "pull_request": read_pull_request_change,
        "pull_request_review": ReviewRows.readers["pull_request_review"],
        "pull_request_commits": read_commits_change,
        "deployment": DeploymentRows.readers["deployment"],
        "deployment_status": DeploymentRows.readers["deployment_status"],
        "workflow_run": DeploymentRows.readers["workflow_run"],
        "release": DeploymentRows.readers["release"],
    }
    assert expected == READERS
    # A pull request's commits come from an adapter (github_app/commits.py),
    # never from a webhook: read, never routed.
    assert {"pull_request_commits"} == INTERNAL_EVENTS
    assert set(expected) - INTERNAL_EVENTS == EVENT_NAMES
    claimed = [event for kind in KINDS for event in kind.readers]
    assert len(claimed) == len(set(claimed)), "an event is read by one kind"


def test_kinds_are_saved_after_the_kinds_their_rows_point_at():
    # A pull request points at the deployment that shipped it.
    assert save_order(KINDS) == [
        MemberRows,
        DeploymentRows,
        PullRequestRows,
        ReviewRows,
        CommitRows,
    ]
    assert KINDS[0] is PullRequestRows, "pull requests are locked first"


def test_only_the_kinds_own_models_order_the_save():
    """A pull request points at itself (a revert) and at a repository and a team,
    which are no kinds: none of that orders anything."""

    class Events(RowKind):
        name, model = "event", PullRequestEvent

    class PullRequests(RowKind):
        name, model = "pr", PullRequest

    assert save_order([Events, PullRequests]) == [PullRequests, Events]
    assert save_order([PullRequests]) == [PullRequests]


def test_the_batch_names_no_kind():
    tree = ast.parse(Path(batches.__file__).read_text())
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert not names & {"PullRequest", "PRReview", "TeamMember", "PullRequestRows", "MemberRows"}
    assert not {name for name in imported if name.startswith("apps.metrics.services.")} - {
        "apps.metrics.services.lifecycle"
    }


@dataclass(frozen=True)
class _Noted:
    team: object
    repository: object
    github_id: int

    def needs(self) -> list[Need]:
        return [Need(_NotingKind.name, self.team, self.github_id, "seed")]

    def apply(self, batch: Batch) -> object:
        kind = batch.kind(_NotingKind)
        kind.calls.append(("apply", self.github_id))
        return self.github_id


class _NotingKind(RowKind):
    """A kind of row that only notes what the batch asks of it (its model points
    at pull requests, as a deployment's link would)."""

    name = "noting"
    model = PullRequestEvent
    calls: list[tuple[str, object]] = []

    def load(self, needs: Sequence[Need]) -> None:
        self.calls.append(("load", [(n.github_id, n.seed) for n in needs]))

    def watch(self, change):
        if not any(need.kind == self.name for need in change.needs()):
            return None
        self.calls.append(("before", change.github_id))
        return lambda source: self.calls.append(("after", source))

    def save(self) -> None:
        self.calls.append(("save", None))


@pytest.mark.django_db
def test_a_new_kind_is_loaded_watched_and_saved_by_the_batch_as_its_line_in_the_registry_says(
    team, repository
):
    _NotingKind.calls = []
    pull_request = read_pull_request_change(
        team=team, repository=repository, payload=pull_request_payload(pr_id=5, number=5)
    )
    results = apply_changes(
        [_Noted(team, None, 1), pull_request, _Noted(team, None, 2)],
        sources=[Source.WEBHOOK] * 3,
        kinds=(*KINDS, _NotingKind),
    )

    assert results[0] == 1 and results[2] == 2
    assert results[1].pk == PullRequest.objects.get(github_id=5).pk
    assert _NotingKind.calls == [
        ("load", [(1, "seed"), (2, "seed")]),
        ("before", 1),
        ("apply", 1),
        ("after", "webhook"),
        ("before", 2),
        ("apply", 2),
        ("after", "webhook"),
        ("save", None),
    ]

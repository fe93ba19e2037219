"""The demo's AI story (docs/ai.md): the Copilot coding agent's pull requests,
people's commits co-authored by an AI, labels and markers, Copilot's code
review; the same commits and signals on a second run."""

from __future__ import annotations

import pytest

from apps.demo.feed import DEMO_ADMIN_USERNAME, demo_run
from apps.metrics.models import Commit, MergeQuestion, PullRequest

pytestmark = pytest.mark.django_db


def _signals() -> list[tuple[int, bool, list[dict[str, str]]]]:
    return sorted(PullRequest.objects.values_list("github_id", "is_ai_assisted", "ai_signals"))


def test_it_includes_agents_co_authors_markers_labels_and_ai_reviews(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        demo_run()
    first = demo_run()  # the drain ran after the first run's commits
    signals, commits = _signals(), sorted(Commit.objects.values_list("sha", "pull_request_id"))
    second = demo_run()

    assert first.commits_listed == second.commits_listed >= 50
    assert (_signals(), sorted(Commit.objects.values_list("sha", "pull_request_id"))) == (
        signals,
        commits,
    )
    found = {s["signal"] for _, _, pr_signals in signals for s in pr_signals}
    assert {"agent_author", "agent_commit", "co_author", "body_marker", "label"} <= found
    agents = PullRequest.objects.filter(author__login="Copilot", state="merged")
    assert agents.count() >= 5 and not agents.filter(is_ai_assisted=False).exists()
    # The agent's pull requests are nobody's to answer for.
    assert not MergeQuestion.objects.filter(pull_request__in=agents).exists()
    # Every merged pull request has commits, so a first commit time.
    assert not PullRequest.objects.filter(state="merged", first_commit_at__isnull=True).exists()

    client.force_login(first.team.memberships.get(user__username=DEMO_ADMIN_USERNAME).user)
    ai = client.get("/api/teams/demo-team/metrics/?days=90").json()["ai"]
    assert 0 < ai["assisted"] < ai["merged"]
    assert ai["ai_reviews"] >= 10
    assert ai["self_reported"]["shown"] and ai["self_reported"]["agreement"] is not None

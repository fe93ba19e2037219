"""For every merged pull request, whatever order its events came in, the four
phases the durations engine stores are not negative and sum to its cycle time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.metrics.models import PullRequest, TeamMember
from tests.metrics.figures_fixture import at, pull_request, review

OFFSET = st.integers(min_value=-2 * 24 * 60, max_value=20 * 24 * 60)  # minutes
MAYBE = st.one_of(st.none(), OFFSET)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    ready=MAYBE,
    first_review=MAYBE,
    approvals=st.lists(OFFSET, max_size=3),
    merged=st.integers(min_value=0, max_value=30 * 24 * 60),
)
def test_phases_sum_to_the_cycle_time(team, ready, first_review, approvals, merged):
    opened = at("2025-03-01T09:00")
    minutes = lambda value: None if value is None else opened + timedelta(minutes=value)  # noqa: E731
    author, _ = TeamMember.objects.get_or_create(team=team, github_id=1, login="alice")
    reviewer, _ = TeamMember.objects.get_or_create(team=team, github_id=2, login="carol")
    pr = pull_request(
        team,
        None,
        author=author,
        pr_created_at=opened,
        ready_for_review_at=minutes(ready),
        merged_at=minutes(merged),
    )
    if first_review is not None:
        review(pr, reviewer, "commented", minutes(first_review).isoformat()[:16])
    for offset in approvals:
        review(pr, reviewer, "approved", minutes(offset).isoformat()[:16])

    row = PullRequest.objects.get(pk=pr.pk)

    phases = [row.coding_hours, row.pickup_hours, row.review_hours, row.merge_hours]
    assert all(phase >= -1e-6 for phase in phases), phases
    assert sum(phases) == pytest.approx(row.cycle_time_hours, abs=1e-6)
    assert row.cycle_time_hours == pytest.approx(
        minutes(merged).timestamp() / 3600 - opened.timestamp() / 3600
    )
    pr.delete()

"""A property of the write path: every merged and deployed pull request has a
lead time no shorter than its cycle time, whatever its first commit (before,
after or unknown), its deployment's clock (even one that says it finished
before the merge) and the order its events arrive in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from apps.metrics.models import Deployment, PullRequest
from apps.metrics.services.durations import SLOTS, duration_column
from apps.metrics.services.processors import MetricsEvent, Source, events_apply
from apps.metrics.services.shipping import deployment_ship
from github_app.webhook_payloads import deployment_status_payload, iso, pull_request_payload

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
minutes = st.integers(min_value=0, max_value=60 * 24 * 30)


@hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    pull_requests=st.lists(
        st.tuples(
            minutes,  # opened
            minutes,  # open for
            st.one_of(st.none(), st.integers(min_value=-60 * 24 * 10, max_value=60 * 24 * 10)),
            st.booleans(),  # its merge event arrives after the deployment's
        ),
        min_size=1,
        max_size=5,
    ),
    deployed=st.integers(min_value=-60 * 24 * 3, max_value=60 * 24 * 60),
)
def test_every_deployed_pull_request_has_lead_time_at_least_its_cycle_time(
    team, repository, pull_requests, deployed
):
    PullRequest.objects.all().delete()
    Deployment.objects.all().delete()

    def apply(name: str, payload: dict) -> None:
        event = MetricsEvent(
            team=team, repository=repository, name=name, payload=payload, source=Source.HISTORY
        )
        (result,) = events_apply(events=[event])
        assert result.ok, result.error

    merges, late = [], []
    latest_merge = T0
    for number, (opened, open_for, first_commit, after) in enumerate(pull_requests, start=1):
        opened_at = T0 + timedelta(minutes=opened)
        merged_at = opened_at + timedelta(minutes=open_for)
        latest_merge = max(latest_merge, merged_at)
        payload = pull_request_payload(
            "closed",
            pr_id=number,
            number=number,
            state="closed",
            merged=True,
            created_at=iso(opened_at),
            merged_at=iso(merged_at),
            closed_at=iso(merged_at),
            merge_commit_sha=f"{number:040x}",
            repository_id=repository.github_id,
            repository_full_name=repository.full_name,
        )
        (late if after else merges).append((payload, first_commit, opened_at))
    for payload, _, _ in merges:
        apply("pull_request", payload)
    # The deployment's own clock: it may even say it finished before a merge.
    finished = latest_merge + timedelta(minutes=deployed)
    apply(
        "deployment_status",
        deployment_status_payload(
            state="success",
            status_at=iso(finished),
            deployment_id=1,
            sha=f"{1:040x}",
            created_at=iso(finished - timedelta(minutes=5)),
            repository_id=repository.github_id,
            repository_full_name=repository.full_name,
        ),
    )
    for payload, _, _ in late:
        apply("pull_request", payload)
    for payload, first_commit, opened_at in merges + late:
        if first_commit is not None:
            PullRequest.objects.filter(github_id=payload["pull_request"]["id"]).update(
                first_commit_at=opened_at + timedelta(minutes=first_commit)
            )
    deployment = Deployment.objects.get(key="github:1")
    deployment_ship(
        deployment_id=deployment.pk,
        previous_id=None,
        shas=[f"{number:040x}" for number in range(1, len(pull_requests) + 1)],
    )

    rows = list(PullRequest.objects.filter(state="merged"))
    assert rows
    for row in rows:
        assert row.deployed_at is not None and row.deployed_at >= row.merged_at
        for slot in SLOTS:
            lead = getattr(row, duration_column("lead_time", slot))
            cycle = getattr(row, duration_column("cycle_time", slot))
            assert lead is not None and cycle is not None
            assert lead >= cycle - 1e-9, (slot, row.number, lead, cycle)

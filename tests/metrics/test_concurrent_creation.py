"""Two workers creating the same pull request at once (PostgreSQL row locking)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import transaction

from apps.metrics.models import PRReview, PullRequest, TeamMember
from github_app.webhook_payloads import pull_request_payload, review_payload
from tests.metrics.events import apply_pull_request_event, apply_review_event
from tests.sessions import OtherSession, wait_until_another_session_waits_for_a_lock


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_applies_both_events_when_two_workers_create_the_same_pull_request(team, repository):
    # Both people are known, as seen after these events (so neither worker writes
    # them): the second worker's first wait is on the pull request.
    seen_later = datetime(2025, 1, 2, tzinfo=UTC)
    TeamMember.objects.create(
        team=team, github_id=21031067, login="Codertocat", login_seen_at=seen_later
    )
    TeamMember.objects.create(team=team, github_id=5346, login="octocat", login_seen_at=seen_later)
    opened = pull_request_payload(
        "opened", pr_id=11, title="First title", updated_at="2025-01-01T10:00:00Z"
    )
    reviewed = review_payload(
        pr_id=11, review_id=1, title="Renamed", submitted_at="2025-01-01T12:00:00Z"
    )
    second_worker = OtherSession(
        lambda: apply_review_event(team=team, repository=repository, payload=reviewed)
    )
    with transaction.atomic():
        apply_pull_request_event(team=team, repository=repository, payload=opened)
        second_worker.start()
        wait_until_another_session_waits_for_a_lock()
    second_worker.finish()

    pull_request = PullRequest.objects.get(team=team, github_id=11)
    assert pull_request.title == "Renamed"
    assert pull_request.first_review_at == datetime(2025, 1, 1, 12, tzinfo=UTC)
    assert PRReview.objects.get().pull_request == pull_request


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_does_not_link_a_revert_that_stopped_naming_the_new_pull_request_meanwhile(
    team, repository
):
    def revert_event(body: str, hour: int) -> dict:
        return pull_request_payload(
            pr_id=600,
            number=6,
            title='Revert "x"',
            body=body,
            updated_at=f"2025-01-01T{hour}:00:00Z",
        )

    # The revert names #5, not stored yet: it waits for it.
    apply_pull_request_event(
        team=team, repository=repository, payload=revert_event("Reverts #5", 10)
    )
    first_worker_creates_5 = OtherSession(
        lambda: apply_pull_request_event(
            team=team,
            repository=repository,
            # Another author: the first worker's wait is on the revert's row.
            payload=pull_request_payload(
                pr_id=500,
                number=5,
                updated_at="2025-01-01T11:00:00Z",
                author_id=9001,
                author_login="other",
            ),
        )
    )
    with transaction.atomic():
        # Meanwhile a newer edit of the revert names #7 instead (not committed yet).
        apply_pull_request_event(
            team=team, repository=repository, payload=revert_event("Reverts #7", 12)
        )
        first_worker_creates_5.start()
        wait_until_another_session_waits_for_a_lock()
    first_worker_creates_5.finish()

    revert = PullRequest.objects.get(github_id=600)
    assert (revert.reverts_number, revert.reverts) == (7, None)

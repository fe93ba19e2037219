from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from apps.integrations.models import Repository
from apps.metrics.models import PRReview, PullRequest
from apps.metrics.services.payloads import PayloadError
from apps.teams.models import Team
from github_app.webhook_payloads import pull_request_payload, review_payload
from tests.metrics.events import apply_pull_request_event, apply_review_event

AUTHOR_ID = 21031067


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def review(team: Team, repository: Repository | None, **fields: Any) -> PRReview:
    action = fields.pop("action", "submitted")
    payload = review_payload(action, **fields)
    return apply_review_event(team=team, repository=repository, payload=payload)


@pytest.fixture
def opened(team, repository) -> PullRequest:
    """A pull request opened 2025-01-01T10:00Z by the default author."""
    return apply_pull_request_event(
        team=team,
        repository=repository,
        payload=pull_request_payload("opened", created_at="2025-01-01T10:00:00Z"),
    )


def test_it_records_a_submitted_review_and_the_time_to_first_review(team, repository, opened):
    saved = review(
        team,
        repository,
        review_id=1,
        review_state="approved",
        submitted_at="2025-01-01T13:30:00Z",
        reviewer_id=5346,
        reviewer_login="octocat",
    )

    saved.refresh_from_db()
    assert (saved.github_id, saved.state) == (1, PRReview.State.APPROVED)
    assert saved.submitted_at == at("2025-01-01T13:30:00")
    assert saved.pull_request == opened
    assert saved.team == team
    assert saved.reviewer is not None
    assert (saved.reviewer.github_id, saved.reviewer.login) == (5346, "octocat")
    opened.refresh_from_db()
    assert opened.first_review_at == at("2025-01-01T13:30:00")
    assert opened.review_time_hours == 3.5


def test_it_updates_the_same_review_when_it_is_edited(team, repository, opened):
    review(team, repository, review_id=1, review_state="commented")

    review(
        team, repository, action="edited", review_id=1, review_state="commented", review_body="typo"
    )

    assert PRReview.objects.filter(github_id=1).count() == 1


def test_it_keeps_a_dismissed_review_with_state_dismissed(team, repository, opened):
    review(team, repository, review_id=1, review_state="changes_requested")

    dismissed = review(team, repository, action="dismissed", review_id=1)

    dismissed.refresh_from_db()
    assert dismissed.state == PRReview.State.DISMISSED
    assert PRReview.objects.count() == 1


def test_it_keeps_a_review_dismissed_when_its_submitted_event_is_redelivered_late(
    team, repository, opened
):
    review(team, repository, review_id=1, review_state="changes_requested")
    review(team, repository, action="dismissed", review_id=1)

    late = review(team, repository, review_id=1, review_state="changes_requested")

    late.refresh_from_db()
    assert late.state == PRReview.State.DISMISSED


def test_it_records_a_dismissal_that_arrives_before_the_submission(team, repository, opened):
    review(team, repository, action="dismissed", review_id=1, submitted_at="2025-01-01T12:00:00Z")

    late = review(team, repository, review_id=1, review_state="approved")

    late.refresh_from_db()
    assert late.state == PRReview.State.DISMISSED
    opened.refresh_from_db()
    assert opened.first_review_at is None


def test_it_recomputes_the_first_review_when_it_is_dismissed(team, repository, opened):
    review(team, repository, review_id=1, submitted_at="2025-01-01T11:00:00Z", reviewer_id=7)
    review(team, repository, review_id=2, submitted_at="2025-01-01T15:00:00Z", reviewer_id=8)

    review(
        team,
        repository,
        action="dismissed",
        review_id=1,
        submitted_at="2025-01-01T11:00:00Z",
        reviewer_id=7,
    )

    opened.refresh_from_db()
    assert opened.first_review_at == at("2025-01-01T15:00:00")
    assert opened.review_time_hours == 5.0


def test_it_moves_the_first_review_earlier_when_an_earlier_review_arrives_late(
    team, repository, opened
):
    review(team, repository, review_id=2, submitted_at="2025-01-01T15:00:00Z", reviewer_id=8)

    review(team, repository, review_id=1, submitted_at="2025-01-01T11:00:00Z", reviewer_id=7)

    opened.refresh_from_db()
    assert opened.first_review_at == at("2025-01-01T11:00:00")
    assert opened.review_time_hours == 1.0


@pytest.mark.parametrize(
    "fields",
    [
        {"reviewer_id": 99, "reviewer_login": "ci-bot", "reviewer_type": "Bot"},
        {"reviewer_id": 98, "reviewer_login": "renovate[bot]"},
        {"reviewer_id": AUTHOR_ID, "reviewer_login": "Codertocat"},
        {"reviewer_id": 7, "action": "dismissed"},
        {"reviewer_id": 7, "review_state": "pending", "submitted_at": None},
    ],
    ids=["bot type", "bot login", "author", "dismissed", "pending"],
)
def test_it_does_not_count_as_first_review(team, repository, opened, fields):
    review(team, repository, **{"review_id": 1, "submitted_at": "2025-01-01T11:00:00Z", **fields})

    opened.refresh_from_db()
    assert opened.first_review_at is None
    assert opened.review_time_hours is None
    assert PRReview.objects.count() == 1


def test_it_flags_a_bot_reviewer(team, repository, opened):
    saved = review(team, repository, reviewer_id=99, reviewer_login="ci", reviewer_type="Bot")

    assert saved.reviewer is not None
    assert saved.reviewer.is_bot is True


def test_it_creates_the_pull_request_from_a_review_that_arrives_first(team, repository):
    saved = review(
        team,
        repository,
        review_id=1,
        pr_id=11,
        number=7,
        title="Add login page",
        created_at="2025-01-01T10:00:00Z",
        submitted_at="2025-01-01T12:00:00Z",
    )

    pull_request = PullRequest.objects.get(team=team, github_id=11)
    assert saved.pull_request == pull_request
    assert (pull_request.number, pull_request.title, pull_request.state) == (
        7,
        "Add login page",
        "open",
    )
    assert pull_request.repository == repository
    assert pull_request.author is not None and pull_request.author.github_id == AUTHOR_ID
    assert (pull_request.additions, pull_request.deletions) == (None, None)
    assert pull_request.first_review_at == at("2025-01-01T12:00:00")
    assert pull_request.review_time_hours == 2.0


def test_it_fills_in_a_pull_request_created_by_a_review_when_its_older_event_arrives(
    team, repository
):
    # Like GitHub's submitted event, this copy does not say whether it is a draft.
    review(team, repository, pr_id=11, submitted_at="2025-01-01T12:00:00Z", omit=("draft",))

    apply_pull_request_event(
        team=team,
        repository=repository,
        payload=pull_request_payload(
            "opened",
            pr_id=11,
            draft=True,
            additions=8,
            deletions=3,
            updated_at="2025-01-01T10:00:00Z",
        ),
    )

    pull_request = PullRequest.objects.get(github_id=11)
    assert (pull_request.additions, pull_request.deletions) == (8, 3)
    assert pull_request.is_draft is True
    assert pull_request.pr_updated_at == at("2025-01-01T12:00:00")
    assert pull_request.first_review_at == at("2025-01-01T12:00:00")


def test_it_does_not_let_an_older_review_copy_overwrite_the_pull_request(team, repository):
    apply_pull_request_event(
        team=team,
        repository=repository,
        payload=pull_request_payload(
            "closed",
            title="Final",
            state="closed",
            merged=True,
            merged_at="2025-01-02T15:00:00Z",
        ),
    )

    review(
        team,
        repository,
        title="Draft title",
        review_state="approved",
        submitted_at="2025-01-01T12:00:00Z",
    )

    pull_request = PullRequest.objects.get()
    assert (pull_request.title, pull_request.state) == ("Final", PullRequest.State.MERGED)
    assert pull_request.cycle_time_hours == 29.0


def test_it_changes_nothing_when_the_same_review_comes_twice(team, repository, opened):
    first = review(team, repository, review_id=1)
    first.refresh_from_db()

    second = review(team, repository, review_id=1)

    second.refresh_from_db()
    assert PRReview.objects.count() == 1
    assert second.updated_at == first.updated_at


def test_it_reads_the_rest_apis_upper_case_state(team, repository, opened):
    saved = review(team, repository, review_state="APPROVED")

    assert saved.state == PRReview.State.APPROVED


def test_it_records_an_unknown_state_as_a_comment(team, repository, opened):
    saved = review(team, repository, review_state="something_new")

    assert saved.state == PRReview.State.COMMENTED


def test_it_counts_a_review_by_a_deleted_user(team, repository, opened):
    payload = review_payload(submitted_at="2025-01-01T11:00:00Z")
    payload["review"]["user"] = None

    saved = apply_review_event(team=team, repository=repository, payload=payload)

    assert saved.reviewer is None
    opened.refresh_from_db()
    assert opened.first_review_at == at("2025-01-01T11:00:00")


@pytest.mark.parametrize(
    ("remove", "reason"),
    [
        (("review",), "review is missing"),
        (("review", "id"), "review.id is missing"),
        (("pull_request",), "pull_request is missing"),
        (("pull_request", "id"), "pull_request.id is missing"),
    ],
)
def test_it_rejects_a_review_payload_without_identities(team, remove, reason):
    payload = review_payload()
    if len(remove) == 1:
        del payload[remove[0]]
    else:
        del payload[remove[0]][remove[1]]

    with pytest.raises(PayloadError) as error:
        apply_review_event(team=team, repository=None, payload=payload)

    assert str(error.value) == reason
    assert not PRReview.objects.exists()
    assert not PullRequest.objects.exists()

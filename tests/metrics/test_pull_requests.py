from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from apps.integrations.models import Repository
from apps.metrics.models import PullRequest, TeamMember
from apps.metrics.services.payloads import PayloadError
from apps.teams.models import Team
from github_app.webhook_payloads import (
    pull_request_object,
    pull_request_payload,
    rest_pull_request_item,
    review_payload,
)
from tests.metrics.events import apply_pull_request_event, apply_review_event


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def process(team: Team, repository: Repository | None, payload: dict[str, Any]) -> PullRequest:
    apply_pull_request_event(team=team, repository=repository, payload=payload)
    return PullRequest.objects.get(team=team, github_id=payload["pull_request"]["id"])


def test_it_creates_the_pull_request_from_an_opened_event(team, repository):
    payload = pull_request_payload(
        "opened",
        pr_id=11,
        number=7,
        title="Add login page",
        draft=True,
        created_at="2025-01-01T10:00:00Z",
        additions=120,
        deletions=30,
        labels=["frontend"],
        head_ref="feature/login",
        base_ref="main",
        author_id=501,
        author_login="dana",
    )

    pull_request = apply_pull_request_event(team=team, repository=repository, payload=payload)

    pull_request.refresh_from_db()
    assert pull_request.team == team
    assert pull_request.repository == repository
    assert (pull_request.github_id, pull_request.number) == (11, 7)
    assert pull_request.title == "Add login page"
    assert pull_request.state == PullRequest.State.OPEN
    assert pull_request.is_draft is True
    assert pull_request.pr_created_at == at("2025-01-01T10:00:00")
    assert pull_request.pr_updated_at == at("2025-01-01T10:00:00")
    assert (pull_request.additions, pull_request.deletions) == (120, 30)
    assert pull_request.labels == ["frontend"]
    assert (pull_request.head_branch, pull_request.base_branch) == ("feature/login", "main")
    assert pull_request.html_url == "https://github.com/acme/api/pull/7"
    assert pull_request.author is not None
    assert (pull_request.author.github_id, pull_request.author.login) == (501, "dana")
    assert (pull_request.merged_at, pull_request.closed_at, pull_request.cycle_time_hours) == (
        None,
        None,
        None,
    )


@pytest.mark.parametrize(
    "action",
    [
        "edited",
        "closed",
        "reopened",
        "synchronize",
        "converted_to_draft",
        "ready_for_review",
        "labeled",
        "unlabeled",
        "assigned",
        "unassigned",
        "review_requested",
        "review_request_removed",
        "locked",
        "unlocked",
        "milestoned",
        "demilestoned",
        "auto_merge_enabled",
        "auto_merge_disabled",
        "enqueued",
        "dequeued",
    ],
)
def test_it_updates_the_one_row_for_every_action(team, repository, action):
    process(team, repository, pull_request_payload("opened", pr_id=11, title="Before"))

    pull_request = process(
        team,
        repository,
        pull_request_payload(action, pr_id=11, title="After", updated_at="2025-01-01T11:00:00Z"),
    )

    assert PullRequest.objects.filter(team=team).count() == 1
    assert pull_request.title == "After"
    assert pull_request.pr_updated_at == at("2025-01-01T11:00:00")


def test_it_measures_cycle_time_from_opened_to_merged(team, repository):
    """The design's example: opened 2025-01-01T10:00Z, merged 2025-01-02T15:00Z."""
    process(team, repository, pull_request_payload("opened", created_at="2025-01-01T10:00:00Z"))

    pull_request = process(
        team,
        repository,
        pull_request_payload(
            "closed",
            created_at="2025-01-01T10:00:00Z",
            state="closed",
            merged=True,
            merged_at="2025-01-02T15:00:00Z",
            closed_at="2025-01-02T15:00:00Z",
        ),
    )

    assert pull_request.state == PullRequest.State.MERGED
    assert pull_request.merged_at == at("2025-01-02T15:00:00")
    assert pull_request.cycle_time_hours == 29.0


def test_it_marks_a_pull_request_closed_without_merge_as_closed_without_cycle_time(
    team, repository
):
    pull_request = process(
        team,
        repository,
        pull_request_payload("closed", state="closed", closed_at="2025-01-03T09:00:00Z"),
    )

    assert pull_request.state == PullRequest.State.CLOSED
    assert pull_request.closed_at == at("2025-01-03T09:00:00")
    assert pull_request.cycle_time_hours is None


def test_it_clears_closed_at_and_cycle_time_when_a_closed_pull_request_is_reopened(
    team, repository
):
    process(
        team,
        repository,
        pull_request_payload(
            "closed",
            state="closed",
            merged=True,
            merged_at="2025-01-02T15:00:00Z",
            closed_at="2025-01-02T15:00:00Z",
        ),
    )

    pull_request = process(
        team, repository, pull_request_payload("reopened", updated_at="2025-01-03T08:00:00Z")
    )

    assert pull_request.state == PullRequest.State.OPEN
    assert (pull_request.merged_at, pull_request.closed_at) == (None, None)
    assert pull_request.cycle_time_hours is None


def test_it_records_when_a_draft_becomes_ready_for_review(team, repository):
    process(team, repository, pull_request_payload("opened", draft=True))

    pull_request = process(
        team,
        repository,
        pull_request_payload("ready_for_review", draft=False, updated_at="2025-01-01T14:30:00Z"),
    )

    assert pull_request.is_draft is False
    assert pull_request.ready_for_review_at == at("2025-01-01T14:30:00")


def test_it_leaves_ready_for_review_at_empty_for_a_pull_request_opened_ready(team, repository):
    pull_request = process(
        team, repository, pull_request_payload("opened", updated_at="2025-01-01T10:00:00Z")
    )

    assert pull_request.ready_for_review_at is None


def test_it_keeps_the_latest_ready_for_review_time_whatever_the_delivery_order(team, repository):
    later = pull_request_payload("ready_for_review", updated_at="2025-01-02T09:00:00Z")
    earlier = pull_request_payload("ready_for_review", updated_at="2025-01-01T12:00:00Z")

    process(team, repository, later)
    pull_request = process(team, repository, earlier)

    assert pull_request.ready_for_review_at == at("2025-01-02T09:00:00")


def test_it_marks_a_pull_request_converted_to_draft_as_draft(team, repository):
    process(team, repository, pull_request_payload("opened"))

    pull_request = process(
        team,
        repository,
        pull_request_payload("converted_to_draft", draft=True, updated_at="2025-01-01T11:00:00Z"),
    )

    assert pull_request.is_draft is True


@pytest.mark.parametrize(
    "fields",
    [
        {"title": "Hotfix: login loop"},
        {"labels": ["bug", "HOTFIX"]},
        {"head_ref": "hotfix/login-loop"},
    ],
)
def test_it_flags_a_hotfix_by_title_label_or_head_branch(team, repository, fields):
    pull_request = process(team, repository, pull_request_payload("opened", **fields))

    assert pull_request.is_hotfix is True


def test_it_does_not_flag_an_ordinary_pull_request_as_hotfix_or_revert(team, repository):
    pull_request = process(
        team,
        repository,
        pull_request_payload("opened", title="Revert the flag default", body="Fixes #3"),
    )

    assert (pull_request.is_hotfix, pull_request.is_revert) == (False, False)


def test_it_re_evaluates_hotfix_when_labels_change(team, repository):
    process(team, repository, pull_request_payload("opened"))
    labeled = process(
        team,
        repository,
        pull_request_payload("labeled", labels=["hotfix"], updated_at="2025-01-01T11:00:00Z"),
    )
    assert labeled.is_hotfix is True

    unlabeled = process(
        team,
        repository,
        pull_request_payload("unlabeled", labels=[], updated_at="2025-01-01T12:00:00Z"),
    )

    assert unlabeled.is_hotfix is False
    assert unlabeled.labels == []


def test_it_re_evaluates_hotfix_when_the_title_is_edited(team, repository):
    process(team, repository, pull_request_payload("opened", title="hotfix for prod"))

    pull_request = process(
        team,
        repository,
        pull_request_payload("edited", title="Tidy the README", updated_at="2025-01-01T11:00:00Z"),
    )

    assert pull_request.is_hotfix is False


@pytest.mark.parametrize(
    ("fields", "reverts_number", "reverts_repository"),
    [
        ({"title": 'Revert "Add login page"'}, None, ""),
        ({"head_ref": "revert-12-feature/login"}, 12, ""),
        ({"body": "Reverts #12"}, 12, ""),
        ({"body": "This reverts acme/web#5 because it broke prod."}, 5, "acme/web"),
    ],
)
def test_it_flags_a_revert_by_title_branch_or_body(
    team, repository, fields, reverts_number, reverts_repository
):
    pull_request = process(
        team, repository, pull_request_payload("opened", pr_id=50, number=50, **fields)
    )

    assert pull_request.is_revert is True
    assert pull_request.reverts_number == reverts_number
    assert pull_request.reverts_repository_full_name == reverts_repository


def test_it_re_evaluates_a_revert_when_the_body_is_edited(team, repository):
    process(team, repository, pull_request_payload("opened", pr_id=12, number=12))
    revert = process(
        team, repository, pull_request_payload("opened", pr_id=50, number=50, body="Reverts #12")
    )
    assert revert.reverts is not None

    edited = process(
        team,
        repository,
        pull_request_payload(
            "edited", pr_id=50, number=50, body="Never mind", updated_at="2025-01-01T11:00:00Z"
        ),
    )

    assert (edited.is_revert, edited.reverts, edited.reverts_number) == (False, None, None)


def test_it_links_a_revert_to_the_pull_request_it_reverts(team, repository):
    reverted = process(team, repository, pull_request_payload("opened", pr_id=12, number=12))

    revert = process(
        team,
        repository,
        pull_request_payload(
            "opened", pr_id=50, number=50, title='Revert "x"', head_ref="revert-12-changes"
        ),
    )

    assert revert.reverts == reverted


def test_it_links_a_revert_that_arrived_before_the_pull_request_it_reverts(team, repository):
    process(
        team, repository, pull_request_payload("opened", pr_id=50, number=50, body="Reverts #12")
    )

    reverted = process(team, repository, pull_request_payload("opened", pr_id=12, number=12))

    revert = PullRequest.objects.get(github_id=50)
    assert revert.reverts == reverted
    assert list(reverted.reverted_by.all()) == [revert]


def test_it_links_a_revert_across_repositories_of_the_team(team, repository):
    web = Repository.objects.create(
        installation=repository.installation, github_id=777, full_name="acme/web", tracked=True
    )
    process(
        team,
        repository,
        pull_request_payload("opened", pr_id=50, number=50, body="Reverts acme/web#5"),
    )

    reverted = process(
        team,
        web,
        pull_request_payload(
            "opened", pr_id=5, number=5, repository_id=777, repository_full_name="acme/web"
        ),
    )

    assert PullRequest.objects.get(github_id=50).reverts == reverted


def test_it_does_not_link_a_revert_to_the_same_number_in_another_repository(team, repository):
    web = Repository.objects.create(
        installation=repository.installation, github_id=777, full_name="acme/web", tracked=True
    )
    process(team, web, pull_request_payload("opened", pr_id=5, number=12, repository_id=777))

    revert = process(
        team, repository, pull_request_payload("opened", pr_id=50, number=50, body="Reverts #12")
    )

    assert revert.is_revert is True
    assert revert.reverts is None


def test_it_does_not_link_a_revert_to_another_teams_pull_request(team, repository, outsider):
    other_team = Team.objects.get(slug="other")
    process(other_team, repository, pull_request_payload("opened", pr_id=12, number=12))

    revert = process(
        team, repository, pull_request_payload("opened", pr_id=50, number=50, body="Reverts #12")
    )

    assert revert.reverts is None


def test_it_keeps_newer_fields_when_an_older_snapshot_arrives_late(team, repository):
    process(
        team,
        repository,
        pull_request_payload(
            "closed",
            title="Final title",
            state="closed",
            closed_at="2025-01-03T09:00:00Z",
            additions=50,
            deletions=5,
            draft=False,
            labels=["ready"],
        ),
    )

    pull_request = process(
        team,
        repository,
        pull_request_payload(
            "synchronize",
            title="Early title",
            updated_at="2025-01-02T09:00:00Z",
            additions=10,
            deletions=1,
            draft=True,
            labels=[],
        ),
    )

    assert pull_request.state == PullRequest.State.CLOSED
    assert pull_request.title == "Final title"
    assert (pull_request.additions, pull_request.deletions) == (50, 5)
    assert pull_request.is_draft is False
    assert pull_request.labels == ["ready"]
    assert pull_request.pr_updated_at == at("2025-01-03T09:00:00")


SAME_SECOND = "2025-01-01T10:00:00Z"
BOTH_ORDERS = pytest.mark.parametrize("order", [(0, 1), (1, 0)], ids=["in order", "reversed"])


Delivery = tuple[dict[str, Any], str | None]


def deliver(
    team: Team, repository: Repository, deliveries: list[Delivery], order: tuple[int, ...]
) -> PullRequest:
    """Process the (payload, receipt time) deliveries in this order; no receipt
    time for a REST read."""
    for index in order:
        payload, received_at = deliveries[index]
        apply_pull_request_event(
            team=team,
            repository=repository,
            payload=payload,
            received_at=at(received_at) if received_at else None,
        )
    return PullRequest.objects.get(team=team)


@BOTH_ORDERS
def test_it_keeps_the_label_added_in_the_second_the_pull_request_was_opened(
    team, repository, order
):
    deliveries = [
        (pull_request_payload("opened", labels=[], updated_at=SAME_SECOND), "2025-01-01T10:00:01"),
        (
            pull_request_payload("labeled", labels=["hotfix"], updated_at=SAME_SECOND),
            "2025-01-01T10:00:01.400000",
        ),
    ]

    pull_request = deliver(team, repository, deliveries, order)

    assert (pull_request.labels, pull_request.is_hotfix) == (["hotfix"], True)


def draft_then_ready_in_one_second() -> list[Delivery]:
    return [
        (
            pull_request_payload("converted_to_draft", draft=True, updated_at=SAME_SECOND),
            "2025-01-01T10:00:01",
        ),
        (
            pull_request_payload("ready_for_review", draft=False, updated_at=SAME_SECOND),
            "2025-01-01T10:00:01.200000",
        ),
    ]


@BOTH_ORDERS
def test_it_keeps_ready_for_review_made_in_the_second_it_was_converted_to_draft(
    team, repository, order
):
    pull_request = deliver(team, repository, draft_then_ready_in_one_second(), order)

    assert pull_request.is_draft is False
    assert pull_request.ready_for_review_at == at("2025-01-01T10:00:00")


@BOTH_ORDERS
def test_it_orders_draft_changes_from_one_second_after_a_newer_review_copy(team, repository, order):
    # The review's copy of the pull request has no draft flag: only the draft
    # flag's own clock orders the two late events.
    review = review_payload(submitted_at="2025-01-01T11:00:00Z", omit=("draft",))
    apply_review_event(
        team=team, repository=repository, payload=review, received_at=at("2025-01-01T11:00:01")
    )

    pull_request = deliver(team, repository, draft_then_ready_in_one_second(), order)

    assert pull_request.is_draft is False
    assert pull_request.pr_updated_at == at("2025-01-01T11:00:00")


@BOTH_ORDERS
def test_it_takes_a_rest_read_as_newer_than_a_delivery_from_the_same_second(
    team, repository, order
):
    # A REST read is the state when it was read: it saw everything of its updated_at.
    rest_item = rest_pull_request_item(labels=["hotfix"], updated_at=SAME_SECOND)
    deliveries: list[Delivery] = [
        (pull_request_payload("opened", labels=[], updated_at=SAME_SECOND), "2025-01-01T10:00:01"),
        ({"action": "backfill", "pull_request": rest_item}, None),
    ]

    pull_request = deliver(team, repository, deliveries, order)

    assert (pull_request.labels, pull_request.is_hotfix) == (["hotfix"], True)


def test_it_changes_nothing_when_the_same_event_comes_twice(team, repository):
    payload = pull_request_payload(
        "closed", state="closed", merged=True, merged_at="2025-01-02T15:00:00Z"
    )
    first = process(team, repository, payload)

    second = process(team, repository, payload)

    assert PullRequest.objects.count() == 1
    assert TeamMember.objects.count() == 1
    assert second.updated_at == first.updated_at
    assert _row(second) == _row(first)


def test_it_fills_a_backfilled_pull_request_from_a_later_webhook(team, repository):
    item = rest_pull_request_item(updated_at="2025-01-01T12:00:00Z")
    backfilled = process(team, repository, {"action": "backfill", "pull_request": item})
    assert (backfilled.additions, backfilled.deletions) == (None, None)

    pull_request = process(
        team,
        repository,
        pull_request_payload(
            "synchronize", additions=40, deletions=2, updated_at="2025-01-01T12:00:00Z"
        ),
    )

    assert (pull_request.additions, pull_request.deletions) == (40, 2)


def test_it_reads_merged_state_from_merged_at_in_a_backfill_item(team, repository):
    item = rest_pull_request_item(
        state="closed", merged_at="2025-01-02T15:00:00Z", closed_at="2025-01-02T15:00:00Z"
    )

    pull_request = process(team, repository, {"action": "backfill", "pull_request": item})

    assert pull_request.state == PullRequest.State.MERGED
    assert pull_request.cycle_time_hours == 29.0


def test_it_gives_the_same_row_for_a_backfill_after_webhooks(team, repository):
    fields: dict[str, Any] = {
        "state": "closed",
        "merged_at": "2025-01-02T15:00:00Z",
        "closed_at": "2025-01-02T15:00:00Z",
        "labels": ["hotfix"],
    }
    process(team, repository, pull_request_payload("opened"))
    webhooks_only = _row(
        process(team, repository, pull_request_payload("closed", merged=True, **fields))
    )

    after_backfill = process(
        team, repository, {"action": "backfill", "pull_request": rest_pull_request_item(**fields)}
    )

    assert _row(after_backfill) == webhooks_only


def test_it_keeps_stored_fields_a_payload_does_not_carry(team, repository):
    process(team, repository, pull_request_payload("opened", labels=["api"], draft=True))
    sparse = pull_request_object(
        updated_at="2025-01-01T11:00:00Z", omit=("labels", "draft", "head", "body")
    )

    pull_request = process(team, repository, {"action": "edited", "pull_request": sparse})

    assert pull_request.labels == ["api"]
    assert pull_request.is_draft is True
    assert pull_request.head_branch == "changes"


def test_it_reads_a_pull_request_with_only_its_id_and_number(team):
    pull_request = process(team, None, {"action": "opened", "pull_request": {"id": 9, "number": 3}})

    assert (pull_request.github_id, pull_request.number, pull_request.state) == (9, 3, "open")
    assert pull_request.author is None


def test_it_ignores_malformed_optional_fields(team, repository):
    payload = pull_request_payload(
        "closed",
        state="closed",
        merged_at="not a date",
        additions="many",
        user={"login": "no-id"},
    )
    payload["pull_request"]["labels"] = "bug"

    pull_request = process(team, repository, payload)

    assert pull_request.state == PullRequest.State.CLOSED
    assert pull_request.merged_at is None
    assert pull_request.additions is None
    assert pull_request.labels == []


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"action": "opened"}, "pull_request is missing"),
        ({"action": "opened", "pull_request": "x"}, "pull_request is not an object"),
        ({"action": "opened", "pull_request": {"number": 3}}, "pull_request.id is missing"),
        (
            {"action": "opened", "pull_request": {"id": "3", "number": 3}},
            "pull_request.id is not an integer",
        ),
        ({"action": "opened", "pull_request": {"id": 3}}, "pull_request.number is missing"),
    ],
)
def test_it_rejects_a_payload_without_the_pull_requests_identity(team, payload, reason):
    with pytest.raises(PayloadError) as error:
        apply_pull_request_event(team=team, repository=None, payload=payload)

    assert str(error.value) == reason
    assert not PullRequest.objects.exists()


def test_it_keeps_the_same_pull_request_apart_per_team(team, repository, outsider):
    other_team = Team.objects.get(slug="other")
    payload = pull_request_payload("opened", pr_id=11)

    process(team, repository, payload)
    process(other_team, None, payload)

    assert PullRequest.objects.filter(github_id=11).count() == 2
    assert TeamMember.objects.filter(github_id=payload["pull_request"]["user"]["id"]).count() == 2


def _row(pull_request: PullRequest) -> dict[str, Any]:
    pull_request.refresh_from_db()
    values = {
        f.attname: getattr(pull_request, f.attname) for f in PullRequest._meta.concrete_fields
    }
    for volatile in ("created_at", "updated_at"):
        values.pop(volatile)
    return values


def test_it_keeps_a_very_long_title_and_branch_whole(team, repository):
    title = "Refactor " * 250
    branch = "/".join(["team", *(f"topic-{i}" for i in range(60))])
    payload = pull_request_payload(pr_id=77, number=77, title=title, head_ref=branch)

    pull_request = process(team, repository, payload)

    assert pull_request.title == title
    assert pull_request.head_branch == branch

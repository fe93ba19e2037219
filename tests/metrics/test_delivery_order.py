"""Whatever order GitHub delivers one pull request's events in, and however often
it repeats them, the rows end up as the in-order feed leaves them.

GitHub's updated_at has one-second resolution, so some events share it (opened and
a label, converted_to_draft and ready_for_review, a review and a bot's label); each
event carries the receipt time of its delivery, in the order GitHub sent them, and
a repeated delivery keeps its own."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.integrations.models import Repository, WebhookDelivery
from apps.integrations.pipeline.drain import process_delivery
from apps.metrics.models import PRReview, PullRequest, TeamMember
from apps.metrics.services.processors import MetricsEvent
from apps.teams.models import Team
from github_app.webhook_payloads import pull_request_payload, review_payload
from tests.integrations.conftest import WEBHOOK_URL, signed_headers
from tests.metrics.events import apply_events, metrics_event

OPENED = datetime(2025, 1, 1, 10, tzinfo=UTC)
# A fraction of a second, in hours: GitHub dates both snapshots with the same second.
SAME_SECOND = 0.0001
# GitHub sends each event a little after it happens, in the order they happen.
DELIVERY_DELAY = timedelta(seconds=2)
AUTHOR_ID = 21031067
# The author renames their GitHub account between a review and a bot's label in
# the same second: every event from then on shows the new login.
AUTHOR_RENAMED_AT = 10 + SAME_SECOND / 2
REVIEWER_1 = {"reviewer_id": 7, "reviewer_login": "ruth"}
REVIEWER_2 = {"reviewer_id": 8, "reviewer_login": "sam"}
BOT = {"reviewer_id": 99, "reviewer_login": "lint[bot]", "reviewer_type": "Bot"}


def moment(offset: float) -> datetime:
    return OPENED + timedelta(hours=offset)


def hours(offset: float) -> str:
    """GitHub's time of `offset`, to the second."""
    return moment(offset).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def author_login_at(offset: float) -> str:
    return "Codertocat" if offset < AUTHOR_RENAMED_AT else "Octocoder"


def pull_request_at(offset: float) -> dict[str, Any]:
    """The pull request as GitHub would show it `offset` hours after opening."""
    merged = offset >= 9
    return {
        "pr_id": 11,
        "number": 7,
        "title": "Fix the login loop" if offset >= 8 else "Fix login loop",
        "draft": offset < 1 or 1.5 <= offset < 1.5 + SAME_SECOND,
        "additions": 10 if offset < 2 else 20 if offset < 6.5 else 25,
        "deletions": 1 if offset < 2 else 2,
        "labels": [
            name
            for name, since in (
                ("triage", SAME_SECOND),
                ("hotfix", 4),
                ("reviewed", 10 + SAME_SECOND),
            )
            if offset >= since
        ],
        "created_at": hours(0),
        "updated_at": hours(offset),
        "state": "closed" if merged else "open",
        "merged": merged,
        "merged_at": hours(9) if merged else None,
        "closed_at": hours(9) if merged else None,
        "author_id": AUTHOR_ID,
        "author_login": author_login_at(offset),
    }


@dataclass(frozen=True)
class Event:
    name: str
    # GitHub's event name: pull_request or pull_request_review.
    event: str
    payload: dict[str, Any]
    received_at: datetime

    def for_metrics(self, team: Team, repository: Repository) -> MetricsEvent:
        return metrics_event(
            self.event,
            team=team,
            repository=repository,
            payload=self.payload,
            received_at=self.received_at,
        )


def pr_event(action: str, offset: float) -> Event:
    return Event(
        f"pull_request.{action}@{offset}",
        "pull_request",
        pull_request_payload(action, **pull_request_at(offset)),
        moment(offset) + DELIVERY_DELAY,
    )


def review_event(action: str, offset: float, review_id: int, state: str, **who: Any) -> Event:
    fields = pull_request_at(offset)
    submitted_at = who.pop("submitted_at", hours(offset))
    if action == "submitted":
        # GitHub's submitted event carries no draft flag in its copy of the pull request.
        fields["omit"] = ("draft",)
    return Event(
        f"pull_request_review.{action}#{review_id}@{offset}",
        "pull_request_review",
        review_payload(
            action,
            review_id=review_id,
            review_state=state,
            submitted_at=submitted_at,
            **who,
            **fields,
        ),
        moment(offset) + DELIVERY_DELAY,
    )


LIFE = [
    pr_event("opened", 0),
    pr_event("labeled", SAME_SECOND),
    pr_event("ready_for_review", 1),
    pr_event("converted_to_draft", 1.5),
    pr_event("ready_for_review", 1.5 + SAME_SECOND),
    pr_event("synchronize", 2),
    review_event("submitted", 3, 1, "changes_requested", **REVIEWER_1),
    pr_event("labeled", 4),
    review_event("submitted", 5, 2, "commented", **BOT),
    review_event(
        "submitted", 5.5, 3, "commented", reviewer_id=AUTHOR_ID, reviewer_login=author_login_at(5.5)
    ),
    review_event("dismissed", 6, 1, "dismissed", submitted_at=hours(3), **REVIEWER_1),
    pr_event("synchronize", 6.5),
    review_event("submitted", 7, 4, "approved", **REVIEWER_2),
    review_event("edited", 7.5, 4, "approved", submitted_at=hours(7), **REVIEWER_2),
    pr_event("edited", 8),
    pr_event("closed", 9),
    # Reviews can still be left after the merge: then the newest snapshot is a
    # partial copy, and the older full ones must still fill in size and draft.
    review_event("submitted", 10, 5, "commented", **REVIEWER_1),
    # A bot labels the reviewed pull request in the same second: the newest snapshot.
    pr_event("labeled", 10 + SAME_SECOND),
]


def feed(team: Team, repository: Repository, order: list[int]) -> dict[str, Any]:
    """Process the events in this order and return the rows, leaving the database as it was."""
    with transaction.atomic():
        for index in order:
            apply_events([LIFE[index].for_metrics(team, repository)])
        rows = final_rows(team)
        transaction.set_rollback(True)
    return rows


def feed_in_batches(
    team: Team, repository: Repository, order: list[int], sizes: list[int]
) -> dict[str, Any]:
    """As `feed`, applying the events in batches of these sizes (the rest in a last one)."""
    changes = [LIFE[index].for_metrics(team, repository) for index in order]
    with transaction.atomic():
        start = 0
        for size in [*sizes, len(changes)]:
            if start < len(changes):
                apply_events(changes[start : start + size])
            start += size
        rows = final_rows(team)
        transaction.set_rollback(True)
    return rows


def final_rows(team: Team) -> dict[str, Any]:
    pull_request = PullRequest.objects.select_related("author").get(team=team)
    values = {
        f.attname: getattr(pull_request, f.attname) for f in PullRequest._meta.concrete_fields
    }
    # Local ids differ between examples (PostgreSQL's sequences move on after a
    # rollback): what they point at is compared instead.
    for local in ("id", "team_id", "author_id", "deployment_id", "created_at", "updated_at"):
        values.pop(local)
    values["author"] = pull_request.author.github_id if pull_request.author else None
    values["deployment"] = pull_request.deployment.key if pull_request.deployment else None
    reviews = sorted(
        (r.github_id, r.state, r.submitted_at, r.reviewer.github_id if r.reviewer else None)
        for r in PRReview.objects.filter(team=team).select_related("reviewer")
    )
    members = sorted(
        TeamMember.objects.filter(team=team).values_list("github_id", "login", "is_bot")
    )
    return {"pull_request": values, "reviews": reviews, "members": members}


@st.composite
def deliveries(draw: st.DrawFn) -> list[int]:
    """Any order of the events, with some of them delivered again anywhere."""
    order = list(draw(st.permutations(range(len(LIFE)))))
    repeats = draw(
        st.lists(
            st.tuples(st.sampled_from(range(len(LIFE))), st.integers(0, len(LIFE))),
            max_size=6,
        )
    )
    for index, position in repeats:
        order.insert(position, index)
    return order


_in_order: dict[tuple[int, int], dict[str, Any]] = {}


def in_order_rows(team: Team, repository: Repository) -> dict[str, Any]:
    # Once per test: hypothesis runs every example of a test with the same rows.
    key = (team.pk, repository.pk)
    if key not in _in_order:
        _in_order[key] = feed(team, repository, list(range(len(LIFE))))
    return _in_order[key]


def test_it_computes_the_metrics_of_the_in_order_feed(team, repository):
    rows = feed(team, repository, list(range(len(LIFE))))

    pull_request = rows["pull_request"]
    assert pull_request["state"] == "merged"
    assert pull_request["title"] == "Fix the login loop"
    assert (pull_request["is_draft"], pull_request["is_hotfix"]) == (False, True)
    assert pull_request["labels"] == ["triage", "hotfix", "reviewed"]
    assert (pull_request["additions"], pull_request["deletions"]) == (25, 2)
    assert pull_request["ready_for_review_at"] == OPENED + timedelta(hours=1.5)
    # Review 1 was dismissed, 2 is a bot's, 3 the author's own: review 4 is the first.
    assert pull_request["first_review_at"] == OPENED + timedelta(hours=7)
    assert (pull_request["review_time_hours"], pull_request["cycle_time_hours"]) == (7.0, 9.0)
    assert [(review[0], review[1]) for review in rows["reviews"]] == [
        (1, "dismissed"),
        (2, "commented"),
        (3, "commented"),
        (4, "approved"),
        (5, "commented"),
    ]
    assert rows["members"] == [
        (7, "ruth", False),
        (8, "sam", False),
        (99, "lint[bot]", True),
        (AUTHOR_ID, "Octocoder", False),
    ]


@settings(
    max_examples=150,
    deadline=None,
    # The team and repository are created once and never changed; every example
    # rolls its own rows back.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(order=deliveries())
def test_it_ends_with_the_same_rows_for_any_delivery_order_and_repetition(team, repository, order):
    assert feed(team, repository, order) == in_order_rows(team, repository)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(order=deliveries(), sizes=st.lists(st.integers(1, len(LIFE)), max_size=8))
def test_it_ends_with_the_same_rows_when_events_are_applied_in_batches(
    team, repository, order, sizes
):
    # The webhook drain applies many deliveries at once: a batch must leave the
    # rows as its events one at a time would.
    assert feed_in_batches(team, repository, order, sizes) == in_order_rows(team, repository)


def test_it_orders_webhook_deliveries_from_the_same_second_by_their_receipt(
    client, team, repository
):
    # The webhook stores each delivery with its receipt time; processed later in
    # the opposite order, the later-received snapshot still wins.
    same_second = hours(0)
    deliveries = [
        ("opened", pull_request_payload("opened", labels=[], updated_at=same_second)),
        ("labeled", pull_request_payload("labeled", labels=["hotfix"], updated_at=same_second)),
    ]
    for delivery_id, payload in deliveries:
        body = json.dumps(payload).encode()
        client.post(
            WEBHOOK_URL,
            body,
            content_type="application/json",
            **signed_headers(body, event="pull_request", delivery_id=delivery_id),
        )

    for delivery_id in ("labeled", "opened"):
        process_delivery(pk=WebhookDelivery.objects.get(delivery_id=delivery_id).pk)

    pull_request = PullRequest.objects.get(team=team)
    assert (pull_request.labels, pull_request.is_hotfix) == (["hotfix"], True)

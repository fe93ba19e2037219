"""Pull request lifecycle events: each real transition recorded once, the live
ones announced once after commit, history never (docs/lifecycle.md).

Deliveries go through the real endpoint, signed; history through GraphQL and
recovery through the delivery log, both faked at GitHub's real paths."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import respx
from django.db import transaction

from apps.integrations import tasks as integration_tasks
from apps.integrations.models import ReconcileRun, WebhookDelivery
from apps.integrations.pipeline.drain import process_delivery
from apps.integrations.services import history
from apps.integrations.services.reconcile import deliveries_reconcile
from apps.metrics import signals
from apps.metrics.models import PullRequest, PullRequestEvent
from apps.metrics.services import lifecycle
from apps.metrics.services.processors import MetricsEvent, Source, events_apply
from github_app.webhook_payloads import pull_request_payload, review_payload
from tests.github_app.keys import private_key_pem
from tests.integrations.conftest import installation_for, repository_for
from tests.integrations.github_apps import stored_app
from tests.payloads.graphql import pr_node
from tests.payloads.hook_deliveries import FakeDeliveryLog, LogEntry
from tests.sessions import OtherSession, wait_until_another_session_waits_for_a_lock

pytestmark = pytest.mark.django_db

API = "https://api.github.com"
REPOSITORY_ID = 186853002  # tests/payloads' default repository
Kind = PullRequestEvent.Kind


@pytest.fixture
def repository(team):
    installation = installation_for(team=team, installation_id=42, login="acme")
    repository = repository_for(
        installation=installation, github_id=REPOSITORY_ID, full_name="acme/api"
    )
    # Tracked before the pull requests of these tests (dated 2025) happen.
    repository.tracked_at = datetime(2024, 12, 1, tzinfo=UTC)
    repository.save(update_fields=["tracked_at"])
    return repository


def opened(number: int = 7, **fields: Any) -> dict[str, Any]:
    return pull_request_payload(
        "opened", pr_id=700 + number, number=number, updated_at="2025-01-01T10:00:00Z", **fields
    )


def merged(
    number: int = 7, *, at: str = "2025-01-02T10:00:00Z", pr_id: int | None = None, **fields: Any
) -> dict[str, Any]:
    return pull_request_payload(
        "closed",
        pr_id=pr_id or 700 + number,
        number=number,
        state="closed",
        merged=True,
        merged_at=at,
        closed_at=at,
        **fields,
    )


def kinds_of(number: int) -> list[tuple[str, bool]]:
    return list(
        PullRequestEvent.objects.filter(pull_request__number=number)
        .order_by("occurred_at", "pk")
        .values_list("kind", "live")
    )


# --- once per transition ---------------------------------------------------------


def test_it_announces_a_merge_once_across_a_redelivery(deliver, repository, announced):
    deliver("pull_request", opened())
    deliver("pull_request", merged(), delivery_id="merge-1")
    deliver("pull_request", merged(), delivery_id="merge-1")  # GitHub's redelivery

    assert announced == [(Kind.OPENED, 7), (Kind.MERGED, 7)]
    assert kinds_of(7) == [(Kind.OPENED, True), (Kind.MERGED, True)]
    event = PullRequestEvent.objects.get(kind=Kind.MERGED)
    assert event.occurred_at == datetime(2025, 1, 2, 10, tzinfo=UTC)
    assert (event.source, event.team, event.announced_at is not None) == (
        "webhook",
        repository.installation.team,
        True,
    )


def test_it_announces_a_merge_once_when_the_same_event_comes_under_a_new_delivery_id(
    deliver, repository, announced
):
    deliver("pull_request", opened())
    deliver("pull_request", merged(), delivery_id="merge-1")
    deliver("pull_request", merged(), delivery_id="merge-2")
    # And out of order: the opening again, after the merge.
    deliver("pull_request", opened(), delivery_id="opened-again")

    assert announced == [(Kind.OPENED, 7), (Kind.MERGED, 7)]
    assert WebhookDelivery.objects.filter(status="processed").count() == 4


def test_it_announces_each_kind_of_transition_in_order(deliver, repository, announced):
    number, pr = 8, {"pr_id": 808, "number": 8}
    deliver("pull_request", pull_request_payload("opened", draft=True, **pr))
    deliver(
        "pull_request",
        pull_request_payload("ready_for_review", updated_at="2025-01-01T11:00:00Z", **pr),
    )
    deliver(
        "pull_request_review",
        review_payload(
            review_id=1, review_state="commented", submitted_at="2025-01-01T12:00:00Z", **pr
        ),
    )
    deliver(
        "pull_request_review",
        review_payload(
            review_id=2, review_state="approved", submitted_at="2025-01-01T13:00:00Z", **pr
        ),
    )
    closed_at = "2025-01-01T14:00:00Z"
    deliver(
        "pull_request",
        pull_request_payload("closed", state="closed", closed_at=closed_at, **pr),
    )
    deliver(
        "pull_request",
        pull_request_payload("reopened", updated_at="2025-01-01T15:00:00Z", **pr),
    )
    deliver("pull_request", merged(number, at="2025-01-01T16:00:00Z", pr_id=808))

    assert announced == [
        (Kind.OPENED, number),
        (Kind.READY_FOR_REVIEW, number),
        (Kind.FIRST_REVIEW, number),
        (Kind.APPROVED, number),
        (Kind.CLOSED, number),
        (Kind.REOPENED, number),
        (Kind.MERGED, number),
    ]
    times = dict(
        PullRequestEvent.objects.filter(pull_request__number=number).values_list(
            "kind", "occurred_at"
        )
    )
    assert times[Kind.FIRST_REVIEW] == datetime(2025, 1, 1, 12, tzinfo=UTC)
    assert times[Kind.REOPENED] == datetime(2025, 1, 1, 15, tzinfo=UTC)
    assert times[Kind.CLOSED] == datetime(2025, 1, 1, 14, tzinfo=UTC)


def test_an_approval_dismissed_and_given_again_is_a_second_approval(deliver, repository, announced):
    pr = {"pr_id": 909, "number": 9}
    deliver("pull_request", pull_request_payload("opened", **pr))
    approval = review_payload(review_id=1, submitted_at="2025-01-01T12:00:00Z", **pr)
    deliver("pull_request_review", approval)
    deliver("pull_request_review", review_payload("dismissed", review_id=1, **pr))
    deliver(
        "pull_request_review",
        review_payload(review_id=2, submitted_at="2025-01-01T14:00:00Z", **pr),
    )
    # The first approval delivered again changes nothing.
    deliver("pull_request_review", approval)

    approvals = [kind for kind, _ in announced if kind == Kind.APPROVED]
    assert approvals == [Kind.APPROVED, Kind.APPROVED]
    assert list(
        PullRequestEvent.objects.filter(kind=Kind.APPROVED).values_list("occurred_at", flat=True)
    ) == [datetime(2025, 1, 1, 12, tzinfo=UTC), datetime(2025, 1, 1, 14, tzinfo=UTC)]
    # First reviewed once, though the review that made it was dismissed.
    assert [kind for kind, _ in announced].count(Kind.FIRST_REVIEW) == 1


def test_an_earlier_review_arriving_late_is_no_second_first_review(deliver, repository, announced):
    pr = {"pr_id": 910, "number": 10}
    deliver("pull_request", pull_request_payload("opened", **pr))
    for review_id, hour in ((2, 14), (1, 12)):
        deliver(
            "pull_request_review",
            review_payload(
                review_id=review_id,
                review_state="commented",
                submitted_at=f"2025-01-01T{hour}:00:00Z",
                **pr,
            ),
        )

    assert [kind for kind, _ in announced] == [Kind.OPENED, Kind.FIRST_REVIEW]
    assert PullRequest.objects.get(number=10).first_review_at == datetime(
        2025, 1, 1, 12, tzinfo=UTC
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_racing_workers_announce_a_merge_once(deliver, repository, announced, monkeypatch):
    deliver("pull_request", opened())
    # GitHub sends the merge twice (a new delivery id): both stored, waiting
    # (no drain woken: on autocommit the view's on-commit runs at once).
    monkeypatch.setattr("apps.integrations.views.webhooks.wake_drain", lambda: None)
    for delivery_id in ("merge-1", "merge-2"):
        deliver("pull_request", merged(), delivery_id=delivery_id)
    first, second = WebhookDelivery.objects.filter(delivery_id__startswith="merge").order_by("pk")
    second_worker = OtherSession(lambda: process_delivery(pk=second.pk))
    with transaction.atomic():
        process_delivery(pk=first.pk)
        second_worker.start()
        # The second worker waits for the pull request the first one holds.
        wait_until_another_session_waits_for_a_lock()
    second_worker.finish()

    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"processed"}
    assert announced == [(Kind.OPENED, 7), (Kind.MERGED, 7)]
    assert PullRequestEvent.objects.filter(kind=Kind.MERGED).count() == 1


# --- live or historical -------------------------------------------------------------


def test_what_github_dated_before_the_repository_was_tracked_is_historical(
    deliver, repository, announced
):
    repository.tracked_at = datetime(2025, 1, 2, tzinfo=UTC)
    repository.save(update_fields=["tracked_at"])

    # Opened before tracking; first seen when it is merged, after.
    deliver("pull_request", merged(at="2025-01-03T09:00:00Z"))

    assert kinds_of(7) == [(Kind.OPENED, False), (Kind.MERGED, True)]
    assert announced == [(Kind.MERGED, 7)]


def test_a_history_load_of_500_merged_pull_requests_announces_nothing(
    settings, repository, graphql, announced, django_capture_on_commit_callbacks
):
    settings.GITHUB_APP_ID = "12345"
    settings.GITHUB_APP_PRIVATE_KEY = private_key_pem()
    settings.GITHUB_API_URL = API
    settings.TFORMANCE_HISTORY_DAYS = 0
    start = datetime(2025, 1, 1, tzinfo=UTC)
    graphql.add(
        *[
            pr_node(
                number=n,
                state="MERGED",
                created_at=(start + timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                updated_at=(start + timedelta(hours=1, minutes=n)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                merged_at=(start + timedelta(hours=1, minutes=n)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                closed_at=(start + timedelta(hours=1, minutes=n)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                full_name="acme/api",
            )
            for n in range(1, 501)
        ]
    )

    with django_capture_on_commit_callbacks(execute=True):
        run = history.history_run_start(repository=repository)
        integration_tasks.continue_history_run(run.pk)
    run.refresh_from_db()

    assert run.pull_requests_stored == 500
    merges = PullRequestEvent.objects.filter(kind=Kind.MERGED)
    assert merges.count() == 500
    assert set(merges.values_list("live", "source")) == {(False, "history")}
    assert announced == []
    # Nor does the sweeper take them for lost announcements.
    assert lifecycle.lifecycle_events_announce(older_than=timedelta(0)) == 0
    assert announced == []


def test_a_merge_recovered_from_the_delivery_log_is_announced_once(
    settings, deliver, repository, announced, django_capture_on_commit_callbacks
):
    settings.GITHUB_API_URL = API
    settings.GITHUB_APP_ID = ""
    stored_app()
    deliver("pull_request", opened())
    lost = LogEntry(id=5, guid=str(uuid.uuid4()), event="pull_request", payload=merged())
    with respx.mock(assert_all_called=False) as router:
        log = FakeDeliveryLog(router, API)
        log.add(lost)
        for _ in range(2):
            with django_capture_on_commit_callbacks(execute=True):
                deliveries_reconcile(trigger=ReconcileRun.Trigger.COMMAND)

    assert announced == [(Kind.OPENED, 7), (Kind.MERGED, 7)]
    assert PullRequestEvent.objects.get(kind=Kind.MERGED).source == "recovery"


# --- reverts -------------------------------------------------------------------------


def revert_of(number: int) -> dict[str, Any]:
    return merged(
        30,
        at="2025-01-05T10:00:00Z",
        title=f'Revert "Change {number}"',
        body=f"Reverts #{number}",
        head_ref=f"revert-{number}-change",
    )


@pytest.mark.parametrize("revert_first", [False, True], ids=["target first", "revert first"])
def test_a_revert_announces_reverted_on_the_reverted_pull_request(
    deliver, repository, announced, revert_first
):
    target = merged(12, at="2025-01-03T10:00:00Z")
    for payload in [revert_of(12), target] if revert_first else [target, revert_of(12)]:
        deliver("pull_request", payload)
    # Either again changes nothing.
    deliver("pull_request", revert_of(12))
    deliver("pull_request", target)

    assert [a for a in announced if a[0] == Kind.REVERTED] == [(Kind.REVERTED, 12)]
    event = PullRequestEvent.objects.get(kind=Kind.REVERTED)
    assert event.pull_request == PullRequest.objects.get(number=12)
    assert event.occurred_at == datetime(2025, 1, 5, 10, tzinfo=UTC)


def test_a_revert_and_its_pull_request_applied_together_announce_reverted_once(
    team, repository, announced, django_capture_on_commit_callbacks
):
    # One batch, as a drain pass takes them: the revert first, then what it reverts.
    events = [
        MetricsEvent(team=team, repository=repository, name="pull_request", payload=payload)
        for payload in (revert_of(12), merged(12, at="2025-01-03T10:00:00Z"))
    ]
    with django_capture_on_commit_callbacks(execute=True):
        events_apply(events=events)

    assert [a for a in announced if a[0] == Kind.REVERTED] == [(Kind.REVERTED, 12)]
    assert PullRequestEvent.objects.filter(kind=Kind.REVERTED).count() == 1
    assert PullRequest.objects.get(number=30).reverts == PullRequest.objects.get(number=12)


def test_a_revert_reverts_when_it_is_merged_not_when_it_is_opened(deliver, repository, announced):
    deliver("pull_request", merged(12, at="2025-01-03T10:00:00Z"))
    revert = revert_of(12)
    unmerged = pull_request_payload(
        "opened",
        pr_id=730,
        number=30,
        title=revert["pull_request"]["title"],
        body=revert["pull_request"]["body"],
        updated_at="2025-01-04T10:00:00Z",
    )
    deliver("pull_request", unmerged)
    assert Kind.REVERTED not in [kind for kind, _ in announced]

    deliver("pull_request", revert)
    assert (Kind.REVERTED, 12) in announced


# --- announcing ---------------------------------------------------------------------


def test_a_failing_receiver_does_not_keep_the_event_from_the_others(
    deliver, repository, announced, caplog
):
    def broken(**_: Any) -> None:
        raise RuntimeError("receiver down")

    signals.pull_request_merged.connect(broken, weak=False)
    try:
        deliver("pull_request", merged())
    finally:
        signals.pull_request_merged.disconnect(broken)

    assert (Kind.MERGED, 7) in announced
    assert "receiver down" in caplog.text
    assert WebhookDelivery.objects.get().status == "processed"


def test_the_sweeper_announces_a_live_event_whose_announcement_was_lost(
    team, repository, announced, django_capture_on_commit_callbacks
):
    event = MetricsEvent(team=team, repository=repository, name="pull_request", payload=merged())
    with django_capture_on_commit_callbacks(execute=False):  # the process died at commit
        events_apply(events=[event])
    assert announced == []

    # Not before the on-commit announcement has had its chance...
    assert lifecycle.lifecycle_events_announce(older_than=timedelta(minutes=1)) == 0
    # ...then once.
    assert lifecycle.lifecycle_events_announce(older_than=timedelta(0)) == 2
    assert lifecycle.lifecycle_events_announce(older_than=timedelta(0)) == 0
    assert announced == [(Kind.OPENED, 7), (Kind.MERGED, 7)]


def test_replayed_events_are_recorded_but_never_announced(
    team, repository, announced, django_capture_on_commit_callbacks
):
    event = MetricsEvent(
        team=team,
        repository=repository,
        name="pull_request",
        payload=merged(),
        source=Source.REPLAY,
    )
    with django_capture_on_commit_callbacks(execute=True):
        events_apply(events=[event])

    assert kinds_of(7) == [(Kind.OPENED, False), (Kind.MERGED, False)]
    assert announced == []


def test_a_failing_consumer_is_retried_on_what_it_had_left_and_no_one_is_told_twice(
    deliver, repository, announced, monkeypatch
):
    fed: dict[str, list[str]] = {"flaky": [], "steady": []}
    failures = iter([True])

    def flaky(event: PullRequestEvent) -> None:
        fed["flaky"].append(event.kind)
        if event.kind == Kind.MERGED and next(failures, False):
            raise ConnectionError("survey service down")

    def steady(event: PullRequestEvent) -> None:
        fed["steady"].append(event.kind)

    every_kind = frozenset(Kind)
    monkeypatch.setattr(
        lifecycle,
        "CONSUMERS",
        {
            "flaky": lifecycle.Consumer(kinds=every_kind, handle=flaky),
            "steady": lifecycle.Consumer(kinds=every_kind, handle=steady),
        },
    )

    # One delivery that makes two transitions: opened, then merged.
    deliver("pull_request", merged())

    assert fed["flaky"] == [Kind.OPENED, Kind.MERGED, Kind.MERGED]
    assert fed["steady"] == [Kind.OPENED, Kind.MERGED]
    assert announced == [(Kind.OPENED, 7), (Kind.MERGED, 7)]


def test_the_example_consumer_logs_each_merged_pull_request(deliver, repository, caplog):
    with caplog.at_level(logging.INFO, logger="apps.metrics.services.lifecycle"):
        deliver("pull_request", opened())
        deliver("pull_request", merged())

    lines = [r.getMessage() for r in caplog.records if "merged" in r.getMessage()]
    assert lines == ["pull request merged: acme/api#7 by team acme after 24.0 hours"]


def test_every_kind_has_its_signal():
    assert set(signals.LIFECYCLE_SIGNALS) == set(Kind)

"""The drain applies a pass of deliveries together, and falls back to one at a
time so that a delivery that cannot be applied fails alone."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext

from apps.integrations.models import WebhookDelivery
from apps.integrations.pipeline import drain
from apps.integrations.pipeline.drain import drain_deliveries
from apps.metrics.models import PRReview, PullRequest, TeamMember
from apps.metrics.services import pull_requests
from github_app.webhook_payloads import pull_request_payload, review_payload
from tests.integrations.conftest import installation_for, repository_for

pytestmark = pytest.mark.django_db

INSTALLATION = 42
WHERE = {"installation_id": INSTALLATION, "repository_id": 100, "repository_full_name": "acme/api"}


@pytest.fixture
def repository(team):
    installation = installation_for(team=team, installation_id=INSTALLATION, login="acme")
    return repository_for(installation=installation, github_id=100, full_name="acme/api")


@pytest.fixture
def store(deliver):
    """Store a delivery and leave it waiting, as when many arrive during one pass."""

    def post(event, payload, delivery_id):
        response = deliver(event, payload, delivery_id=delivery_id, lose_wake_up=True)
        assert response.status_code == 202

    return post


def _statuses(*delivery_ids: str) -> list[str]:
    return [WebhookDelivery.objects.get(delivery_id=d).status for d in delivery_ids]


def test_it_applies_a_pass_of_deliveries_in_a_handful_of_queries(store, repository):
    for number in range(1, 21):
        author = {"author_id": 1000 + number, "author_login": f"dev{number}"}
        store(
            "pull_request",
            pull_request_payload(pr_id=number, number=number, **author, **WHERE),
            f"pr-{number}",
        )
        store(
            "pull_request_review",
            review_payload(pr_id=number, number=number, review_id=number, **author, **WHERE),
            f"review-{number}",
        )

    with CaptureQueriesContext(connection) as queries:
        assert drain_deliveries() == 40

    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"processed"}
    assert (PullRequest.objects.count(), PRReview.objects.count()) == (20, 20)
    # One at a time, these 40 deliveries cost over 300 queries; one of these is
    # the team's AI rules, read once for the pass. SQLite takes at most 999
    # parameters a statement, so there the 20 pull requests' insert (54 columns
    # each, with the working-hour durations and the AI signals) is two statements.
    split = 1 if connection.vendor == "sqlite" else 0
    assert len(queries) <= 26 + split, "\n".join(q["sql"][:120] for q in queries.captured_queries)


def test_a_pass_of_older_snapshots_of_stored_pull_requests_reads_no_author_one_by_one(
    store, repository
):
    def stored(suffix: str, updated_at: str) -> None:
        for number in range(1, 21):
            payload = pull_request_payload(
                "edited",
                pr_id=number,
                number=number,
                author_id=1000 + number,
                author_login=f"dev{number}",
                updated_at=updated_at,
                **WHERE,
            )
            store("pull_request", payload, f"pr-{number}-{suffix}")

    stored("new", "2024-01-02T00:00:00Z")
    assert drain_deliveries() == 20
    # Late redeliveries of older snapshots: each leaves its row as it is, and
    # the AI signals, derived again, read the author's login.
    stored("old", "2024-01-01T00:00:00Z")

    with CaptureQueriesContext(connection) as queries:
        assert drain_deliveries() == 20

    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"processed"}
    authors = [q for q in queries.captured_queries if 'FROM "metrics_teammember"' in q["sql"]]
    # The pass's members, read once: not each pull request's author on its own.
    assert len(authors) <= 2, "\n".join(q["sql"][:160] for q in authors)


def test_it_only_looks_when_nothing_is_waiting(repository):
    with CaptureQueriesContext(connection) as queries:
        assert drain_deliveries() == 0

    statements = [q["sql"].split()[0] for q in queries.captured_queries]
    # A claim for received deliveries and one for retries that are due, each in
    # its own transaction (a savepoint inside the test's), and nothing else.
    assert [s for s in statements if s not in ("SAVEPOINT", "RELEASE")] == ["SELECT", "SELECT"]
    assert statements.count("SAVEPOINT") == 2, statements


def test_it_fails_only_the_delivery_that_breaks_a_pass(store, repository, caplog, monkeypatch):
    store("pull_request", pull_request_payload(pr_id=1, number=1, **WHERE), "good-1")
    broken = pull_request_payload(
        pr_id=2, number=2, author_id=777, author_login="broken-author", **WHERE
    )
    store("pull_request", broken, "broken")
    store("pull_request", pull_request_payload(pr_id=3, number=3, **WHERE), "good-3")
    apply_snapshot = pull_requests.apply_pull_request_snapshot

    def database_fails_on_pull_request_2(row, snapshot, **fields):
        # An error that cannot be pinned on one delivery until it is tried alone.
        if snapshot.github_id == 2:
            raise OperationalError("deadlock detected")
        return apply_snapshot(row, snapshot, **fields)

    monkeypatch.setattr(
        pull_requests, "apply_pull_request_snapshot", database_fails_on_pull_request_2
    )

    assert drain_deliveries() == 3

    assert _statuses("good-1", "broken", "good-3") == ["processed", "failed", "processed"]
    assert "processing them one at a time" in caplog.text
    failed = WebhookDelivery.objects.get(delivery_id="broken")
    assert failed.last_error == "OperationalError: deadlock detected"
    assert failed.next_attempt_at is not None  # a database error may pass: retried
    assert sorted(PullRequest.objects.values_list("github_id", flat=True)) == [1, 3]
    assert not TeamMember.objects.filter(github_id=777).exists()


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("number", -5, "pull_request.number is out of range (1 to 2147483647)"),
        ("number", 2**31, "pull_request.number is out of range (1 to 2147483647)"),
        ("id", 2**63, "pull_request.id is out of range (1 to 9223372036854775807)"),
        ("id", "12", "pull_request.id is not an integer"),
        ("number", True, "pull_request.number is not an integer"),
    ],
)
def test_it_fails_a_delivery_with_a_value_out_of_range_at_once_without_slowing_its_pass(
    store, repository, caplog, field, value, reason
):
    store("pull_request", pull_request_payload(pr_id=1, number=1, **WHERE), "good-1")
    bad = pull_request_payload(pr_id=2, number=2, **WHERE)
    bad["pull_request"][field] = value
    store("pull_request", bad, "bad")
    store("pull_request", pull_request_payload(pr_id=3, number=3, **WHERE), "good-3")

    assert drain_deliveries() == 3

    assert _statuses("good-1", "bad", "good-3") == ["processed", "failed", "processed"]
    failed = WebhookDelivery.objects.get(delivery_id="bad")
    assert (failed.last_error, failed.next_attempt_at, failed.attempts) == (reason, None, 1)
    assert "one at a time" not in caplog.text


def test_it_keeps_text_with_a_nul_character_without_it(store, repository):
    payload = pull_request_payload(pr_id=1, number=1, **WHERE)
    payload["pull_request"]["title"] = "Fix\x00 the\x00 build"
    payload["pull_request"]["user"]["login"] = "mal\x00lory"
    payload["pull_request"]["head"]["ref"] = "hot\x00fix"
    store("pull_request", payload, "nul")

    drain_deliveries()

    assert _statuses("nul") == ["processed"]
    pull_request = PullRequest.objects.select_related("author").get()
    assert (pull_request.title, pull_request.author.login) == ("Fix the build", "mallory")
    assert pull_request.head_branch == "hotfix" and pull_request.is_hotfix


def test_it_fails_a_malformed_delivery_alone_and_applies_the_rest_together(
    store, repository, caplog
):
    store("pull_request", pull_request_payload(pr_id=1, number=1, **WHERE), "good-1")
    malformed = pull_request_payload(pr_id=2, number=2, **WHERE)
    del malformed["pull_request"]["id"]
    store("pull_request", malformed, "malformed")
    store("pull_request", pull_request_payload(pr_id=3, number=3, **WHERE), "good-3")

    assert drain_deliveries() == 3

    assert _statuses("good-1", "malformed", "good-3") == ["processed", "failed", "processed"]
    failed = WebhookDelivery.objects.get(delivery_id="malformed")
    assert (failed.last_error, failed.next_attempt_at) == ("pull_request.id is missing", None)
    assert sorted(PullRequest.objects.values_list("github_id", flat=True)) == [1, 3]
    assert "one at a time" not in caplog.text  # the pass itself did not fail


def test_it_records_each_delivery_of_a_pass_with_its_team_and_attempt(store, team, repository):
    store("pull_request", pull_request_payload(pr_id=1, **WHERE), "a")
    store("pull_request", pull_request_payload("synchronize", pr_id=1, **WHERE), "b")

    drain_deliveries()

    for delivery in WebhookDelivery.objects.all():
        assert (delivery.status, delivery.team, delivery.attempts) == ("processed", team, 1)
        assert delivery.processed_at is not None


def test_it_holds_at_most_a_budget_of_bodies_in_memory_at_once(store, repository, monkeypatch):
    for number in (1, 2, 3):
        store(
            "pull_request", pull_request_payload(pr_id=number, number=number, **WHERE), f"{number}"
        )
    one_body = len(WebhookDelivery.objects.get(delivery_id="1").payload.encode())
    monkeypatch.setattr(drain, "PASS_PAYLOAD_BYTES", one_body * 2)

    with CaptureQueriesContext(connection) as queries:
        assert drain_deliveries() == 3

    body_reads = [q for q in queries.captured_queries if '"payload" FROM' in q["sql"]]
    assert len(body_reads) == 2  # two bodies, then the third
    assert _statuses("1", "2", "3") == ["processed"] * 3


def test_a_review_stored_on_another_pull_request_fails_alone_at_once(store, repository, caplog):
    store("pull_request_review", review_payload(pr_id=1, number=1, review_id=500, **WHERE), "r-1")
    assert drain_deliveries() == 1
    for number in range(2, 12):
        store(
            "pull_request",
            pull_request_payload(pr_id=number, number=number, **WHERE),
            f"pr-{number}",
        )
    # GitHub's review ids are unique: the same id on pull request #2 can never be stored.
    store("pull_request_review", review_payload(pr_id=2, number=2, review_id=500, **WHERE), "r-2")

    with caplog.at_level("WARNING"):
        assert drain_deliveries() == 11

    failed = WebhookDelivery.objects.get(delivery_id="r-2")
    assert failed.status == "failed"
    assert "review 500 belongs to another pull request (#1), not to #2" in failed.last_error
    # Failed for good: no retry scheduled, and the pass was not redone one at a time.
    assert (failed.attempts, failed.next_attempt_at) == (1, None)
    assert not any("one at a time" in message for message in caplog.messages)
    assert _statuses(*(f"pr-{n}" for n in range(2, 12))) == ["processed"] * 10
    assert PRReview.objects.get(github_id=500).pull_request.number == 1


def test_two_pull_requests_claiming_one_review_in_a_pass_leave_it_to_the_first(store, repository):
    store("pull_request_review", review_payload(pr_id=1, number=1, review_id=600, **WHERE), "a")
    store("pull_request_review", review_payload(pr_id=2, number=2, review_id=600, **WHERE), "b")

    assert drain_deliveries() == 2

    assert _statuses("a", "b") == ["processed", "failed"]
    assert WebhookDelivery.objects.get(delivery_id="b").next_attempt_at is None
    assert PRReview.objects.get(github_id=600).pull_request.number == 1

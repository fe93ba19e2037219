"""pull_request and pull_request_review deliveries reach the metrics processors
of the team that claimed the installation, for the repositories it tracks."""

from __future__ import annotations

import pytest

from apps.integrations.models import WebhookDelivery
from apps.integrations.pipeline.drain import drain_deliveries
from apps.metrics.models import PRReview, PullRequest, TeamMember
from apps.teams.models import Team
from github_app.webhook_payloads import pull_request_payload, review_payload
from tests.integrations.conftest import installation_for, repository_for
from tests.payloads.installations import installation_repositories_event, repository_stub

pytestmark = pytest.mark.django_db

ACME_INSTALLATION, GLOBEX_INSTALLATION = 42, 43


@pytest.fixture
def acme_repository(team):
    installation = installation_for(team=team, installation_id=ACME_INSTALLATION, login="acme")
    return repository_for(installation=installation, github_id=100, full_name="acme/api")


@pytest.fixture
def globex():
    return Team.objects.create(name="Globex", slug="globex")


@pytest.fixture
def globex_repository(globex):
    installation = installation_for(
        team=globex, installation_id=GLOBEX_INSTALLATION, login="globex"
    )
    return repository_for(installation=installation, github_id=200, full_name="globex/web")


def _delivery(delivery_id: str) -> WebhookDelivery:
    return WebhookDelivery.objects.get(delivery_id=delivery_id)


def test_it_gives_each_installations_pull_request_to_its_own_team(
    deliver, team, globex, acme_repository, globex_repository
):
    for installation_id, repository in (
        (ACME_INSTALLATION, acme_repository),
        (GLOBEX_INSTALLATION, globex_repository),
    ):
        deliver(
            "pull_request",
            pull_request_payload(
                pr_id=7,  # the same pull request id in both: only the installation tells them apart
                installation_id=installation_id,
                repository_id=repository.github_id,
                repository_full_name=repository.full_name,
            ),
            delivery_id=f"pr-{installation_id}",
        )

    acme_pr = PullRequest.objects.get(team=team)
    globex_pr = PullRequest.objects.get(team=globex)
    assert acme_pr.repository == acme_repository
    assert globex_pr.repository == globex_repository
    assert _delivery("pr-42").team == team
    assert _delivery("pr-43").team == globex
    assert {_delivery("pr-42").status, _delivery("pr-43").status} == {"processed"}


def test_it_gives_a_review_to_the_team_of_its_installation(deliver, team, acme_repository):
    deliver(
        "pull_request_review",
        review_payload(
            installation_id=ACME_INSTALLATION, repository_id=100, repository_full_name="acme/api"
        ),
        delivery_id="review",
    )

    assert _delivery("review").status == "processed"
    assert PRReview.objects.get().team == team
    assert PullRequest.objects.get().team == team


def test_it_records_the_last_event_of_the_installation_and_repository(deliver, acme_repository):
    deliver(
        "pull_request",
        pull_request_payload(
            installation_id=ACME_INSTALLATION, repository_id=100, repository_full_name="acme/api"
        ),
        delivery_id="pr",
    )

    acme_repository.refresh_from_db()
    received_at = _delivery("pr").received_at
    assert acme_repository.last_event_at == received_at
    acme_repository.installation.refresh_from_db()
    assert acme_repository.installation.last_event_at == received_at


def test_it_ignores_and_keeps_an_event_of_an_untracked_repository(deliver, team, acme_repository):
    repository_for(
        installation=acme_repository.installation,
        github_id=101,
        full_name="acme/untracked",
        tracked=False,
    )

    response = deliver(
        "pull_request",
        pull_request_payload(
            installation_id=ACME_INSTALLATION,
            repository_id=101,
            repository_full_name="acme/untracked",
        ),
        delivery_id="untracked",
    )

    delivery = _delivery("untracked")
    assert response.status_code == 202
    assert (delivery.status, delivery.status_reason) == (
        "ignored",
        "acme/untracked is not tracked by Acme.",
    )
    assert delivery.team == team
    assert '"acme/untracked"' in delivery.payload
    assert not PullRequest.objects.exists()


def test_it_ignores_a_repository_it_has_never_heard_of(deliver, acme_repository):
    deliver(
        "pull_request",
        pull_request_payload(
            installation_id=ACME_INSTALLATION, repository_id=999, repository_full_name="acme/new"
        ),
        delivery_id="unknown-repo",
    )

    assert _delivery("unknown-repo").status_reason == "acme/new is not tracked by Acme."
    assert not PullRequest.objects.exists()


def test_it_ignores_and_keeps_an_event_of_an_unclaimed_installation(deliver):
    installation = installation_for(team=None, installation_id=50, login="nobody")
    repository_for(installation=installation, github_id=100, full_name="nobody/api")

    deliver(
        "pull_request",
        pull_request_payload(
            installation_id=50, repository_id=100, repository_full_name="nobody/api"
        ),
        delivery_id="unclaimed",
    )

    delivery = _delivery("unclaimed")
    assert (delivery.status, delivery.status_reason, delivery.team) == (
        "ignored",
        "Installation 50 is not claimed by a team yet.",
        None,
    )
    assert not PullRequest.objects.exists()
    assert not TeamMember.objects.exists()


def test_it_ignores_an_installation_it_does_not_know(deliver):
    deliver("pull_request", pull_request_payload(installation_id=404), delivery_id="stranger")

    assert _delivery("stranger").status_reason == "Installation 404 is not known here."


def test_it_ignores_a_pull_request_without_an_installation(deliver):
    deliver("pull_request", pull_request_payload(installation_id=None), delivery_id="bare")

    assert _delivery("bare").status_reason == "The payload names no installation."


def test_it_stops_processing_a_repository_removed_from_the_installation(deliver, acme_repository):
    deliver(
        "installation_repositories",
        installation_repositories_event(
            action="removed",
            installation_id=ACME_INSTALLATION,
            removed=[repository_stub(repository_id=100, full_name="acme/api")],
        ),
    )

    deliver(
        "pull_request",
        pull_request_payload(
            installation_id=ACME_INSTALLATION, repository_id=100, repository_full_name="acme/api"
        ),
        delivery_id="after-removal",
    )

    acme_repository.refresh_from_db()
    assert (acme_repository.accessible, acme_repository.tracked) == (False, True)
    assert _delivery("after-removal").status_reason == "acme/api was removed from the installation."
    assert not PullRequest.objects.exists()


def test_it_fails_a_delivery_the_processor_rejects_and_writes_no_rows(deliver, acme_repository):
    payload = pull_request_payload(
        installation_id=ACME_INSTALLATION, repository_id=100, repository_full_name="acme/api"
    )
    del payload["pull_request"]["id"]

    deliver("pull_request", payload, delivery_id="no-id")

    delivery = _delivery("no-id")
    assert delivery.status == "failed"
    assert delivery.last_error == "pull_request.id is missing"
    assert delivery.attempts == 1
    # A malformed payload will not heal: no automatic retry.
    assert delivery.next_attempt_at is None
    assert not PullRequest.objects.exists()
    assert not TeamMember.objects.exists()


def test_it_processes_a_redelivered_event_once(deliver, acme_repository):
    payload = pull_request_payload(
        installation_id=ACME_INSTALLATION, repository_id=100, repository_full_name="acme/api"
    )

    first = deliver("pull_request", payload, delivery_id="once")
    again = deliver("pull_request", payload, delivery_id="once")

    assert (first.status_code, again.status_code) == (202, 200)
    assert WebhookDelivery.objects.count() == 1
    assert _delivery("once").attempts == 1
    assert PullRequest.objects.count() == 1


def test_it_sees_a_repository_removal_made_earlier_in_the_same_pass(deliver, acme_repository):
    where = {"installation_id": ACME_INSTALLATION, "repository_id": 100}
    deliver(
        "pull_request", pull_request_payload(pr_id=1, **where), delivery_id="1", lose_wake_up=True
    )
    deliver(
        "installation_repositories",
        installation_repositories_event(
            action="removed",
            installation_id=ACME_INSTALLATION,
            removed=[repository_stub(repository_id=100, full_name="acme/api")],
        ),
        delivery_id="2",
        lose_wake_up=True,
    )
    deliver(
        "pull_request", pull_request_payload(pr_id=2, **where), delivery_id="3", lose_wake_up=True
    )

    assert drain_deliveries() == 3

    assert [_delivery(i).status for i in "123"] == ["processed", "processed", "ignored"]
    assert list(PullRequest.objects.values_list("github_id", flat=True)) == [1]


def test_it_rolls_back_what_a_processor_wrote_before_it_failed(deliver, acme_repository):
    # The author is written first; the pull request row then breaks a database
    # constraint (numbers are never negative; SQLite's insert-or-ignore skips
    # the row, PostgreSQL raises). Nothing of the delivery may remain.
    payload = pull_request_payload(
        installation_id=ACME_INSTALLATION, repository_id=100, repository_full_name="acme/api"
    )
    payload["pull_request"]["number"] = -5

    deliver("pull_request", payload, delivery_id="half-way")

    delivery = _delivery("half-way")
    assert delivery.status == "failed"
    assert delivery.last_error
    assert not PullRequest.objects.exists()
    assert not TeamMember.objects.exists()

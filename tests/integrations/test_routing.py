"""Routing: one table from (event, action) to a handler, an ignore list, and
every delivery ends processed, ignored (why) or failed (the error)."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import OperationalError
from django.utils import timezone

from apps.integrations.models import Installation, WebhookDelivery
from apps.integrations.pipeline.outcomes import MAX_ATTEMPTS
from apps.integrations.services import installations
from tests.integrations.conftest import installation_for, repository_for
from tests.payloads.installations import installation_block, installation_event, ping_event

pytestmark = pytest.mark.django_db


def _delivery(delivery_id: str) -> WebhookDelivery:
    return WebhookDelivery.objects.get(delivery_id=delivery_id)


def test_it_ignores_a_ping_with_the_reason(deliver):
    deliver("ping", ping_event(), delivery_id="ping")

    delivery = _delivery("ping")
    assert delivery.status == "ignored"
    assert delivery.status_reason == "A ping only checks that the webhook is reachable."
    assert delivery.processed_at is not None
    assert delivery.attempts == 1


def test_it_ignores_an_event_it_has_no_route_for(deliver):
    deliver("push", {"ref": "refs/heads/main", "installation": {"id": 77}}, delivery_id="push")

    assert (_delivery("push").status, _delivery("push").status_reason) == (
        "ignored",
        "No handler for push events.",
    )


def test_it_ignores_an_action_it_has_no_route_for(deliver):
    deliver(
        "installation",
        installation_event(action="transferred", installation_id=77),
        delivery_id="odd",
    )

    assert _delivery("odd").status_reason == "No handler for installation.transferred events."
    assert not Installation.objects.exists()


def test_it_records_when_the_last_event_of_an_installation_and_a_tracked_repository_arrived(
    deliver, team
):
    installation = installation_for(team=team, installation_id=77, login="acme-org")
    tracked = repository_for(installation=installation, github_id=501, full_name="acme-org/a")
    untracked = repository_for(
        installation=installation, github_id=502, full_name="acme-org/b", tracked=False
    )
    comment = {"action": "created", "installation": {"id": 77}}

    deliver("pull_request_review_comment", {**comment, "repository": {"id": 501}}, delivery_id="a")
    deliver("pull_request_review_comment", {**comment, "repository": {"id": 502}}, delivery_id="b")

    installation.refresh_from_db()
    tracked.refresh_from_db()
    untracked.refresh_from_db()
    assert tracked.last_event_at == _delivery("a").received_at
    assert installation.last_event_at == _delivery("b").received_at
    assert untracked.last_event_at is None


def test_it_never_moves_last_event_at_back(deliver, team, django_capture_on_commit_callbacks):
    installation_for(team=team, installation_id=77, login="acme-org")
    deliver("ping", {"installation": {"id": 77}}, delivery_id="older", lose_wake_up=True)
    WebhookDelivery.objects.filter(delivery_id="older").update(
        received_at=timezone.now() - timedelta(minutes=5)
    )
    deliver("ping", {"installation": {"id": 77}}, delivery_id="newer")
    call_command("process_pending")

    assert _delivery("older").status == "ignored"
    assert Installation.objects.get(installation_id=77).last_event_at == (
        _delivery("newer").received_at
    )


def test_it_fails_a_delivery_whose_handler_raises_and_keeps_none_of_its_writes(deliver):
    payload = installation_event(action="created", installation_id=77)
    # The installation row is written first; the broken repository then raises.
    payload["repositories"] = [{"id": 501, "name": "no-full-name"}]

    deliver("installation", payload, delivery_id="broken")

    delivery = _delivery("broken")
    assert delivery.status == "failed"
    assert delivery.last_error == "repositories[].full_name is not a repository name"
    assert delivery.attempts == 1
    # The same payload would fail the same way: not retried.
    assert delivery.next_attempt_at is None
    assert delivery.processed_at is None
    assert not Installation.objects.exists()


def test_it_retries_a_delivery_whose_handler_hits_an_error_that_may_pass(deliver, monkeypatch):
    def database_away(**_: object) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(installations, "installation_upsert", database_away)

    deliver("installation", installation_event(action="created", installation_id=77))

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed"
    assert delivery.last_error.startswith("OperationalError: server closed")
    assert delivery.next_attempt_at is not None


def test_it_backs_off_between_automatic_retries_and_stops_after_the_last(deliver, monkeypatch):
    def database_away(**_: object) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(installations, "installation_upsert", database_away)
    deliver(
        "installation",
        installation_event(action="created", installation_id=77),
        delivery_id="broken",
    )
    delays = []
    for _ in range(MAX_ATTEMPTS - 1):
        delivery = _delivery("broken")
        delays.append(delivery.next_attempt_at - timezone.now())
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
        call_command("process_pending")

    delivery = _delivery("broken")
    assert delivery.status == "failed"
    assert delivery.attempts == MAX_ATTEMPTS
    assert delivery.next_attempt_at is None
    assert all(later > 2 * earlier for earlier, later in itertools.pairwise(delays))


def test_it_updates_an_installation_block_without_touching_the_team(deliver, team):
    installation_for(team=team, installation_id=77, login="acme-org")
    payload = {
        "action": "unsuspend",
        "installation": installation_block(installation_id=77, login="acme-renamed"),
    }

    deliver("installation", payload, delivery_id="renamed")

    installation = Installation.objects.get(installation_id=77)
    assert (installation.team, installation.account_login) == (team, "acme-renamed")
    assert _delivery("renamed").team == team


def _broken(path: str, value: object) -> dict:
    payload = installation_event(action="created", installation_id=78)
    *parents, key = path.split(".")
    block = payload
    for name in parents:
        block = block[name]
    if value is _REMOVED:
        del block[key]
    else:
        block[key] = value
    return payload


_REMOVED = object()


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        ("installation", _REMOVED, "installation is missing"),
        ("installation", "acme", "installation is not an object"),
        ("installation.id", "78", "installation.id is not an integer"),
        ("installation.id", 2**63, "installation.id is out of range (1 to 9223372036854775807)"),
        ("installation.account", [], "installation.account is not an object"),
        ("installation.account.id", {}, "installation.account.id is not an integer"),
        ("installation.account.login", 7, "installation.account.login is not a string"),
        (
            "installation.permissions",
            ["read"],
            "installation.permissions is not an object of strings",
        ),
        ("installation.events", "push", "installation.events is not a list of strings"),
        ("installation.suspended_at", [], "installation.suspended_at is not a time"),
        ("repositories", "acme/api", "the repositories are not a list"),
        ("repositories", [5], "repositories[] is not an object"),
        (
            "repositories",
            [{"id": 5, "full_name": ""}],
            "repositories[].full_name is not a repository name",
        ),
    ],
)
def test_it_fails_an_installation_event_of_the_wrong_shape_with_the_reason(
    deliver, path, value, reason
):
    deliver("installation", _broken(path, value), delivery_id="misshapen")

    delivery = _delivery("misshapen")
    assert (delivery.status, delivery.last_error, delivery.attempts) == ("failed", reason, 1)
    assert delivery.next_attempt_at is None  # it can never succeed: not retried
    assert not Installation.objects.filter(installation_id=78).exists()

"""installation and installation_repositories events processed out of order:
GitHub does not order its deliveries, and a failed one is retried up to 32
minutes later. The newest event GitHub sent wins, whatever the processing order;
deletion is final."""

from __future__ import annotations

import pytest
from django.utils import timezone

from apps.integrations.models import Installation, Repository, WebhookDelivery
from apps.integrations.pipeline.drain import process_delivery
from apps.integrations.services.installations import installation_upsert, repositories_sync
from github_app.webhook_payloads import pull_request_payload
from tests.integrations.conftest import installation_for, repository_for
from tests.payloads.installations import (
    installation_block,
    installation_event,
    installation_repositories_event,
    repository_stub,
)

pytestmark = pytest.mark.django_db

HELLO = repository_stub(repository_id=501, full_name="acme-org/hello")


def _received(deliver, event, payload, *, delivery_id):
    """Store a delivery now without processing it yet (as while the worker is
    busy or the broker is down)."""
    deliver(event, payload, delivery_id=delivery_id, lose_wake_up=True)


def _process(*delivery_ids):
    """Process stored deliveries in this order, whatever order they came in."""
    for delivery_id in delivery_ids:
        process_delivery(pk=WebhookDelivery.objects.get(delivery_id=delivery_id).pk)


def _status(delivery_id):
    delivery = WebhookDelivery.objects.get(delivery_id=delivery_id)
    return delivery.status, delivery.status_reason


def _suspend(*, installation_id=77):
    return installation_event(
        action="suspend", installation_id=installation_id, suspended_at="2025-01-02T15:00:00Z"
    )


def _removed(*repositories):
    return installation_repositories_event(
        action="removed", installation_id=77, removed=list(repositories)
    )


def _added(*repositories):
    return installation_repositories_event(
        action="added", installation_id=77, added=list(repositories)
    )


def test_it_keeps_an_installation_unsuspended_when_the_older_suspend_comes_last(deliver):
    installation_for(team=None, installation_id=77, login="acme-org")
    _received(deliver, "installation", _suspend(), delivery_id="suspend")
    _received(
        deliver,
        "installation",
        installation_event(action="unsuspend", installation_id=77),
        delivery_id="unsuspend",
    )

    _process("unsuspend", "suspend")

    assert Installation.objects.get(installation_id=77).suspended_at is None
    assert _status("suspend") == ("processed", "")


def test_it_keeps_an_installation_suspended_when_the_older_unsuspend_comes_last(deliver):
    installation_for(team=None, installation_id=77, login="acme-org")
    _received(
        deliver,
        "installation",
        installation_event(action="unsuspend", installation_id=77),
        delivery_id="unsuspend",
    )
    _received(deliver, "installation", _suspend(), delivery_id="suspend")

    _process("suspend", "unsuspend")

    suspended_at = Installation.objects.get(installation_id=77).suspended_at
    assert suspended_at is not None
    assert suspended_at.isoformat() == "2025-01-02T15:00:00+00:00"


def test_it_keeps_the_newer_permissions_when_older_ones_come_last(deliver):
    installation_for(team=None, installation_id=77, login="acme-org")
    _received(
        deliver,
        "installation",
        installation_event(
            action="new_permissions_accepted",
            installation_id=77,
            permissions={"metadata": "read"},
            events=["pull_request"],
            repository_selection="selected",
        ),
        delivery_id="older",
    )
    _received(
        deliver,
        "installation",
        installation_event(
            action="new_permissions_accepted",
            installation_id=77,
            login="acme-renamed",
            permissions={"metadata": "read", "checks": "read"},
            events=["pull_request", "check_run"],
            repository_selection="all",
        ),
        delivery_id="newer",
    )

    _process("newer", "older")

    installation = Installation.objects.get(installation_id=77)
    assert installation.permissions == {"metadata": "read", "checks": "read"}
    assert installation.events == ["pull_request", "check_run"]
    assert installation.repository_selection == "all"
    assert installation.account_login == "acme-renamed"


def test_it_keeps_a_repository_added_back_when_the_older_removal_comes_last(deliver, team):
    installation = installation_for(team=team, installation_id=77, login="acme-org")
    hello = repository_for(installation=installation, github_id=501, full_name="acme-org/hello")
    _received(deliver, "installation_repositories", _removed(HELLO), delivery_id="removed")
    _received(deliver, "installation_repositories", _added(HELLO), delivery_id="added")

    _process("added", "removed")
    deliver(
        "pull_request",
        pull_request_payload(
            installation_id=77, repository_id=501, repository_full_name="acme-org/hello"
        ),
        delivery_id="pull-request",
    )

    hello.refresh_from_db()
    assert (hello.accessible, hello.tracked) == (True, True)
    assert _status("removed") == ("processed", "")
    assert _status("pull-request") == ("processed", "")


def test_it_keeps_a_repository_removed_when_the_older_addition_comes_last(deliver, team):
    installation = installation_for(team=team, installation_id=77, login="acme-org")
    hello = repository_for(installation=installation, github_id=501, full_name="acme-org/hello")
    _received(deliver, "installation_repositories", _added(HELLO), delivery_id="added")
    _received(deliver, "installation_repositories", _removed(HELLO), delivery_id="removed")

    _process("removed", "added")

    hello.refresh_from_db()
    assert (hello.accessible, hello.tracked) == (False, True)


def test_it_remembers_a_removal_that_comes_before_the_older_addition_of_a_new_repository(
    deliver, team
):
    installation_for(team=team, installation_id=77, login="acme-org")
    _received(deliver, "installation_repositories", _added(HELLO), delivery_id="added")
    _received(deliver, "installation_repositories", _removed(HELLO), delivery_id="removed")

    _process("removed", "added")

    hello = Repository.objects.get(installation__installation_id=77, github_id=501)
    assert (hello.full_name, hello.accessible) == ("acme-org/hello", False)


@pytest.mark.parametrize("action", ["created", "unsuspend"])
def test_it_never_brings_a_deleted_installation_back_with_an_older_event(deliver, team, action):
    installation = installation_for(team=team, installation_id=77, login="acme-org")
    hello = repository_for(installation=installation, github_id=501, full_name="acme-org/hello")
    _received(
        deliver,
        "installation",
        installation_event(action=action, installation_id=77, repositories=[HELLO]),
        delivery_id="older",
    )
    _received(
        deliver,
        "installation",
        installation_event(action="deleted", installation_id=77),
        delivery_id="deleted",
    )

    _process("deleted", "older")

    installation.refresh_from_db()
    hello.refresh_from_db()
    assert installation.deleted_at is not None
    assert hello.accessible is False
    assert _status("older") == ("ignored", "Installation 77 was deleted.")


def test_it_deletes_an_installation_even_when_the_deletion_comes_after_newer_events(deliver):
    installation_for(team=None, installation_id=77, login="acme-org")
    _received(
        deliver,
        "installation",
        installation_event(action="deleted", installation_id=77),
        delivery_id="deleted",
    )
    _received(
        deliver,
        "installation",
        installation_event(action="unsuspend", installation_id=77),
        delivery_id="unsuspend",
    )

    _process("unsuspend", "deleted")

    assert Installation.objects.get(installation_id=77).deleted_at is not None


def test_it_does_not_let_a_retried_older_delivery_undo_a_newer_one(deliver, team):
    installation = installation_for(team=team, installation_id=77, login="acme-org")
    hello = repository_for(installation=installation, github_id=501, full_name="acme-org/hello")
    _received(deliver, "installation_repositories", _removed(HELLO), delivery_id="removed")
    # Its first attempt failed; the retry is due.
    WebhookDelivery.objects.filter(delivery_id="removed").update(
        status=WebhookDelivery.Status.FAILED, attempts=1, next_attempt_at=timezone.now()
    )

    # Wakes the drain: the new delivery first, then the retry that is due.
    deliver("installation_repositories", _added(HELLO), delivery_id="added")

    hello.refresh_from_db()
    assert hello.accessible is True
    assert WebhookDelivery.objects.get(delivery_id="removed").attempts == 2
    assert _status("removed") == ("processed", "")


def test_it_treats_a_read_from_the_api_as_newer_than_events_received_before_it(deliver):
    installation_for(team=None, installation_id=77, login="acme-org")
    _received(deliver, "installation", _suspend(), delivery_id="suspend")

    # The install flow reads the installation from GitHub: it is not suspended.
    installation_upsert(data=installation_block(installation_id=77))
    _process("suspend")

    assert Installation.objects.get(installation_id=77).suspended_at is None


def test_it_keeps_a_resynced_repository_accessible_when_an_older_removal_comes_last(deliver, team):
    installation = installation_for(team=team, installation_id=77, login="acme-org")
    hello = repository_for(installation=installation, github_id=501, full_name="acme-org/hello")
    _received(deliver, "installation_repositories", _removed(HELLO), delivery_id="removed")

    repositories_sync(installation=installation, repositories=[HELLO], complete=True)
    _process("removed")

    hello.refresh_from_db()
    assert hello.accessible is True


def test_it_applies_events_processed_in_order(deliver, team):
    installation = installation_for(team=team, installation_id=77, login="acme-org")
    hello = repository_for(installation=installation, github_id=501, full_name="acme-org/hello")

    deliver("installation", _suspend())
    deliver("installation", installation_event(action="unsuspend", installation_id=77))
    deliver("installation_repositories", _removed(HELLO))
    deliver("installation_repositories", _added(HELLO))
    deliver("installation_repositories", _removed(HELLO))

    installation.refresh_from_db()
    hello.refresh_from_db()
    assert installation.suspended_at is None
    assert hello.accessible is False

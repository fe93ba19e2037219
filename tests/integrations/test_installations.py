"""installation and installation_repositories events keep our records in step,
by GitHub's ids; the services behind them are the ones the install flow uses."""

from __future__ import annotations

import pytest

from apps.integrations.models import Installation, Repository, WebhookDelivery
from apps.integrations.services.installations import (
    InstallationClaimError,
    installation_claim,
    repositories_sync,
)
from apps.teams.models import Team
from tests.integrations.conftest import installation_for, repository_for
from tests.payloads.installations import (
    installation_event,
    installation_repositories_event,
    repository_stub,
)

pytestmark = pytest.mark.django_db

HELLO = repository_stub(repository_id=501, full_name="acme-org/hello")
WORLD = repository_stub(repository_id=502, full_name="acme-org/world", private=True)


def _status(delivery_id: str) -> tuple[str, str]:
    delivery = WebhookDelivery.objects.get(delivery_id=delivery_id)
    return delivery.status, delivery.status_reason


def test_it_records_a_new_installation_unclaimed_with_its_repositories(deliver):
    payload = installation_event(
        action="created",
        installation_id=77,
        repositories=[HELLO, WORLD],
        permissions={"metadata": "read", "pull_requests": "read"},
        events=["pull_request"],
    )

    deliver("installation", payload, delivery_id="created")

    installation = Installation.objects.get(installation_id=77)
    assert installation.team is None
    assert (installation.account_login, installation.account_id, installation.account_type) == (
        "acme-org",
        9100,
        "Organization",
    )
    assert installation.permissions == {"metadata": "read", "pull_requests": "read"}
    assert installation.events == ["pull_request"]
    assert installation.repository_selection == "selected"
    repositories = {r.github_id: r for r in installation.repositories.all()}
    assert set(repositories) == {501, 502}
    assert repositories[502].full_name == "acme-org/world"
    assert repositories[502].private is True
    assert not repositories[501].tracked
    assert _status("created") == ("processed", "")


@pytest.mark.parametrize("selection", ["everything", "x" * 20, "x" * 500])
def test_it_records_an_installation_whose_selection_it_does_not_know(deliver, selection):
    # The column holds "all" or "selected": a longer value failed the whole
    # event on PostgreSQL (value too long), and the installation was lost.
    payload = installation_event(action="created", installation_id=78, repositories=[HELLO])
    payload["installation"]["repository_selection"] = selection

    deliver("installation", payload, delivery_id="unknown-selection")

    assert _status("unknown-selection") == ("processed", "")
    assert Installation.objects.get(installation_id=78).repository_selection == ""


def test_it_keeps_the_claim_when_the_installation_is_created_again(deliver, team):
    installation_for(team=team, installation_id=77, login="old-login")

    deliver("installation", installation_event(action="created", installation_id=77))

    installation = Installation.objects.get(installation_id=77)
    assert installation.team == team
    assert installation.account_login == "acme-org"


def test_it_marks_a_deleted_installation_and_stops_processing_it(deliver, team):
    installation = installation_for(team=team, installation_id=77, login="acme-org")
    repository = repository_for(
        installation=installation, github_id=501, full_name="acme-org/hello"
    )

    deliver("installation", installation_event(action="deleted", installation_id=77))
    deliver(
        "installation_repositories",
        installation_repositories_event(action="added", installation_id=77, added=[WORLD]),
        delivery_id="after-delete",
    )

    installation.refresh_from_db()
    repository.refresh_from_db()
    assert installation.deleted_at is not None
    assert installation.team == team
    assert repository.accessible is False
    assert _status("after-delete") == ("ignored", "Installation 77 was deleted.")
    assert not Repository.objects.filter(github_id=502).exists()


def test_it_marks_suspension_and_its_end(deliver):
    installation_for(team=None, installation_id=77, login="acme-org")

    deliver(
        "installation",
        installation_event(
            action="suspend", installation_id=77, suspended_at="2025-01-02T15:00:00Z"
        ),
    )
    suspended = Installation.objects.get(installation_id=77)
    deliver("installation", installation_event(action="unsuspend", installation_id=77))
    unsuspended = Installation.objects.get(installation_id=77)

    assert suspended.suspended_at is not None
    assert suspended.suspended_at.isoformat() == "2025-01-02T15:00:00+00:00"
    assert unsuspended.suspended_at is None


def test_it_marks_a_suspension_whose_payload_has_no_time(deliver):
    deliver("installation", installation_event(action="suspend", installation_id=77))

    assert Installation.objects.get(installation_id=77).suspended_at is not None


def test_it_updates_permissions_when_new_ones_are_accepted(deliver):
    installation_for(team=None, installation_id=77, login="acme-org")

    deliver(
        "installation",
        installation_event(
            action="new_permissions_accepted",
            installation_id=77,
            permissions={"metadata": "read", "pull_requests": "read", "checks": "read"},
            events=["pull_request", "pull_request_review", "check_run"],
        ),
    )

    installation = Installation.objects.get(installation_id=77)
    assert installation.permissions["checks"] == "read"
    assert "check_run" in installation.events


def test_it_adds_repositories_and_keeps_removed_ones_as_inaccessible(deliver, team):
    installation = installation_for(team=team, installation_id=77, login="acme-org")
    hello = repository_for(installation=installation, github_id=501, full_name="acme-org/hello")

    deliver(
        "installation_repositories",
        installation_repositories_event(action="added", installation_id=77, added=[WORLD]),
    )
    deliver(
        "installation_repositories",
        installation_repositories_event(action="removed", installation_id=77, removed=[HELLO]),
        delivery_id="removed",
    )

    hello.refresh_from_db()
    world = Repository.objects.get(installation=installation, github_id=502)
    assert (hello.accessible, hello.tracked) == (False, True)
    assert world.accessible is True
    assert _status("removed") == ("processed", "")
    assert WebhookDelivery.objects.get(delivery_id="removed").team == team


def test_it_makes_a_repository_added_back_accessible_again(deliver, team):
    installation = installation_for(team=team, installation_id=77, login="acme-org")
    hello = repository_for(installation=installation, github_id=501, full_name="acme-org/hello")
    deliver(
        "installation_repositories",
        installation_repositories_event(action="removed", installation_id=77, removed=[HELLO]),
    )

    deliver(
        "installation_repositories",
        installation_repositories_event(action="added", installation_id=77, added=[HELLO]),
    )

    hello.refresh_from_db()
    assert (hello.accessible, hello.tracked) == (True, True)


def test_it_follows_a_renamed_repository_by_its_id(team):
    installation = installation_for(team=team, installation_id=77, login="acme-org")
    repository = repository_for(
        installation=installation, github_id=501, full_name="acme-org/hello"
    )

    repositories_sync(
        installation=installation,
        repositories=[repository_stub(repository_id=501, full_name="acme-org/hello-renamed")],
    )

    repository.refresh_from_db()
    assert repository.full_name == "acme-org/hello-renamed"
    assert installation.repositories.count() == 1


def test_it_marks_repositories_missing_from_a_complete_list_inaccessible(team):
    installation = installation_for(team=team, installation_id=77, login="acme-org")
    repository_for(installation=installation, github_id=501, full_name="acme-org/hello")

    repositories_sync(installation=installation, repositories=[WORLD], complete=True)

    accessible = dict(installation.repositories.values_list("github_id", "accessible"))
    assert accessible == {501: False, 502: True}


def test_it_lets_a_team_claim_an_unclaimed_installation(team, owner):
    installation = installation_for(team=None, installation_id=77, login="acme-org")

    claimed = installation_claim(installation=installation, team=team, user=owner)

    assert (claimed.team, claimed.claimed_by) == (team, owner)
    assert claimed.claimed_at is not None


def test_it_refuses_to_give_a_claimed_installation_to_another_team(team):
    installation = installation_for(team=team, installation_id=77, login="acme-org")
    other = Team.objects.create(name="Other", slug="other")

    with pytest.raises(InstallationClaimError, match="another team"):
        installation_claim(installation=installation, team=other, user=None)

    installation.refresh_from_db()
    assert installation.team == team


def test_it_refuses_to_claim_a_deleted_installation(team, deliver):
    installation = installation_for(team=None, installation_id=77, login="acme-org")
    deliver("installation", installation_event(action="deleted", installation_id=77))

    with pytest.raises(InstallationClaimError, match="removed"):
        installation_claim(installation=installation, team=team, user=None)

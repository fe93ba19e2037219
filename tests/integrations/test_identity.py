"""Identity by GitHub's ids: renames, transfers, reinstalls and deleted accounts,
through the real endpoint."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from apps.integrations.models import Installation, Repository, WebhookDelivery
from apps.integrations.services.installations import repositories_sync
from apps.metrics.models import PullRequest, TeamMember
from github_app.webhook_payloads import pull_request_payload, review_payload
from tests.integrations.conftest import installation_for, repository_for
from tests.payloads.installations import (
    installation_event,
    installation_repositories_event,
    repository_stub,
)
from tests.payloads.repositories import installation_target_event, repository_event

pytestmark = pytest.mark.django_db

INSTALLATION, REINSTALLATION = 42, 43
REPOSITORY_ID = 100
BEFORE_RENAME = "2024-05-15T15:21:14Z"
AFTER_RENAME = "2025-02-01T09:00:00Z"
GHOST = {"author_id": 10137, "author_login": "ghost"}


@pytest.fixture
def repository(team):
    installation = installation_for(team=team, installation_id=INSTALLATION, login="org")
    return repository_for(
        installation=installation, github_id=REPOSITORY_ID, full_name="org/old-name"
    )


def _in_repository(payload: dict[str, Any], *, updated_at: str) -> dict[str, Any]:
    payload["repository"]["updated_at"] = updated_at
    return payload


def merged_222(full_name: str = "org/old-name", installation_id: int = INSTALLATION):
    return pull_request_payload(
        "closed",
        pr_id=2220,
        number=222,
        title="Add the cache",
        state="closed",
        merged=True,
        merged_at="2025-01-10T12:00:00Z",
        installation_id=installation_id,
        repository_id=REPOSITORY_ID,
        repository_full_name=full_name,
    )


def revert_of_222(body: str, full_name: str = "org/new-name", installation_id: int = INSTALLATION):
    return pull_request_payload(
        "opened",
        pr_id=2300,
        number=230,
        title='Revert "Add the cache"',
        body=body,
        head_ref="revert-222-add-the-cache",
        created_at="2025-02-02T10:00:00Z",
        installation_id=installation_id,
        repository_id=REPOSITORY_ID,
        repository_full_name=full_name,
    )


def _pull_request(number: int) -> PullRequest:
    return PullRequest.objects.get(number=number)


# --- reverts in a renamed repository ------------------------------------------------


def test_it_links_a_revert_naming_the_new_name_after_the_pull_request_it_reverts(
    deliver, repository
):
    deliver("pull_request", _in_repository(merged_222(), updated_at=BEFORE_RENAME))
    # Renamed on GitHub, and no event said so: the revert's own block has the new name.
    deliver(
        "pull_request",
        _in_repository(revert_of_222("Reverts org/new-name#222"), updated_at=AFTER_RENAME),
    )

    assert _pull_request(230).reverts == _pull_request(222)
    repository.refresh_from_db()
    assert repository.full_name == "org/new-name"


def test_it_links_a_revert_naming_the_new_name_before_the_pull_request_it_reverts(
    deliver, repository
):
    deliver(
        "pull_request",
        _in_repository(revert_of_222("Reverts org/new-name#222"), updated_at=AFTER_RENAME),
    )
    assert _pull_request(230).reverts is None
    # A late delivery from before the rename: it links, and does not bring the old name back.
    deliver("pull_request", _in_repository(merged_222(), updated_at=BEFORE_RENAME))

    assert _pull_request(230).reverts == _pull_request(222)
    repository.refresh_from_db()
    assert repository.full_name == "org/new-name"


def test_it_links_a_revert_naming_a_repository_by_its_newest_recorded_name(deliver, repository):
    deliver("pull_request", _in_repository(merged_222(), updated_at=BEFORE_RENAME))
    deliver(
        "repository",
        repository_event(
            "renamed",
            installation_id=INSTALLATION,
            repository_id=REPOSITORY_ID,
            full_name="org/new-name",
            previous_name="old-name",
            updated_at=AFTER_RENAME,
        ),
    )
    # The revert lives in another repository of the team and names this one (any case).
    other = repository_for(
        installation=repository.installation, github_id=101, full_name="org/other"
    )
    revert = revert_of_222("Reverts Org/New-Name#222", full_name=other.full_name)
    revert["repository"]["id"] = revert["pull_request"]["base"]["repo"]["id"] = other.github_id
    deliver("pull_request", revert)

    assert _pull_request(230).reverts == _pull_request(222)


# --- reverts across an uninstall and reinstall --------------------------------------


@pytest.mark.parametrize("body", ["Reverts #222", "Reverts org/old-name#222"])
def test_it_links_a_revert_after_an_uninstall_and_reinstall(deliver, team, repository, body):
    deliver("pull_request", merged_222())
    deliver("installation", installation_event(action="deleted", installation_id=INSTALLATION))
    reinstalled = installation_for(team=team, installation_id=REINSTALLATION, login="org")
    second_row = repository_for(
        installation=reinstalled, github_id=REPOSITORY_ID, full_name="org/old-name"
    )

    deliver(
        "pull_request",
        revert_of_222(body, full_name="org/old-name", installation_id=REINSTALLATION),
    )

    revert = _pull_request(230)
    assert revert.repository == second_row
    assert revert.reverts == _pull_request(222)
    assert PullRequest.objects.filter(repository_github_id=REPOSITORY_ID).count() == 2


# --- repository events ------------------------------------------------------------


def _repository_event(deliver, action: str, **fields: Any) -> WebhookDelivery:
    fields.setdefault("full_name", "org/old-name")
    payload = repository_event(
        action, installation_id=INSTALLATION, repository_id=REPOSITORY_ID, **fields
    )
    assert deliver("repository", payload).status_code == 202
    return WebhookDelivery.objects.filter(event="repository").order_by("-pk").first()


def test_a_renamed_repository_takes_its_new_name_and_an_older_rename_does_not_undo_it(
    deliver, repository
):
    delivery = _repository_event(
        deliver,
        "renamed",
        full_name="org/new-name",
        previous_name="old-name",
        updated_at=AFTER_RENAME,
    )
    assert delivery.status == WebhookDelivery.Status.PROCESSED
    repository.refresh_from_db()
    assert repository.full_name == "org/new-name"

    # An earlier rename, retried late.
    _repository_event(
        deliver,
        "renamed",
        full_name="org/middle-name",
        previous_name="old-name",
        updated_at="2025-01-20T00:00:00Z",
    )
    repository.refresh_from_db()
    assert repository.full_name == "org/new-name"


def test_a_transferred_repository_takes_its_new_owner_and_keeps_its_history(deliver, repository):
    deliver("pull_request", merged_222())
    _repository_event(
        deliver,
        "transferred",
        full_name="neworg/old-name",
        previous_owner="org",
        updated_at=AFTER_RENAME,
    )

    repository.refresh_from_db()
    assert repository.full_name == "neworg/old-name"
    assert _pull_request(222).repository == repository


def test_an_archived_repository_shows_as_archived_until_unarchived(
    client, owner, deliver, repository
):
    _repository_event(deliver, "archived", archived=True, updated_at=AFTER_RENAME)
    repository.refresh_from_db()
    assert repository.archived is True
    client.force_login(owner)
    page = client.get("/teams/acme/github/").content.decode()
    assert 'data-role="archived">archived</span>' in page

    _repository_event(deliver, "unarchived", archived=False, updated_at="2025-02-03T00:00:00Z")
    repository.refresh_from_db()
    assert repository.archived is False
    assert 'data-role="archived"' not in client.get("/teams/acme/github/").content.decode()


def test_a_privatized_or_publicized_repository_follows(deliver, repository):
    assert repository.private is False
    _repository_event(deliver, "privatized", private=True, updated_at=AFTER_RENAME)
    repository.refresh_from_db()
    assert repository.private is True

    _repository_event(deliver, "publicized", private=False, updated_at="2025-02-03T00:00:00Z")
    repository.refresh_from_db()
    assert repository.private is False


def test_a_deleted_repository_is_no_longer_tracked_and_says_why(client, owner, deliver, repository):
    delivery = _repository_event(deliver, "deleted", updated_at=AFTER_RENAME)
    assert delivery.status == WebhookDelivery.Status.PROCESSED

    repository.refresh_from_db()
    assert repository.tracked is False
    assert repository.deleted_at is not None
    assert repository.untracked_reason == "Deleted on GitHub: no longer tracked."
    client.force_login(owner)
    page = client.get("/teams/acme/github/").content.decode()
    assert "no longer tracked: deleted on GitHub" in page
    assert "Deleted on GitHub: no longer tracked." in page

    deliver("pull_request", merged_222(), delivery_id="late-pr")
    late = WebhookDelivery.objects.get(delivery_id="late-pr")
    assert late.status == WebhookDelivery.Status.IGNORED
    assert late.status_reason == "org/old-name was deleted on GitHub."
    # Deletion is final: a late event about the repository brings nothing back.
    _repository_event(
        deliver,
        "renamed",
        full_name="org/back",
        previous_name="old-name",
        updated_at="2026-01-01T00:00:00Z",
    )
    repository.refresh_from_db()
    assert (repository.full_name, repository.tracked) == ("org/old-name", False)


def test_a_repository_event_of_an_unknown_installation_is_ignored(deliver, db):
    response = deliver(
        "repository",
        repository_event(
            "renamed", installation_id=999, repository_id=5, full_name="x/y", previous_name="z"
        ),
        delivery_id="unknown",
    )
    assert response.status_code == 202
    delivery = WebhookDelivery.objects.get(delivery_id="unknown")
    assert delivery.status == WebhookDelivery.Status.IGNORED
    assert delivery.status_reason == "Installation 999 is not known here."


# --- installation_target ---------------------------------------------------------


def test_a_renamed_account_takes_its_new_login(deliver, repository):
    installation = repository.installation
    deliver(
        "installation_target",
        installation_target_event(
            installation_id=INSTALLATION,
            account_id=installation.account_id,
            login="org-renamed",
            previous_login="org",
        ),
        delivery_id="target",
    )

    assert WebhookDelivery.objects.get(delivery_id="target").status == "processed"
    installation.refresh_from_db()
    assert installation.account_login == "org-renamed"


# --- access removed and granted again ------------------------------------------------


def test_a_repository_granted_again_processes_what_was_ignored_while_it_was_removed(
    deliver, repository
):
    stub = repository_stub(repository_id=REPOSITORY_ID, full_name="org/old-name")
    deliver(
        "installation_repositories",
        installation_repositories_event(
            action="removed", installation_id=INSTALLATION, removed=[stub]
        ),
    )
    deliver("pull_request", merged_222(), delivery_id="while-removed")
    assert WebhookDelivery.objects.get(delivery_id="while-removed").status == "ignored"

    deliver(
        "installation_repositories",
        installation_repositories_event(action="added", installation_id=INSTALLATION, added=[stub]),
    )

    assert WebhookDelivery.objects.get(delivery_id="while-removed").status == "processed"
    assert _pull_request(222).repository == repository


# --- deleted accounts (ghost) -------------------------------------------------------


def test_a_ghost_author_is_a_deleted_account_and_a_human_review_counts(deliver, repository):
    deliver(
        "pull_request",
        pull_request_payload(
            installation_id=INSTALLATION,
            repository_id=REPOSITORY_ID,
            repository_full_name="org/old-name",
            **GHOST,
        ),
    )
    deliver(
        "pull_request_review",
        review_payload(
            installation_id=INSTALLATION,
            repository_id=REPOSITORY_ID,
            repository_full_name="org/old-name",
            submitted_at="2025-01-01T12:00:00Z",
            **GHOST,
        ),
    )

    ghost = TeamMember.objects.get(github_id=10137)
    assert ghost.is_deleted_account is True
    assert not TeamMember.objects.get(login="octocat").is_deleted_account
    row = PullRequest.objects.get()
    assert row.author == ghost
    assert row.review_time_hours == 2.0


def test_a_ghost_review_is_left_out_of_first_review_as_a_bots_is(deliver, repository):
    common = {
        "installation_id": INSTALLATION,
        "repository_id": REPOSITORY_ID,
        "repository_full_name": "org/old-name",
    }
    deliver("pull_request", pull_request_payload(**common))
    deliver(
        "pull_request_review",
        review_payload(
            review_id=1,
            reviewer_id=10137,
            reviewer_login="ghost",
            submitted_at="2025-01-01T11:00:00Z",
            **common,
        ),
    )
    assert TeamMember.objects.get(github_id=10137).is_deleted_account is True
    assert PullRequest.objects.get().first_review_at is None

    deliver(
        "pull_request_review",
        review_payload(review_id=2, submitted_at="2025-01-01T13:00:00Z", **common),
    )
    assert PullRequest.objects.get().review_time_hours == 3.0


def test_a_ghost_review_of_a_ghosts_pull_request_is_no_self_review_and_no_review(
    deliver, repository
):
    common = {
        "installation_id": INSTALLATION,
        "repository_id": REPOSITORY_ID,
        "repository_full_name": "org/old-name",
        **GHOST,
    }
    deliver("pull_request", pull_request_payload(**common))
    # Another deleted person: also ghost.
    deliver(
        "pull_request_review",
        review_payload(
            review_id=1,
            reviewer_id=10137,
            reviewer_login="ghost",
            submitted_at="2025-01-01T11:00:00Z",
            **common,
        ),
    )
    deliver(
        "pull_request_review",
        review_payload(review_id=2, submitted_at="2025-01-01T12:00:00Z", **common),
    )

    assert PullRequest.objects.get().review_time_hours == 2.0
    assert Installation.objects.count() == 1
    assert Repository.objects.count() == 1


def test_an_older_repository_listing_does_not_undo_a_rename(deliver, repository):
    _repository_event(
        deliver,
        "renamed",
        full_name="org/new-name",
        previous_name="old-name",
        updated_at=AFTER_RENAME,
    )
    repository.refresh_from_db()
    # An installation_repositories.added received before the rename, processed after it.
    # (After the access recorded before it, so the access clock lets it through.)
    listed_before = repository.snapshot_received_at - timedelta(microseconds=1)
    assert listed_before > repository.access_changed_at
    repositories_sync(
        installation=repository.installation,
        repositories=[repository_stub(repository_id=REPOSITORY_ID, full_name="org/old-name")],
        at=listed_before,
    )

    repository.refresh_from_db()
    assert repository.full_name == "org/new-name"

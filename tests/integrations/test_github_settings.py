"""The team's GitHub page: repositories, tracking, re-sync, disconnect."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import respx

from apps.integrations.models import Repository
from apps.teams.models import Team
from tests.github_app.keys import private_key_pem
from tests.integrations.conftest import installation_for, repository_for
from tests.payloads.installations import repository_stub

API = "https://api.github.com"
INSTALLATION_ID = 7002


@pytest.fixture(autouse=True)
def github_app_env(settings):
    settings.GITHUB_APP_ID = "12345"
    settings.GITHUB_APP_SLUG = "tformance-test"
    settings.GITHUB_APP_PRIVATE_KEY = private_key_pem()
    settings.GITHUB_API_URL = API
    settings.GITHUB_WEB_URL = "https://github.com"


@pytest.fixture
def installation(team):
    return installation_for(team=team, installation_id=INSTALLATION_ID, login="acme-org")


@pytest.fixture
def repository(installation):
    return repository_for(
        installation=installation, github_id=11, full_name="acme-org/api", tracked=False
    )


def page(client, slug="acme"):
    return client.get(f"/teams/{slug}/github/")


def track(client, repository, tracked="1", slug="acme"):
    return client.post(
        f"/teams/{slug}/github/repositories/{repository.pk}/track/", {"tracked": tracked}
    )


def badge_of(response, full_name: str) -> str:
    html = response.content.decode()
    row = html[html.index(f'data-repository="{full_name}"') :]
    start = row.index('data-role="status">') + len('data-role="status">')
    return row[start : row.index("</span>", start)]


def test_it_lists_the_repositories_with_their_badges(client, owner, repository):
    client.force_login(owner)
    response = page(client)
    assert response.status_code == 200
    assert badge_of(response, "acme-org/api") == "not tracked"
    assert b"Install on GitHub" in response.content
    assert b"https://github.com/organizations/acme-org/settings/installations/7002" in (
        response.content
    )


def test_it_tracks_a_repository(client, owner, repository):
    client.force_login(owner)
    response = track(client, repository)
    assert response.status_code == 302
    repository.refresh_from_db()
    assert repository.tracked and repository.tracked_at is not None
    assert badge_of(page(client), "acme-org/api") == "tracked"


def test_it_stops_tracking_a_repository(client, owner, repository):
    client.force_login(owner)
    track(client, repository)
    track(client, repository, tracked="0")
    repository.refresh_from_db()
    assert not repository.tracked and repository.tracked_at is None


def test_it_shows_members_the_page_without_controls(client, member, repository):
    client.force_login(member)
    response = page(client)
    assert response.status_code == 200
    assert badge_of(response, "acme-org/api") == "not tracked"
    assert b"Install on GitHub" not in response.content
    assert b">Track<" not in response.content


def test_it_does_not_let_a_member_change_tracking(client, member, repository):
    client.force_login(member)
    response = track(client, repository)
    assert response.status_code == 403
    assert b"Only team admins can change the GitHub connection." in response.content
    repository.refresh_from_db()
    assert not repository.tracked


def test_it_answers_404_for_another_teams_page(client, outsider, repository):
    client.force_login(outsider)
    assert page(client).status_code == 404


def test_it_answers_404_for_another_teams_repository(client, outsider, repository):
    client.force_login(outsider)
    own_team = Team.objects.get(slug="other")
    assert track(client, repository, slug=own_team.slug).status_code == 404
    repository.refresh_from_db()
    assert not repository.tracked


def test_it_answers_404_for_another_teams_installation(client, outsider, installation):
    client.force_login(outsider)
    for action in ("resync", "disconnect"):
        url = f"/teams/other/github/installations/{installation.pk}/{action}/"
        assert client.post(url).status_code == 404
    installation.refresh_from_db()
    assert installation.team.slug == "acme"


def test_it_refuses_to_track_a_repository_no_longer_granted(client, owner, repository):
    Repository.objects.filter(pk=repository.pk).update(accessible=False)
    client.force_login(owner)
    response = track(client, repository)
    repository.refresh_from_db()
    assert not repository.tracked
    content = client.get(response["Location"]).content.decode()
    assert "no longer grants access" in content
    assert badge_of(client.get("/teams/acme/github/"), "acme-org/api") == (
        "access removed on GitHub"
    )


def test_it_refuses_to_track_in_a_suspended_installation(client, owner, installation, repository):
    installation.suspended_at = datetime.now(UTC)
    installation.save()
    client.force_login(owner)
    track(client, repository)
    repository.refresh_from_db()
    assert not repository.tracked
    assert badge_of(page(client), "acme-org/api") == "installation suspended"


def test_it_shows_an_uninstalled_installation(client, owner, installation, repository):
    installation.deleted_at = datetime.now(UTC)
    installation.save()
    client.force_login(owner)
    assert badge_of(page(client), "acme-org/api") == "uninstalled"


def test_it_resyncs_every_page_of_repositories(client, owner, installation, repository):
    first = [repository_stub(repository_id=100 + i, full_name=f"acme-org/r{i}") for i in range(2)]
    second = [repository_stub(repository_id=200, full_name="acme-org/last")]
    with respx.mock(base_url=API) as github:
        github.post(f"/app/installations/{INSTALLATION_ID}/access_tokens").respond(
            201,
            json={
                "token": "ghs_t",
                "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
            },
        )
        github.get("/installation/repositories", params={"page": "2"}).respond(
            200, json={"total_count": 3, "repositories": second}
        )
        github.get("/installation/repositories").respond(
            200,
            json={"total_count": 3, "repositories": first},
            headers={
                "Link": f'<{API}/installation/repositories?per_page=100&page=2>; rel="next", '
                f'<{API}/installation/repositories?per_page=100&page=2>; rel="last"'
            },
        )
        client.force_login(owner)
        response = client.post(f"/teams/acme/github/installations/{installation.pk}/resync/")

    assert response.status_code == 302
    rows = dict(installation.repositories.values_list("full_name", "accessible"))
    assert rows == {
        "acme-org/api": False,
        "acme-org/r0": True,
        "acme-org/r1": True,
        "acme-org/last": True,
    }
    assert "3 repositories" in client.get("/teams/acme/github/").content.decode()


def test_it_reports_a_failed_resync(client, owner, installation, repository, no_sleep):
    with respx.mock(base_url=API) as github:
        github.post(f"/app/installations/{INSTALLATION_ID}/access_tokens").respond(
            404, json={"message": "Not Found"}
        )
        client.force_login(owner)
        response = client.post(
            f"/teams/acme/github/installations/{installation.pk}/resync/", follow=True
        )
    assert b"Re-sync failed" in response.content
    repository.refresh_from_db()
    assert repository.accessible


def test_it_disconnects_an_installation_and_keeps_its_data(client, owner, installation, repository):
    client.force_login(owner)
    response = client.post(
        f"/teams/acme/github/installations/{installation.pk}/disconnect/", follow=True
    )
    installation.refresh_from_db()
    assert installation.team is None
    assert Repository.objects.filter(pk=repository.pk).exists()
    assert b"uninstall it on the installation" in response.content
    assert b"acme-org/api" not in page(client).content


def test_it_does_not_let_a_member_disconnect(client, member, installation):
    client.force_login(member)
    response = client.post(f"/teams/acme/github/installations/{installation.pk}/disconnect/")
    assert response.status_code == 403
    installation.refresh_from_db()
    assert installation.team is not None


def test_it_explains_a_missing_app_to_staff(client, owner, settings):
    settings.GITHUB_APP_SLUG = ""
    owner.is_staff = True
    owner.save()
    client.force_login(owner)
    response = page(client)
    assert b"not set up yet" in response.content
    assert b"/github/manifest/" in response.content


def test_it_leaves_nothing_tracked_for_the_next_team_after_a_disconnect(
    client, owner, installation, repository
):
    client.force_login(owner)
    track(client, repository)
    client.post(f"/teams/acme/github/installations/{installation.pk}/disconnect/")

    repository.refresh_from_db()
    assert not repository.tracked and repository.tracked_at is None


def test_it_processes_the_kept_events_of_a_repository_once_it_is_tracked(
    client, owner, installation, repository, deliver, django_capture_on_commit_callbacks
):
    from apps.integrations.models import WebhookDelivery
    from apps.metrics.models import PullRequest
    from github_app.webhook_payloads import pull_request_payload, review_payload

    common = {
        "installation_id": INSTALLATION_ID,
        "repository_id": repository.github_id,
        "repository_full_name": repository.full_name,
    }
    deliver("pull_request", pull_request_payload(pr_id=5, number=5, **common), delivery_id="pr")
    deliver("pull_request_review", review_payload(pr_id=5, number=5, **common), delivery_id="rv")
    other = pull_request_payload(
        pr_id=6,
        number=6,
        installation_id=INSTALLATION_ID,
        repository_id=99,
        repository_full_name="acme-org/other",
    )
    deliver("pull_request", other, delivery_id="elsewhere")
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"ignored"}

    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        track(client, repository)

    statuses = dict(WebhookDelivery.objects.values_list("delivery_id", "status"))
    assert statuses == {"pr": "processed", "rv": "processed", "elsewhere": "ignored"}
    pull_request = PullRequest.objects.get(github_id=5)
    assert pull_request.repository == repository
    assert pull_request.reviews.count() == 1


def test_it_refuses_a_member_the_install_with_the_styled_403_page(client, member, installation):
    client.force_login(member)
    response = client.post("/teams/acme/github/install/")
    assert response.status_code == 403
    assert b"You can't do that here" in response.content
    assert b"Only team admins can change the GitHub connection." in response.content


def test_it_asks_to_press_no_button_that_is_not_there(client, owner, settings):
    settings.GITHUB_APP_ID = ""
    settings.GITHUB_APP_SLUG = ""
    client.force_login(owner)
    response = page(client)
    assert response.status_code == 200
    assert b"Install on GitHub" not in response.content
    assert b"not set up yet" in response.content
    # make demo is for a machine of one's own, never a production database.
    assert b"make demo" not in response.content
    settings.DEBUG = True
    assert b"make demo" in page(client).content

"""Installing the app and claiming the installation, through the real views
with GitHub faked by respx on its real paths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
import respx
from django.test import Client

from apps.integrations.models import Installation, Repository
from apps.metrics.models import TeamMember
from apps.teams.models import Membership, Team
from tests.github_app.keys import private_key_pem
from tests.integrations.conftest import installation_for, repository_for
from tests.payloads.installations import installation_block, repository_stub

API = "https://api.github.com"
WEB = "https://github.com"
INSTALLATION_ID = 7001
CALLBACK = "/github/install/callback/"
INSTALLER = {"id": 5001, "login": "octo-admin", "type": "User"}


@pytest.fixture(autouse=True)
def github_app_env(settings):
    settings.GITHUB_APP_ID = "12345"
    settings.GITHUB_APP_SLUG = "tformance-test"
    settings.GITHUB_APP_CLIENT_ID = "Iv23client"
    settings.GITHUB_APP_CLIENT_SECRET = "client-secret-value"
    settings.GITHUB_APP_PRIVATE_KEY = private_key_pem()
    settings.GITHUB_API_URL = API
    settings.GITHUB_WEB_URL = WEB


@pytest.fixture
def github():
    with respx.mock(assert_all_called=False) as mock:
        yield mock


def fake_github(
    github,
    *,
    user_installations: list[int] = (INSTALLATION_ID,),
    repositories: list[dict] | None = None,
):
    github.post(f"{WEB}/login/oauth/access_token").respond(
        200, json={"access_token": "ghu_usertoken", "token_type": "bearer", "scope": ""}
    )
    github.get(f"{API}/user/installations").respond(
        200,
        json={
            "total_count": len(user_installations),
            "installations": [
                installation_block(installation_id=i, login=f"org-{i}") for i in user_installations
            ],
        },
    )
    github.get(f"{API}/user").respond(200, json=INSTALLER)
    for i in user_installations:
        github.get(f"{API}/user/memberships/orgs/org-{i}").respond(
            200, json={"state": "active", "role": "admin", "user": INSTALLER}
        )
    github.post(f"{API}/app/installations/{INSTALLATION_ID}/access_tokens").respond(
        201,
        json={
            "token": "ghs_installationtoken",
            "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        },
    )
    repos = (
        repositories
        if repositories is not None
        else [
            repository_stub(repository_id=1, full_name=f"org-{INSTALLATION_ID}/api"),
            repository_stub(repository_id=2, full_name=f"org-{INSTALLATION_ID}/web"),
        ]
    )
    return github.get(f"{API}/installation/repositories").respond(
        200, json={"total_count": len(repos), "repositories": repos}
    )


def start_install(client, team_slug: str = "acme") -> str:
    response = client.post(f"/teams/{team_slug}/github/install/")
    assert response.status_code == 302
    location = urlparse(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        f"{WEB}/apps/tformance-test/installations/new"
    )
    return parse_qs(location.query)["state"][0]


def come_back(client, *, state: str | None, code: str | None = "oauth-code", **extra: str):
    params = {"installation_id": str(INSTALLATION_ID), "setup_action": "install", **extra}
    if state is not None:
        params["state"] = state
    if code is not None:
        params["code"] = code
    return client.get(CALLBACK, params)


def test_it_claims_an_installation_the_user_can_access(client, owner, github):
    fake_github(github)
    client.force_login(owner)
    state = start_install(client)

    response = come_back(client, state=state)

    assert response.status_code == 302
    assert response["Location"] == "/teams/acme/github/"
    installation = Installation.objects.get(installation_id=INSTALLATION_ID)
    assert installation.team.slug == "acme"
    assert installation.claimed_by == owner
    assert installation.account_login == f"org-{INSTALLATION_ID}"
    assert sorted(installation.repositories.values_list("full_name", flat=True)) == [
        f"org-{INSTALLATION_ID}/api",
        f"org-{INSTALLATION_ID}/web",
    ]
    assert not installation.repositories.filter(tracked=True).exists()


def test_it_checks_the_installation_with_the_users_own_token(client, owner, github):
    fake_github(github)
    client.force_login(owner)
    come_back(client, state=start_install(client))

    exchange = github.calls[0].request
    assert exchange.url == f"{WEB}/login/oauth/access_token"
    listing = next(c.request for c in github.calls if c.request.url.path == "/user/installations")
    assert listing.headers["Authorization"] == "token ghu_usertoken"


def test_it_refuses_a_forged_installation_id(client, owner, github):
    fake_github(github, user_installations=[9999])
    client.force_login(owner)

    response = come_back(client, state=start_install(client))

    assert response.status_code == 403
    assert b"does not have access to that installation" in response.content
    assert not Installation.objects.filter(installation_id=INSTALLATION_ID).exists()


def test_it_refuses_a_missing_state(client, owner, github):
    fake_github(github)
    client.force_login(owner)
    start_install(client)

    response = come_back(client, state=None)

    assert response.status_code == 400
    assert b"Start again" in response.content
    assert not github.calls
    assert not Installation.objects.exists()


def test_it_refuses_a_forged_state(client, owner, github):
    fake_github(github)
    client.force_login(owner)
    state = start_install(client)
    team_id, _, token = state.partition(".")

    response = come_back(client, state=f"{team_id}.{token[::-1]}")

    assert response.status_code == 400
    assert not Installation.objects.exists()


def test_it_refuses_a_state_used_twice(client, owner, github):
    fake_github(github)
    client.force_login(owner)
    state = start_install(client)
    assert come_back(client, state=state).status_code == 302

    response = come_back(client, state=state)

    assert response.status_code == 400


def test_it_refuses_a_state_from_another_browser(client, owner, github):
    fake_github(github)
    client.force_login(owner)
    state = start_install(client)
    other_browser = Client()
    other_browser.force_login(owner)

    response = come_back(other_browser, state=state)

    assert response.status_code == 400
    assert not Installation.objects.exists()


def test_it_refuses_a_state_pointed_at_another_team(client, owner, outsider, github):
    fake_github(github)
    client.force_login(owner)
    state = start_install(client)
    other = Team.objects.get(slug="other")
    _, _, token = state.partition(".")

    response = come_back(client, state=f"{other.pk}.{token}")

    assert response.status_code == 400
    assert not Installation.objects.exists()


def test_it_refuses_a_missing_code(client, owner, github):
    fake_github(github)
    client.force_login(owner)

    response = come_back(client, state=start_install(client), code=None)

    assert response.status_code == 400
    assert b"no authorization code" in response.content
    assert not Installation.objects.exists()


def test_it_refuses_someone_elses_or_a_used_code(client, owner, github):
    fake_github(github)
    github.post(f"{WEB}/login/oauth/access_token").respond(
        200, json={"error": "bad_verification_code", "error_description": "The code is wrong"}
    )
    client.force_login(owner)

    response = come_back(client, state=start_install(client), code="someone-elses-code")

    assert response.status_code == 400
    assert b"GitHub did not confirm who you are" in response.content
    assert b"bad_verification_code" in response.content
    assert b"someone-elses-code" not in response.content
    assert not Installation.objects.exists()


def test_it_shows_a_clear_page_when_github_is_down(client, owner, github, no_sleep):
    fake_github(github)
    github.get(f"{API}/user/installations").respond(503)
    client.force_login(owner)

    response = come_back(client, state=start_install(client))

    assert response.status_code == 502
    assert b"GitHub could not be reached" in response.content
    assert not Installation.objects.exists()


def test_it_refuses_an_installation_claimed_by_another_team(client, owner, github):
    other = Team.objects.create(name="Rivals", slug="rivals")
    installation_for(team=other, installation_id=INSTALLATION_ID, login="org")
    fake_github(github)
    client.force_login(owner)

    response = come_back(client, state=start_install(client))

    assert response.status_code == 409
    assert b"already belongs to another team" in response.content
    assert Installation.objects.get(installation_id=INSTALLATION_ID).team == other


def test_it_keeps_installation_events_that_came_before_the_claim(client, owner, github):
    installation = installation_for(team=None, installation_id=INSTALLATION_ID, login="org")
    earlier = repository_for(
        installation=installation,
        github_id=1,
        full_name=f"org-{INSTALLATION_ID}/api",
        tracked=False,
    )
    fake_github(github)
    client.force_login(owner)

    come_back(client, state=start_install(client))

    installation.refresh_from_db()
    assert installation.team.slug == "acme"
    assert Repository.objects.filter(pk=earlier.pk).exists()


def test_it_lets_only_admins_start_an_install(client, member, github):
    client.force_login(member)
    response = client.post("/teams/acme/github/install/")
    # A member gets the styled 403 page with the reason (apps/teams/access.py).
    assert response.status_code == 403
    assert b"Only team admins can change the GitHub connection." in response.content


def test_it_hides_the_install_button_of_another_team(client, team, outsider):
    client.force_login(outsider)
    assert client.post("/teams/acme/github/install/").status_code == 404


def test_it_refuses_a_member_who_is_not_admin_of_the_state_team(client, team, owner, github):
    fake_github(github)
    client.force_login(owner)
    state = start_install(client)
    Membership.objects.filter(user=owner, team=team).update(role=Membership.Role.MEMBER)

    response = come_back(client, state=state)

    assert response.status_code == 403
    assert not Installation.objects.exists()


def test_it_resyncs_on_setup_action_update(client, owner, team, github):
    installation = installation_for(team=team, installation_id=INSTALLATION_ID, login="org")
    repository_for(installation=installation, github_id=1, full_name="org/api")
    listing = fake_github(
        github, repositories=[repository_stub(repository_id=3, full_name="org/new")]
    )
    client.force_login(owner)

    response = client.get(
        CALLBACK, {"installation_id": str(INSTALLATION_ID), "setup_action": "update"}
    )

    assert response.status_code == 302
    assert listing.called
    rows = dict(installation.repositories.values_list("full_name", "accessible"))
    assert rows == {"org/api": False, "org/new": True}


def test_it_refuses_an_update_for_an_installation_of_another_team(client, outsider, github):
    other_team = Team.objects.create(name="Rivals", slug="rivals")
    installation_for(team=other_team, installation_id=INSTALLATION_ID, login="org")
    listing = fake_github(github)
    client.force_login(outsider)

    response = client.get(
        CALLBACK, {"installation_id": str(INSTALLATION_ID), "setup_action": "update"}
    )

    assert response.status_code == 404
    assert not listing.called


def test_it_sends_anonymous_visitors_to_log_in(client, db):
    response = client.get(CALLBACK, {"installation_id": "1", "state": "x", "code": "y"})
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_it_still_claims_when_the_repository_list_fails(client, owner, github, no_sleep):
    fake_github(github)
    github.get(f"{API}/installation/repositories").respond(500)
    client.force_login(owner)

    response = come_back(client, state=start_install(client))

    assert response.status_code == 302
    assert Installation.objects.get(installation_id=INSTALLATION_ID).team is not None
    page = client.get("/teams/acme/github/")
    assert "could not be read from GitHub" in page.content.decode()


def test_it_explains_when_the_app_is_not_set_up(client, owner, settings):
    settings.GITHUB_APP_SLUG = ""
    client.force_login(owner)
    response = client.post("/teams/acme/github/install/", follow=True)
    assert b"not set up yet" in response.content


def test_it_refuses_a_collaborator_who_is_not_an_owner_of_the_organisation(client, owner, github):
    # GitHub lists an organisation's installation to anyone with access to one
    # of its repositories; only an owner may connect it.
    fake_github(github)
    github.get(f"{API}/user/memberships/orgs/org-{INSTALLATION_ID}").respond(
        200, json={"state": "active", "role": "member", "user": INSTALLER}
    )
    client.force_login(owner)

    response = come_back(client, state=start_install(client))

    assert response.status_code == 403
    assert b"Only an owner can connect this installation" in response.content
    assert not Installation.objects.exists()


def test_it_refuses_an_outside_collaborator_of_the_organisation(client, owner, github):
    fake_github(github)
    github.get(f"{API}/user/memberships/orgs/org-{INSTALLATION_ID}").respond(
        404, json={"message": "Not Found"}
    )
    client.force_login(owner)

    response = come_back(client, state=start_install(client))

    assert response.status_code == 403
    assert not Installation.objects.exists()


def test_it_refuses_a_pending_owner_invitation(client, owner, github):
    fake_github(github)
    github.get(f"{API}/user/memberships/orgs/org-{INSTALLATION_ID}").respond(
        200, json={"state": "pending", "role": "admin", "user": INSTALLER}
    )
    client.force_login(owner)

    assert come_back(client, state=start_install(client)).status_code == 403
    assert not Installation.objects.exists()


def personal_installation(owner_id: int) -> dict:
    block = installation_block(installation_id=INSTALLATION_ID, login="octo-admin")
    block["account"].update({"id": owner_id, "login": "octo-admin", "type": "User"})
    block["target_type"] = "User"
    return block


def test_it_lets_a_user_connect_their_own_personal_installation(client, owner, github):
    fake_github(github)
    github.get(f"{API}/user/installations").respond(
        200, json={"total_count": 1, "installations": [personal_installation(INSTALLER["id"])]}
    )
    client.force_login(owner)

    response = come_back(client, state=start_install(client))

    assert response.status_code == 302
    assert Installation.objects.get(installation_id=INSTALLATION_ID).account_type == "User"


def test_it_refuses_someone_elses_personal_installation(client, owner, github):
    fake_github(github)
    github.get(f"{API}/user/installations").respond(
        200, json={"total_count": 1, "installations": [personal_installation(999)]}
    )
    client.force_login(owner)

    response = come_back(client, state=start_install(client))

    assert response.status_code == 403
    assert not Installation.objects.exists()


def test_it_matches_the_installers_github_identity_to_their_account(client, owner, team, github):
    placeholder = TeamMember.objects.create(
        team=team, github_id=INSTALLER["id"], login="octo-admin"
    )
    fake_github(github)
    client.force_login(owner)

    come_back(client, state=start_install(client))

    placeholder.refresh_from_db()
    assert placeholder.user == owner
    assert TeamMember.objects.filter(team=team, github_id=INSTALLER["id"]).count() == 1

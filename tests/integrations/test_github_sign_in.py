"""Sign in with GitHub: a member links their account to their GitHub identity
through the GitHub App's user authorization, GitHub faked by respx on its real
paths (POST github.com/login/oauth/access_token, GET api.github.com/user)."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
import respx
from django.core import mail

from apps.integrations.models import Repository
from apps.metrics.models import MergeQuestion, PullRequestEvent, TeamMember
from apps.teams.models import Membership
from tests.github_app.keys import private_key_pem
from tests.metrics.figures_fixture import pull_request

pytestmark = pytest.mark.django_db

API = "https://api.github.com"
WEB = "https://github.com"
CALLBACK = "/github/sign-in/callback/"
OCTOCAT = {"login": "octocat", "id": 583231, "type": "User", "site_admin": False}


@pytest.fixture(autouse=True)
def github_app_env(settings):
    settings.GITHUB_APP_ID = "12345"
    settings.GITHUB_APP_CLIENT_ID = "Iv23client"
    settings.GITHUB_APP_CLIENT_SECRET = "client-secret-value"
    settings.GITHUB_APP_PRIVATE_KEY = private_key_pem()
    settings.GITHUB_API_URL = API
    settings.GITHUB_WEB_URL = WEB
    settings.PUBLIC_BASE_URL = "https://metrics.example.com"


@pytest.fixture
def github():
    with respx.mock(assert_all_called=False) as mock:
        yield mock


def fake_github(github, *, token_answer=None, user_status=200):
    exchange = github.post(f"{WEB}/login/oauth/access_token").respond(
        200,
        json=token_answer or {"access_token": "ghu_usertoken", "token_type": "bearer", "scope": ""},
    )
    me = github.get(f"{API}/user").respond(
        user_status, json=OCTOCAT if user_status == 200 else {"message": "Bad credentials"}
    )
    return exchange, me


def start(client) -> str:
    response = client.post("/teams/acme/github/sign-in/")
    assert response.status_code == 302
    location = urlparse(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        f"{WEB}/login/oauth/authorize"
    )
    query = parse_qs(location.query)
    assert query["client_id"] == ["Iv23client"]
    assert query["redirect_uri"] == [f"https://metrics.example.com{CALLBACK}"]
    return query["state"][0]


def test_it_links_the_account_to_the_github_identity_github_confirms(client, member, github):
    exchange, me = fake_github(github)
    client.force_login(member)
    state = start(client)

    response = client.get(CALLBACK, {"code": "one-time-code", "state": state}, follow=True)

    assert response.redirect_chain[-1][0] == "/teams/acme/your-pull-requests/"
    assert "Your account is linked to octocat on GitHub." in response.content.decode()
    person = TeamMember.objects.get(team__slug="acme", github_id=583231)
    assert (person.login, person.user) == ("octocat", member)
    assert json.loads(exchange.calls.last.request.content) == {
        "client_id": "Iv23client",
        "client_secret": "client-secret-value",
        "code": "one-time-code",
        "redirect_uri": f"https://metrics.example.com{CALLBACK}",
    }
    assert me.calls.last.request.headers["Authorization"] == "token ghu_usertoken"


def test_signing_in_asks_about_the_last_14_days_merges(
    client, team, member, github, clock, django_capture_on_commit_callbacks
):
    fake_github(github)
    member.email = "bob@example.com"
    member.save()
    person = TeamMember.objects.create(team=team, github_id=583231, login="octocat")
    repository = Repository.objects.create(
        installation=team.installations.create(installation_id=42),
        github_id=1,
        full_name="acme/api",
    )
    for days in (3, 20):
        pr = pull_request(
            team,
            repository,
            author=person,
            pr_created_at=clock.now - timedelta(days=days, hours=5),
            merged_at=clock.now - timedelta(days=days),
        )
        PullRequestEvent.objects.create(
            team=team,
            pull_request=pr,
            kind="merged",
            occurred_at=pr.merged_at,
            source="webhook",
            live=True,
        )
    client.force_login(member)
    state = start(client)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(CALLBACK, {"code": "one-time-code", "state": state}, follow=True)

    page = response.content.decode()
    assert "1 question about your recent merges waits below." in page
    assert MergeQuestion.objects.filter(user=member, status="asked").count() == 1
    assert len(mail.outbox) == 1


def test_a_state_from_another_session_is_refused_before_github_is_asked(client, member, github):
    exchange, _ = fake_github(github)
    client.force_login(member)
    start(client)

    response = client.get(CALLBACK, {"code": "one-time-code", "state": "1.forged-state"})

    assert response.status_code == 400
    assert "This sign-in has expired" in response.content.decode()
    assert not exchange.called
    assert not TeamMember.objects.filter(github_id=583231).exists()


def test_a_state_works_once(client, member, github):
    fake_github(github)
    client.force_login(member)
    state = start(client)
    client.get(CALLBACK, {"code": "one-time-code", "state": state})

    response = client.get(CALLBACK, {"code": "one-time-code", "state": state})

    assert response.status_code == 400


def test_a_state_of_another_team_is_refused(client, team, member, outsider, github):
    exchange, _ = fake_github(github)
    client.force_login(member)
    state = start(client)
    other_team_id = Membership.objects.get(user=outsider).team_id

    response = client.get(
        CALLBACK, {"code": "c", "state": f"{other_team_id}.{state.partition('.')[2]}"}
    )

    assert response.status_code == 400
    assert not exchange.called


def test_a_person_who_declines_on_github_is_told_nothing_was_linked(client, member, github):
    exchange, _ = fake_github(github)
    client.force_login(member)
    state = start(client)

    response = client.get(
        CALLBACK,
        {
            "error": "access_denied",
            "error_description": "The user has denied your application access.",
            "error_uri": "https://docs.github.com/apps/troubleshooting",
            "state": state,
        },
    )

    assert response.status_code == 403
    assert "You declined on GitHub, so nothing was linked." in response.content.decode()
    assert not exchange.called
    assert not TeamMember.objects.filter(user=member).exists()


def test_a_callback_url_github_does_not_know_is_explained(client, member, github):
    fake_github(github)
    client.force_login(member)
    state = start(client)

    response = client.get(
        CALLBACK,
        {
            "error": "redirect_uri_mismatch",
            "error_description": "<script>alert(1)</script>",
            "state": state,
        },
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "callback URLs" in page
    assert "alert(1)" not in page


def test_a_code_github_refuses_is_refused(client, member, github):
    fake_github(
        github,
        token_answer={
            "error": "bad_verification_code",
            "error_description": "The code passed is incorrect or expired.",
            "error_uri": "https://docs.github.com/apps/troubleshooting",
        },
    )
    client.force_login(member)
    state = start(client)

    response = client.get(CALLBACK, {"code": "stale-code", "state": state})

    assert response.status_code == 400
    assert "bad_verification_code" in response.content.decode()
    assert not TeamMember.objects.filter(user=member).exists()


@pytest.mark.parametrize("status", [401, 500, 503])
def test_github_failing_to_say_who_it_is_is_a_502(client, member, github, status, no_sleep):
    fake_github(github, user_status=status)
    client.force_login(member)
    state = start(client)

    response = client.get(CALLBACK, {"code": "one-time-code", "state": state})

    assert response.status_code == 502
    assert "GitHub did not say who you are" in response.content.decode()
    assert not TeamMember.objects.filter(user=member).exists()


def test_a_return_without_code_is_refused(client, member, github):
    exchange, _ = fake_github(github)
    client.force_login(member)
    state = start(client)

    response = client.get(CALLBACK, {"state": state})

    assert response.status_code == 400
    assert not exchange.called


def test_a_return_without_a_session_asks_to_log_in_and_carries_no_code_on(client, github):
    exchange, _ = fake_github(github)

    response = client.get(CALLBACK, {"code": "one-time-code", "state": "1.x"})

    assert response.status_code == 401
    assert "one-time-code" not in response.content.decode()
    assert not exchange.called


@pytest.mark.parametrize(
    "params",
    [
        {"code": "c\x00", "state": "\x00"},
        {"code": "c" * 10_000, "state": "9" * 10_000},
        {"code": "c", "state": "\u0661.\u0662"},  # Arabic-Indic digits
        {"error": "x" * 5000, "state": "1.y"},
    ],
)
def test_hostile_callbacks_are_refused_without_an_error(client, member, github, params):
    fake_github(github)
    client.force_login(member)
    start(client)

    response = client.get(CALLBACK, params)

    assert response.status_code == 400


def test_the_code_is_never_logged(client, member, github, caplog):
    fake_github(github, token_answer={"error": "bad_verification_code"})
    client.force_login(member)
    state = start(client)

    with caplog.at_level(logging.DEBUG):
        client.get(CALLBACK, {"code": "secret-code-4711", "state": state})
        fake_github(github)
        state = start(client)
        client.get(CALLBACK, {"code": "secret-code-4712", "state": state})

    assert "secret-code-47" not in caplog.text
    assert "ghu_usertoken" not in caplog.text


def test_without_the_apps_client_id_the_page_says_what_to_do(client, member, settings):
    settings.GITHUB_APP_CLIENT_ID = ""
    client.force_login(member)

    response = client.post("/teams/acme/github/sign-in/", follow=True)

    assert response.redirect_chain[-1][0] == "/teams/acme/your-pull-requests/"
    assert "A team admin can link you on GitHub accounts instead." in response.content.decode()


def test_an_outsider_cannot_start_a_sign_in_for_the_team(client, outsider):
    client.force_login(outsider)

    assert client.post("/teams/acme/github/sign-in/").status_code == 404


def test_the_callback_url_is_one_of_the_manifests_callback_urls():
    from pathlib import Path

    manifest = json.loads((Path(__file__).parents[2] / "app-manifest.json").read_text())

    assert "{BASE_URL}/github/sign-in/callback/" in manifest["callback_urls"]
    # The install's stays first: GitHub sends an install's user authorization there.
    assert manifest["callback_urls"][0] == "{BASE_URL}/github/install/callback/"

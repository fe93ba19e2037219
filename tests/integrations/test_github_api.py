import json
import logging
from datetime import UTC, datetime, timedelta

import jwt
import pytest
import respx

from apps.integrations.services.github_api import (
    app_github,
    app_install_url,
    exchange_user_code,
    installation_github,
    user_github,
)
from github_app.errors import NotConfigured, OAuthCodeRejected, RateLimited, Unauthorized
from tests.github_app.keys import key_body, private_key_pem, public_key_pem
from tests.integrations.github_apps import stored_app

GHES_API = "https://ghe.example.com/api/v3"
GHES_WEB = "https://ghe.example.com"


@pytest.fixture(autouse=True)
def _enterprise_server(settings):
    settings.GITHUB_API_URL = GHES_API
    settings.GITHUB_WEB_URL = GHES_WEB
    settings.GITHUB_APP_ID = ""


def _token_answer(token: str = "ghs_installation") -> dict:
    expires = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"token": token, "expires_at": expires}


def _list_repositories(installation_id: int = 42):
    github = installation_github(installation_id=installation_id)
    return github.rest.apps.list_repos_accessible_to_installation()


def test_it_acts_as_the_stored_app_on_the_configured_api(db):
    stored_app()
    with respx.mock(base_url=GHES_API) as github:
        tokens = github.post("/app/installations/42/access_tokens").respond(
            201, json=_token_answer()
        )
        repos = github.get("/installation/repositories").respond(
            200, json={"total_count": 0, "repositories": []}
        )
        _list_repositories()
        _list_repositories()

    bearer = tokens.calls.last.request.headers["Authorization"].removeprefix("Bearer ")
    assert jwt.decode(bearer, public_key_pem(private_key_pem()), algorithms=["RS256"])["iss"] == (
        "987654"
    )
    assert tokens.call_count == 1
    assert repos.calls.last.request.headers["Authorization"] == "token ghs_installation"


def test_it_acts_as_the_environment_app_when_set(db, settings):
    stored_app()
    settings.GITHUB_APP_ID = "111"
    settings.GITHUB_APP_PRIVATE_KEY = private_key_pem()
    with respx.mock(base_url=GHES_API) as github:
        app = github.get("/app").respond(200, json={"id": 111})
        client = app_github()
        client.request("GET", "/app")
    bearer = app.calls.last.request.headers["Authorization"].removeprefix("Bearer ")
    assert jwt.decode(bearer, options={"verify_signature": False})["iss"] == "111"


def test_it_needs_a_configured_app(db):
    with pytest.raises(NotConfigured):
        installation_github(installation_id=42)


def test_it_turns_a_rate_limit_into_a_time_to_retry(db, no_sleep):
    stored_app()
    reset = datetime(2030, 6, 1, tzinfo=UTC)
    with respx.mock(base_url=GHES_API) as github:
        github.post("/app/installations/42/access_tokens").respond(201, json=_token_answer())
        github.get("/installation/repositories").respond(
            403,
            headers={
                "x-ratelimit-remaining": "0",
                "x-ratelimit-reset": str(int(reset.timestamp())),
            },
            json={"message": "API rate limit exceeded"},
        )
        with pytest.raises(RateLimited) as caught:
            _list_repositories()
    assert caught.value.reset_at == reset
    assert no_sleep == []


def test_it_exchanges_a_user_code_on_the_configured_web_url(db):
    stored_app()
    with respx.mock(base_url=GHES_WEB) as github:
        route = github.post("/login/oauth/access_token").respond(
            200, json={"access_token": "ghu_user", "token_type": "bearer"}
        )
        assert exchange_user_code(code="the-code") == "ghu_user"
    sent = json.loads(route.calls.last.request.content)
    assert sent == {
        "client_id": "Iv23stored",
        "client_secret": "stored-client-secret",
        "code": "the-code",
    }


def test_it_refuses_a_bad_user_code(db):
    stored_app()
    with respx.mock(base_url=GHES_WEB) as github:
        github.post("/login/oauth/access_token").respond(
            200, json={"error": "bad_verification_code"}
        )
        with pytest.raises(OAuthCodeRejected):
            exchange_user_code(code="the-code")


def test_it_needs_the_client_secret_to_exchange_a_code(db, settings):
    settings.GITHUB_APP_ID = "111"
    settings.GITHUB_APP_PRIVATE_KEY = private_key_pem()
    settings.GITHUB_APP_CLIENT_ID = ""
    with pytest.raises(NotConfigured, match="GITHUB_APP_CLIENT_ID"):
        exchange_user_code(code="the-code")


def test_it_acts_as_a_user_with_a_user_token(db):
    with respx.mock(base_url=GHES_API) as github:
        route = github.get("/user/installations").respond(
            200, json={"total_count": 0, "installations": []}
        )
        client = user_github(token="ghu_user")
        client.rest.apps.list_installations_for_authenticated_user()
    assert route.calls.last.request.headers["Authorization"] == "token ghu_user"


def test_it_knows_where_the_app_is_installed(db):
    stored_app()
    assert app_install_url() == f"{GHES_WEB}/apps/tformance-acme/installations/new"


def test_no_secret_reaches_the_logs_or_the_errors(db, caplog, no_sleep):
    caplog.set_level(logging.DEBUG)
    stored_app()
    with respx.mock(base_url=GHES_API) as github:
        github.post("/app/installations/42/access_tokens").respond(201, json=_token_answer())
        repos = github.get("/installation/repositories")
        repos.side_effect = [
            respx.MockResponse(502),
            respx.MockResponse(401, json={"message": "Bad credentials"}),
            respx.MockResponse(401, json={"message": "Bad credentials"}),
        ]
        with pytest.raises(Unauthorized) as caught:
            _list_repositories()

    assert "retry" in caplog.text
    text = caplog.text + str(caught.value) + repr(caught.value)
    for secret in (
        "ghs_installation",
        "stored-client-secret",
        "stored-webhook-secret",
        key_body(private_key_pem()),
        "Bearer",
    ):
        assert secret not in text

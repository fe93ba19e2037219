import json

import pytest
import respx

from github_app.errors import OAuthCodeRejected, Unavailable
from github_app.oauth import authorize_url, exchange_oauth_code

WEB = "https://github.com"


def _exchange(**overrides):
    arguments = {
        "web_url": WEB,
        "client_id": "Iv1.abc",
        "client_secret": "client-secret-xyz",
        "code": "code-123",
    }
    arguments.update(overrides)
    return exchange_oauth_code(**arguments)


def test_it_exchanges_a_code_for_a_user_token():
    with respx.mock(base_url=WEB) as github:
        route = github.post("/login/oauth/access_token").respond(
            200, json={"access_token": "ghu_user", "token_type": "bearer", "scope": ""}
        )
        assert _exchange(redirect_uri="https://m.example.com/cb/") == "ghu_user"

    request = route.calls.last.request
    assert request.headers["Accept"] == "application/json"
    assert "Authorization" not in request.headers
    assert json.loads(request.content) == {
        "client_id": "Iv1.abc",
        "client_secret": "client-secret-xyz",
        "code": "code-123",
        "redirect_uri": "https://m.example.com/cb/",
    }


def test_it_uses_the_web_url_of_an_enterprise_server():
    with respx.mock(base_url="https://ghe.example.com") as github:
        route = github.post("/login/oauth/access_token").respond(
            200, json={"access_token": "ghu_user"}
        )
        assert _exchange(web_url="https://ghe.example.com") == "ghu_user"
    assert route.called


def test_it_refuses_a_code_github_would_not_exchange():
    # GitHub answers 200 with an error field for a bad code.
    with respx.mock(base_url=WEB) as github:
        github.post("/login/oauth/access_token").respond(
            200,
            json={
                "error": "bad_verification_code",
                "error_description": "The code passed is incorrect or expired.",
            },
        )
        with pytest.raises(OAuthCodeRejected, match="bad_verification_code") as caught:
            _exchange()
    assert "client-secret-xyz" not in str(caught.value)
    assert "code-123" not in str(caught.value)


def test_it_refuses_an_answer_without_a_token():
    with respx.mock(base_url=WEB) as github:
        github.post("/login/oauth/access_token").respond(200, text="<html>")
        with pytest.raises(OAuthCodeRejected):
            _exchange()


def test_it_reports_github_failing_without_spending_the_code_twice(no_sleep):
    with respx.mock(base_url=WEB) as github:
        route = github.post("/login/oauth/access_token").respond(503)
        with pytest.raises(Unavailable):
            _exchange()
    assert route.call_count == 1
    assert no_sleep == []


def test_it_builds_the_user_authorization_url():
    url = authorize_url(
        web_url="https://ghe.example.com",
        client_id="Iv1.abc",
        redirect_uri="https://m.example.com/github/sign-in/callback/",
        state="7.s3cr3t",
    )

    assert url == (
        "https://ghe.example.com/login/oauth/authorize?client_id=Iv1.abc"
        "&redirect_uri=https%3A%2F%2Fm.example.com%2Fgithub%2Fsign-in%2Fcallback%2F"
        "&state=7.s3cr3t&allow_signup=false"
    )

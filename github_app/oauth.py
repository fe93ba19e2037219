"""The GitHub App's user authorization (OAuth web flow): the URL that sends a
person to GitHub, and the code GitHub sends back, exchanged for a user access
token.

The install flow uses it to learn who came back from GitHub: the
``installation_id`` in the setup URL can be forged, a user token cannot.
"Sign in with GitHub" uses it to learn a person's GitHub account from GitHub
itself."""

from __future__ import annotations

from urllib.parse import urlencode

from github_app.client import anonymous_client
from github_app.errors import OAuthCodeRejected


def authorize_url(*, web_url: str, client_id: str, redirect_uri: str, state: str) -> str:
    """``GET {web_url}/login/oauth/authorize``: where a person authorizes the
    app. A GitHub App's user token has the app's permissions, so no scope is
    asked; ``redirect_uri`` must be one of the app's callback URLs (GitHub
    takes the first when none is given, which is the install's)."""
    query = urlencode(
        {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "allow_signup": "false",
        }
    )
    return f"{web_url}/login/oauth/authorize?{query}"


def exchange_oauth_code(
    *,
    web_url: str,
    client_id: str,
    client_secret: str,
    code: str,
    redirect_uri: str = "",
) -> str:
    """The user access token for ``code``, from
    ``POST {web_url}/login/oauth/access_token``.

    Raises OAuthCodeRejected when GitHub will not exchange the code, and the
    other GitHubErrors when GitHub fails."""
    body = {"client_id": client_id, "client_secret": client_secret, "code": code}
    if redirect_uri:
        body["redirect_uri"] = redirect_uri
    response = anonymous_client(api_url=web_url).request(
        "POST",
        "/login/oauth/access_token",
        json=body,
        headers={"Accept": "application/json"},
    )
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise OAuthCodeRejected("GitHub's answer to the code exchange was not JSON")
    # GitHub answers 200 with an "error" field when it refuses the code.
    token = answer.get("access_token")
    if answer.get("error") or not isinstance(token, str) or not token:
        reason = str(answer.get("error") or "no access_token in the answer")[:100]
        raise OAuthCodeRejected(f"GitHub refused the authorization code ({reason})")
    return token

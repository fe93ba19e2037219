"""GitHub API clients for the Django side: the app's settings from app_config,
the URLs and token cache from settings, the client from github_app.client.

Every call may raise github_app.errors.GitHubError (NotConfigured when no app
is configured; RateLimited(reset_at) for a Celery task to retry then)."""

from __future__ import annotations

from django.conf import settings
from githubkit import TokenAuthStrategy
from githubkit.cache import BaseCacheStrategy

from apps.integrations.services.app_config import github_app_config
from apps.integrations.services.encryption import cipher
from github_app.client import (
    AppStrategy,
    GitHubClient,
    InstallationStrategy,
    app_client,
    installation_client,
    token_cache,
    user_client,
)
from github_app.errors import NotConfigured
from github_app.oauth import authorize_url, exchange_oauth_code


def installation_github(*, installation_id: int) -> GitHubClient[InstallationStrategy]:
    """Acting as the installation: list its repositories, read pull requests."""
    return installation_client(
        credentials=github_app_config().credentials,
        installation_id=installation_id,
        api_url=settings.GITHUB_API_URL,
        cache=_token_cache(),
    )


def app_github() -> GitHubClient[AppStrategy]:
    """Acting as the app itself: ``GET /app``, ``GET /app/installations/{id}``."""
    return app_client(
        credentials=github_app_config().credentials,
        api_url=settings.GITHUB_API_URL,
        cache=_token_cache(),
    )


def user_github(*, token: str) -> GitHubClient[TokenAuthStrategy]:
    """Acting as a user, with a token from ``exchange_user_code``."""
    return user_client(token=token, api_url=settings.GITHUB_API_URL)


def _client_credentials() -> tuple[str, str]:
    config = github_app_config()
    if not config.client_id or not config.client_secret:
        raise NotConfigured(
            "the GitHub App's client id and client secret are not set "
            "(GITHUB_APP_CLIENT_ID, GITHUB_APP_CLIENT_SECRET)"
        )
    return config.client_id, config.client_secret


def user_authorize_url(*, redirect_uri: str, state: str) -> str:
    """Where a person authorizes the app, to come back to ``redirect_uri``
    with a code and ``state`` (the app's user authorization)."""
    client_id, _ = _client_credentials()
    return authorize_url(
        web_url=settings.GITHUB_WEB_URL, client_id=client_id, redirect_uri=redirect_uri, state=state
    )


def exchange_user_code(*, code: str, redirect_uri: str = "") -> str:
    """The user access token for the OAuth ``code`` GitHub sent back after an
    install (the manifest asks for user authorization on install) or a
    sign-in with GitHub.

    Raises OAuthCodeRejected for a bad, used or expired code."""
    client_id, client_secret = _client_credentials()
    return exchange_oauth_code(
        web_url=settings.GITHUB_WEB_URL,
        client_id=client_id,
        client_secret=client_secret,
        code=code,
        redirect_uri=redirect_uri,
    )


def app_install_url(*, slug: str = "") -> str:
    """Where an organisation admin installs the app (``slug``'s, or the app in use)."""
    slug = slug or github_app_config().slug
    if not slug:
        raise NotConfigured("the GitHub App's slug is not set (GITHUB_APP_SLUG)")
    return f"{settings.GITHUB_WEB_URL}/apps/{slug}/installations/new"


def _token_cache() -> BaseCacheStrategy:
    return token_cache(redis_url=settings.GITHUB_TOKEN_CACHE_REDIS_URL, cipher=cipher())

"""The one place that builds githubkit clients.

Every GitHub call of the project goes through ``build_client`` (directly or
through the ``*_client`` helpers below), so they all share:

- the API base URL given by the caller (GitHub.com, Enterprise Server, a fake);
- installation tokens reused until shortly before they expire, in this process
  or, with a Redis URL, across processes;
- retries of server errors on reads, and of a brand-new token's 401, and
  nothing else: a rate limit is raised as ``RateLimited(reset_at)`` for the
  caller (a Celery task) to retry later, instead of githubkit sleeping inside
  the worker;
- errors raised as ``github_app.errors.GitHubError`` with secret-free messages.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from githubkit import (
    AppAuthStrategy,
    AppInstallationAuthStrategy,
    BaseAuthStrategy,
    GitHub,
    GitHubCore,
    Response,
    TokenAuthStrategy,
    UnauthAuthStrategy,
)
from githubkit.auth._url import require_app_auth, require_basic_auth, require_bypass
from githubkit.auth.app import AppAuth
from githubkit.cache import BaseCacheStrategy, MemCacheStrategy, RedisCacheStrategy
from githubkit.cache.redis import RedisCache
from githubkit.exception import (
    AuthCredentialError,
    GitHubException,
    RateLimitExceeded,
    RequestError,
    RequestFailed,
    RequestTimeout,
    SecondaryRateLimitExceeded,
)
from githubkit.typing import RetryOption
from githubkit.utils import UNSET
from redis import Redis

from github_app.auth import create_app_jwt
from github_app.errors import (
    Forbidden,
    GitHubError,
    NotConfigured,
    NotFound,
    RateLimited,
    Unauthorized,
    Unavailable,
    ValidationFailed,
)
from github_app.values import parse_timestamp

logger = logging.getLogger(__name__)

USER_AGENT = "tformance"
TIMEOUT = httpx.Timeout(20.0, connect=5.0)
# Installation tokens live an hour; stop using one this long before it expires,
# so a request never starts with a token about to die.
TOKEN_REFRESH_MARGIN = timedelta(minutes=5)
# GitHub can answer 401 to a token it issued a moment ago, until the token has
# replicated; one retry after this pause is enough.
FRESH_TOKEN_RETRY_DELAY = timedelta(seconds=2)
SERVER_ERROR_RETRY_DELAYS = (timedelta(seconds=1), timedelta(seconds=3))
_REPEATABLE_METHODS = frozenset({"GET", "HEAD"})
REDIS_KEY_PREFIX = "tformance:github"

_REFUSED_NEW_CREDENTIAL = "tformance.refused_new_installation_credential"

A = TypeVar("A", bound=BaseAuthStrategy)


@dataclass(frozen=True)
class AppCredentials:
    """What authenticates as the app. ``repr`` leaves the secrets out."""

    app_id: str
    private_key: str = field(repr=False)
    client_id: str = ""
    client_secret: str = field(default="", repr=False)


class _AppAuthFlow(AppAuth):
    """githubkit's app auth, with our JWT, a wider refresh margin for
    installation tokens, and a mark on a brand-new token's 401 so that the retry
    policy retries exactly that. Synchronous only: the project calls GitHub
    from views and Celery tasks, never from async code."""

    def _create_jwt(self) -> str:
        return create_app_jwt(issuer=self.issuer, private_key=self.private_key)

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        if (
            self.installation_id is UNSET
            or require_bypass(request.url)
            or require_app_auth(self._get_api_route(request.url))
            or require_basic_auth(request.url)
        ):
            yield from super().sync_auth_flow(request)
            return

        cache = self.github.config.cache_strategy.get_cache_storage()
        key = self._get_installation_cache_key()
        token = cache.get(key)
        minted = token is None
        if token is None:
            token_request = self._build_installation_auth_request()
            token_request.headers["Authorization"] = f"Bearer {self.get_jwt()}"
            token_response = yield token_request
            token_response.read()
            issued = self._parse_installation_auth_response(token_response).parsed_data
            token = issued.token
            reuse_for = (
                parse_timestamp(issued.expires_at) - datetime.now(UTC) - TOKEN_REFRESH_MARGIN
            )
            if reuse_for > timedelta(0):
                cache.set(key, token, reuse_for)
        request.headers["Authorization"] = f"token {token}"
        response = yield request
        if minted and response.status_code == 401:
            response.extensions[_REFUSED_NEW_CREDENTIAL] = True


class AppStrategy(AppAuthStrategy):
    """Authenticates as the app itself (JWT): ``/app/...`` routes."""

    def get_auth_flow(self, github: GitHubCore[Any]) -> httpx.Auth:
        return _AppAuthFlow(
            github, self.app_id, self.private_key, self.client_id, self.client_secret
        )


class InstallationStrategy(AppInstallationAuthStrategy):
    """Authenticates as one installation (installation access token)."""

    def get_auth_flow(self, github: GitHubCore[Any]) -> httpx.Auth:
        return _AppAuthFlow(
            github,
            self.app_id,
            self.private_key,
            self.client_id,
            self.client_secret,
            self.installation_id,
            self.repositories,
            self.repository_ids,
            self.permissions,
        )


def _retry_decision(exc: GitHubException, retry_count: int) -> RetryOption:
    if not isinstance(exc, RequestFailed) or isinstance(exc, RateLimitExceeded):
        return RetryOption(False)
    status = exc.response.status_code
    if (
        status == 401
        and retry_count == 0
        and exc.response.raw_response.extensions.get(_REFUSED_NEW_CREDENTIAL)
    ):
        logger.info("GitHub refused a brand-new installation token; retrying once")
        return RetryOption(True, FRESH_TOKEN_RETRY_DELAY)
    # Only reads are repeated: the POSTs we make spend a one-time code (manifest
    # conversion, OAuth exchange) that a second attempt would find used.
    if (
        status >= 500
        and exc.request.method in _REPEATABLE_METHODS
        and retry_count < len(SERVER_ERROR_RETRY_DELAYS)
    ):
        delay = SERVER_ERROR_RETRY_DELAYS[retry_count]
        # Method and status only: a URL can hold a one-time code.
        logger.warning(
            "GitHub answered %s to %s; retry %s of %s in %ss",
            status,
            exc.request.method,
            retry_count + 1,
            len(SERVER_ERROR_RETRY_DELAYS),
            delay.total_seconds(),
        )
        return RetryOption(True, delay)
    return RetryOption(False)


# GitHub's rule for a secondary limit answered without retry-after: "wait for at
# least one minute before retrying".
SECONDARY_LIMIT_WAIT = timedelta(seconds=60)


def _github_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    return str(message)[:200] if message else ""


def _rate_limit_reset(exc: RateLimitExceeded) -> datetime:
    reset = exc.response.headers.get("x-ratelimit-reset", "")
    if reset.isdigit() and "retry-after" not in exc.response.headers:
        return datetime.fromtimestamp(int(reset), tz=UTC)
    return datetime.now(UTC) + exc.retry_after


def as_github_error(exc: GitHubException) -> GitHubError:
    """The GitHubError for a githubkit exception, with a message safe to show."""
    if isinstance(exc, RequestError) and isinstance(exc.exc, GitHubException):
        # A failure inside the auth flow (the token request) arrives wrapped.
        return as_github_error(exc.exc)
    if isinstance(exc, RateLimitExceeded):
        reset_at = _rate_limit_reset(exc)
        return RateLimited(
            f"GitHub's rate limit is exhausted until {reset_at:%Y-%m-%d %H:%M:%S} UTC",
            reset_at=reset_at,
            status_code=exc.response.status_code,
            secondary=isinstance(exc, SecondaryRateLimitExceeded),
        )
    if isinstance(exc, RequestFailed):
        status = exc.response.status_code
        said = _github_message(exc.response.raw_response)
        if status in (403, 429) and "secondary rate limit" in said.lower():
            # githubkit knows this answer only with a retry-after header or
            # x-ratelimit-remaining at 0; GitHub also sends it with neither,
            # and then says to wait at least a minute.
            reset_at = datetime.now(UTC) + SECONDARY_LIMIT_WAIT
            return RateLimited(
                f"GitHub's secondary rate limit was reached; waiting until "
                f"{reset_at:%Y-%m-%d %H:%M:%S} UTC",
                reset_at=reset_at,
                status_code=status,
                secondary=True,
            )
        detail = f"{status}: {said}" if said else str(status)
        kinds: dict[int, tuple[type[GitHubError], str]] = {
            401: (Unauthorized, "GitHub refused the app's credentials"),
            403: (Forbidden, "GitHub refused access"),
            404: (NotFound, "GitHub does not know it, or will not show it to this app"),
            422: (ValidationFailed, "GitHub refused the request"),
        }
        kind, text = kinds.get(
            status,
            (Unavailable, "GitHub is failing") if status >= 500 else (GitHubError, "GitHub error"),
        )
        return kind(f"{text} ({detail})", status_code=status)
    if isinstance(exc, RequestTimeout):
        return Unavailable("GitHub did not answer in time")
    if isinstance(exc, RequestError):
        return Unavailable(f"GitHub could not be reached ({type(exc.exc).__name__})")
    if isinstance(exc, AuthCredentialError):
        return NotConfigured("the GitHub App's credentials are incomplete")
    return GitHubError(f"GitHub request failed ({type(exc).__name__})")


class GitHubClient(GitHub[A]):
    """githubkit's client whose every request raises GitHubError, not
    githubkit's exceptions (whose text includes the request URL)."""

    # The typed REST namespaces call this with their own response models and
    # keep their signatures; only the exceptions change here.
    def request(self, *args: Any, **kwargs: Any) -> Response[Any]:
        try:
            return super().request(*args, **kwargs)
        except GitHubException as exc:
            raise as_github_error(exc) from None


_MEMORY_TOKEN_CACHE = MemCacheStrategy()


class _EncryptedRedisCache(RedisCache):
    """Tokens are secrets: in Redis they are kept encrypted."""

    def __init__(self, client: Redis, prefix: str | None, cipher: Fernet | MultiFernet) -> None:
        super().__init__(client, prefix)
        self._cipher = cipher

    def get(self, key: str) -> str | None:
        value = super().get(key)
        if value is None:
            return None
        try:
            return self._cipher.decrypt(value.encode()).decode()
        except InvalidToken:
            # Written under another key (rotated): a fresh token is fetched.
            return None

    def set(self, key: str, value: str, ex: timedelta) -> None:
        super().set(key, self._cipher.encrypt(value.encode()).decode(), ex)


class _EncryptedRedisCacheStrategy(RedisCacheStrategy):
    def __init__(self, client: Redis, prefix: str, cipher: Fernet | MultiFernet) -> None:
        super().__init__(client, prefix)
        self._cipher = cipher

    def get_cache_storage(self) -> RedisCache:
        return _EncryptedRedisCache(self.client, self.prefix, self._cipher)


@functools.cache
def _redis_token_cache(redis_url: str, cipher: Fernet | MultiFernet) -> RedisCacheStrategy:
    return _EncryptedRedisCacheStrategy(Redis.from_url(redis_url), REDIS_KEY_PREFIX, cipher)


def token_cache(
    *, redis_url: str = "", cipher: Fernet | MultiFernet | None = None
) -> BaseCacheStrategy:
    """Where installation tokens and app JWTs are kept: Redis (shared by every
    process, encrypted with ``cipher``) when a URL is given, this process's
    memory otherwise."""
    if not redis_url:
        return _MEMORY_TOKEN_CACHE
    if cipher is None:
        raise NotConfigured("a Redis token cache needs a cipher to encrypt the tokens")
    return _redis_token_cache(redis_url, cipher)


def forget_cached_tokens() -> None:
    """Drop the tokens cached in this process (tests; after rotating a key)."""
    _MEMORY_TOKEN_CACHE.cleanup()


def build_client(
    *, auth: A, api_url: str, cache: BaseCacheStrategy | None = None
) -> GitHubClient[A]:
    """The githubkit client for ``auth`` against ``api_url``.

    ``http_cache`` is off on purpose: githubkit would otherwise store API
    responses (private repository data) in the token cache, Redis included,
    keyed by URL; our reads are one-off pages, so conditional requests would
    save little."""
    return GitHubClient(
        auth,
        base_url=api_url,
        user_agent=USER_AGENT,
        timeout=TIMEOUT,
        cache_strategy=cache or _MEMORY_TOKEN_CACHE,
        http_cache=False,
        auto_retry=_retry_decision,
    )


def app_client(
    *, credentials: AppCredentials, api_url: str, cache: BaseCacheStrategy | None = None
) -> GitHubClient[AppStrategy]:
    """Acting as the app (``GET /app``, ``GET /app/installations/{id}``)."""
    return build_client(auth=_app_strategy(credentials), api_url=api_url, cache=cache)


def installation_client(
    *,
    credentials: AppCredentials,
    installation_id: int,
    api_url: str,
    cache: BaseCacheStrategy | None = None,
) -> GitHubClient[InstallationStrategy]:
    """Acting as one installation: its repositories, pull requests, reviews."""
    strategy = InstallationStrategy(
        credentials.app_id,
        credentials.private_key,
        installation_id,
        credentials.client_id or None,
        credentials.client_secret or None,
    )
    return build_client(auth=strategy, api_url=api_url, cache=cache)


def user_client(*, token: str, api_url: str) -> GitHubClient[TokenAuthStrategy]:
    """Acting as a user, with a user access token from the OAuth exchange."""
    return build_client(auth=TokenAuthStrategy(token), api_url=api_url)


def anonymous_client(*, api_url: str) -> GitHubClient[UnauthAuthStrategy]:
    """No credentials: the manifest conversion and the OAuth code exchange."""
    return build_client(auth=UnauthAuthStrategy(), api_url=api_url)


def _app_strategy(credentials: AppCredentials) -> AppStrategy:
    return AppStrategy(
        credentials.app_id,
        credentials.private_key,
        credentials.client_id or None,
        credentials.client_secret or None,
    )

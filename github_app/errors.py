"""Errors of the GitHub layer, with messages safe to show and to log.

Every message is written here from the status code and GitHub's own short
``message`` field; none is built from request URLs, headers or bodies, so a
token, a key or a one-time code cannot end up in a log line or on a page."""

from __future__ import annotations

from datetime import datetime


class GitHubError(Exception):
    """Base of every error this package raises; ``str(error)`` is safe to show."""

    status_code: int | None = None

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class NotConfigured(GitHubError):
    """The GitHub App's settings are missing or unusable."""


class PrivateKeyError(NotConfigured):
    """The private key is missing, unreadable or not a PEM private key."""


class Unauthorized(GitHubError):
    """GitHub refused the credentials (401)."""


class Forbidden(GitHubError):
    """GitHub refused the request for lack of permission (403, not a rate limit)."""


class NotFound(GitHubError):
    """GitHub answered 404: the thing is gone, or these credentials cannot see it."""


class ValidationFailed(GitHubError):
    """GitHub answered 422: the request was understood and refused (an expired
    manifest code, for one)."""


class Unavailable(GitHubError):
    """GitHub answered 5xx, timed out or could not be reached."""


class RateLimited(GitHubError):
    """A primary or secondary rate limit; retry at ``reset_at`` (UTC), not before."""

    def __init__(
        self,
        message: str,
        *,
        reset_at: datetime,
        status_code: int | None,
        secondary: bool = False,
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.reset_at = reset_at
        # A secondary limit (too fast, not too much): GitHub asks to back off.
        self.secondary = secondary


class OAuthCodeRejected(GitHubError):
    """GitHub would not exchange a user's OAuth code for a token (expired,
    already used, or meant for another app)."""

"""Who a JSON API request is: the one place that reads a bearer token.

A request may carry ``Authorization: Bearer <token>``; only the SHA-256 of a
token is stored (`APIToken.token_hash`), so a presented token is hashed and
looked up. What a request may do (a scope: read, deployments write, admin) is
decided here too, for a token by its scopes and for a session by the person's
role in the team (`request_team_access`)."""

from __future__ import annotations

import hashlib

from django.http import HttpRequest

from apps.metrics.models import APIToken

# Tokens are "tfm_" and 43 characters; anything much longer is no token of ours.
MAX_TOKEN_LENGTH = 200


class AuthenticationFailed(Exception):
    """The request's credentials are refused; the message says why (for a 401)."""


class PermissionRefused(Exception):
    """The request is who it says, but may not do this; the message says why (a 403)."""


def token_hash(token: str) -> str:
    """What is stored of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def bearer_token(authorization: str) -> str:
    """The token of an ``Authorization: Bearer <token>`` header; AuthenticationFailed
    for another scheme, no token, or one that is too long or not printable ASCII."""
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if (
        scheme.lower() != "bearer"
        or not token
        or len(token) > MAX_TOKEN_LENGTH
        or not token.isascii()
        or not token.isprintable()
    ):
        raise AuthenticationFailed("Send 'Authorization: Bearer <token>'.")
    return token


def request_api_token(request: HttpRequest) -> APIToken | None:
    """The live token a request presents, with its team; None when it presents
    none (it may have a session). AuthenticationFailed for a malformed, unknown
    or revoked token."""
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    row = (
        APIToken.objects.select_related("team")
        .filter(token_hash=token_hash(bearer_token(header)), revoked_at__isnull=True)
        .first()
    )
    if row is None:
        raise AuthenticationFailed("The token is not valid (unknown or revoked).")
    return row


def token_scope_check(token: APIToken, scope: str) -> None:
    """PermissionRefused unless the token was created with ``scope``."""
    if not token.allows(scope):
        label = APIToken.Scope(scope).label
        raise PermissionRefused(
            f"This token lacks the '{scope}' scope ({label}); a team admin creates "
            "tokens with it on the team's API tokens page."
        )


def session_scope_check(*, is_admin: bool, scope: str) -> None:
    """For a logged-in person: members read, admins may do everything."""
    if scope != APIToken.Scope.READ and not is_admin:
        raise PermissionRefused("Only team admins can do this.")

"""Creating and revoking a team's API tokens, each with its scopes."""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.shortcuts import get_object_or_404
from django.utils import timezone

from apps.metrics.authentication import token_hash
from apps.metrics.models import APIToken
from apps.teams.models import Team

TOKEN_PREFIX = "tfm_"  # noqa: S105 (a marker, not a secret)


class BadScopes(ValueError):
    """The scopes asked for are none, or not all known; str(error) says which."""


def api_token_create(
    *,
    team: Team,
    name: str,
    created_by: AbstractBaseUser | None,
    scopes: Iterable[str] = (APIToken.Scope.READ,),
) -> tuple[APIToken, str]:
    """A new token for the team with these scopes (BadScopes for none or an
    unknown one); returns the row and the token, which is not stored and
    cannot be shown again."""
    asked = set(scopes)
    unknown = sorted(asked - set(APIToken.Scope.values))
    if unknown:
        raise BadScopes(
            f"Unknown scope {', '.join(map(repr, unknown))}; "
            f"one or more of {', '.join(APIToken.Scope.values)}."
        )
    if not asked:
        raise BadScopes("Choose at least one scope.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = APIToken.objects.create(
        team=team,
        name=name.strip()[:100] or "API token",
        token_hash=token_hash(token),
        prefix=token[:10],
        created_by_id=created_by.pk if created_by is not None else None,
        scopes=[value for value in APIToken.Scope.values if value in asked],
    )
    return row, token


def api_token_revoke(*, team: Team, token_id: int) -> APIToken:
    """Revokes the team's token (404 for another team's); revoking twice is a no-op."""
    row = get_object_or_404(APIToken, team=team, pk=token_id)
    if row.revoked_at is None:
        row.revoked_at = timezone.now()
        row.save(update_fields=["revoked_at"])
    return row


def api_token_mark_used(*, token: APIToken) -> None:
    """Records the use, at most once a minute (a write per request is waste)."""
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        APIToken.objects.filter(pk=token.pk).update(last_used_at=now)

"""Creating and revoking a team's read-only API tokens."""

from __future__ import annotations

import secrets

from django.contrib.auth.models import AbstractBaseUser
from django.shortcuts import get_object_or_404
from django.utils import timezone

from apps.metrics.authentication import token_hash
from apps.metrics.models import APIToken
from apps.teams.models import Team

TOKEN_PREFIX = "tfm_"  # noqa: S105 (a marker, not a secret)


def api_token_create(
    *, team: Team, name: str, created_by: AbstractBaseUser | None
) -> tuple[APIToken, str]:
    """A new token for the team; returns the row and the token, which is not
    stored and cannot be shown again."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = APIToken.objects.create(
        team=team,
        name=name.strip()[:100] or "API token",
        token_hash=token_hash(token),
        prefix=token[:10],
        created_by_id=created_by.pk if created_by is not None else None,
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

"""Installations and their repositories, kept in step with GitHub.

Keyed by GitHub's ids, never by names (accounts and repositories get renamed).
The webhook routes call these; so do re-sync and the install flow, with the same
objects GitHub's REST API returns (``GET /app/installations/{id}``,
``GET /installation/repositories``), which have the same shape as the webhook's
``installation`` and ``repositories`` blocks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.integrations.models import Installation, Repository
from apps.teams.models import Team


class InstallationClaimError(Exception):
    """The installation cannot be claimed by this team; the message says why."""


def _timestamp(value: Any) -> datetime | None:
    # GitHub sends installation times as ISO strings in some payloads and as
    # Unix seconds in others (installation.created_at in webhooks).
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    return parse_datetime(str(value))


def installation_upsert(*, data: Mapping[str, Any]) -> Installation:
    """Create or update the installation from GitHub's installation object.

    Leaves the claim (team) and deletion alone: those belong to the install flow
    and to ``installation_mark_deleted``."""
    account = data.get("account") or {}
    installation, _ = Installation.objects.update_or_create(
        installation_id=int(data["id"]),
        defaults={
            "account_login": account.get("login", ""),
            "account_id": account.get("id"),
            "account_type": account.get("type", ""),
            "repository_selection": data.get("repository_selection") or "",
            "permissions": dict(data.get("permissions") or {}),
            "events": list(data.get("events") or []),
            "suspended_at": _timestamp(data.get("suspended_at")),
        },
    )
    return installation


def installation_mark_deleted(*, installation: Installation) -> Installation:
    """The app was uninstalled: stop processing its events and mark every
    repository inaccessible. Rows stay, for the record."""
    installation.deleted_at = timezone.now()
    installation.save(update_fields=["deleted_at", "updated_at"])
    installation.repositories.update(accessible=False, updated_at=timezone.now())
    return installation


def installation_mark_suspended(*, installation: Installation) -> Installation:
    """For a suspend event whose installation block lacks ``suspended_at``."""
    if installation.suspended_at is None:
        installation.suspended_at = timezone.now()
        installation.save(update_fields=["suspended_at", "updated_at"])
    return installation


def repositories_sync(
    *,
    installation: Installation,
    repositories: Iterable[Mapping[str, Any]],
    complete: bool = False,
) -> list[Repository]:
    """Record the repositories the installation can reach, by GitHub id.

    ``complete=True`` means ``repositories`` is the installation's whole list
    (a re-sync from the API): any other repository of the installation is then
    marked inaccessible. Tracking choices are kept either way."""
    synced = []
    for item in repositories:
        repository, _ = Repository.objects.update_or_create(
            installation=installation,
            github_id=int(item["id"]),
            defaults={
                "full_name": item["full_name"],
                "private": bool(item.get("private", False)),
                "accessible": True,
            },
        )
        synced.append(repository)
    if complete:
        installation.repositories.exclude(pk__in=[r.pk for r in synced]).update(
            accessible=False, updated_at=timezone.now()
        )
    return synced


def repositories_remove(
    *, installation: Installation, repositories: Iterable[Mapping[str, Any]]
) -> int:
    """The installation lost access to these repositories: keep them (and the
    metrics that point at them), marked inaccessible, so they are no longer
    processed. Returns how many known repositories were marked."""
    github_ids = [int(item["id"]) for item in repositories]
    return installation.repositories.filter(github_id__in=github_ids).update(
        accessible=False, updated_at=timezone.now()
    )


@transaction.atomic
def installation_claim(
    *, installation: Installation, team: Team, user: AbstractBaseUser | None
) -> Installation:
    """Give an unclaimed installation to a team. Claiming it again for the same
    team is a no-op; another team's installation is refused."""
    locked = Installation.objects.select_for_update().get(pk=installation.pk)
    if locked.deleted_at is not None:
        raise InstallationClaimError("This installation was removed from GitHub.")
    if locked.team_id is not None and locked.team_id != team.pk:
        raise InstallationClaimError("This installation already belongs to another team.")
    if locked.team_id is None:
        locked.team = team
        locked.claimed_at = timezone.now()
        locked.claimed_by = user  # type: ignore[assignment]
        locked.save(update_fields=["team", "claimed_at", "claimed_by", "updated_at"])
    return locked


def record_event_arrivals(
    *,
    installations: Mapping[int, datetime],
    repositories: Mapping[tuple[int, int], datetime],
) -> None:
    """Move last_event_at forward on installations (by installation id) and
    tracked repositories (by installation id and repository id); never back, as
    retried and swept deliveries arrive out of order."""
    for installation_id, at in installations.items():
        Installation.objects.filter(_earlier_than(at), installation_id=installation_id).update(
            last_event_at=at
        )
    for (installation_id, github_id), at in repositories.items():
        Repository.objects.filter(
            _earlier_than(at),
            installation__installation_id=installation_id,
            github_id=github_id,
            tracked=True,
        ).update(last_event_at=at)


def _earlier_than(at: datetime) -> Q:
    return Q(last_event_at__isnull=True) | Q(last_event_at__lt=at)

"""Installations and their repositories, kept in step with GitHub.

Keyed by GitHub's ids, never by names (accounts and repositories get renamed).
The webhook routes call these; so do re-sync and the install flow, with the same
objects GitHub's REST API returns (``GET /app/installations/{id}``,
``GET /installation/repositories``), which have the same shape as the webhook's
``installation`` and ``repositories`` blocks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.integrations.models import Installation, Repository
from apps.metrics.services.payloads import (
    MAX_FULL_NAME,
    PayloadError,
    clean_text,
    require_int,
    require_mapping,
)
from apps.teams.models import Team
from github_app.values import TimestampError, parse_timestamp


class InstallationClaimError(Exception):
    """The installation cannot be claimed by this team; the message says why."""


# Ordering. GitHub does not deliver events in order, and our own retries run a
# failed delivery again up to 32 minutes later, so every change below carries
# ``at``: when GitHub told us, i.e. the receipt time of the webhook delivery (a
# retried or replayed delivery keeps its own), or None for a read from the REST
# API, which is the current state and so counts as "now". A change older than
# the one recorded is dropped. GitHub's own ``installation.updated_at`` is not
# used as the clock: an unsuspend carries the same updated_at as the suspend
# before it, adding or removing repositories leaves it alone, it has one-second
# resolution, and it arrives as Unix seconds or ISO text depending on the event.


def _is_current(recorded: datetime | None, at: datetime) -> bool:
    # Equal is current: the same delivery processed again (a retry after a
    # rollback, a replay) must apply the same way.
    return recorded is None or recorded <= at


def _text(value: object, path: str, *, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PayloadError(f"{path} is not a string")
    return clean_text(value, limit=limit)


def _choice(value: object, path: str, choices: Sequence[str]) -> str:
    text = _text(value, path, limit=100)
    return text if text in choices else ""


def _installation_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """The installation object's fields, checked: a value of the wrong type or
    out of range fails the delivery with its path, never a crash further on."""
    account = data.get("account")
    if account is None:
        account = {}
    account = require_mapping(account, "installation.account")
    account_id = account.get("id")
    if account_id is not None:
        account_id = require_int(account, "id", "installation.account")
    permissions = data.get("permissions") or {}
    events = data.get("events") or []
    if not isinstance(permissions, Mapping) or not all(
        isinstance(v, str) for v in permissions.values()
    ):
        raise PayloadError("installation.permissions is not an object of strings")
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        raise PayloadError("installation.events is not a list of strings")
    suspended_at = data.get("suspended_at")
    try:
        # GitHub sends installation times as ISO text in some payloads and as
        # Unix seconds in others.
        suspended = None if suspended_at in (None, "") else parse_timestamp(suspended_at)
    except TimestampError:
        raise PayloadError("installation.suspended_at is not a time") from None
    return {
        "account_login": _text(account.get("login"), "installation.account.login", limit=100),
        "account_id": account_id,
        "account_type": _text(account.get("type"), "installation.account.type", limit=20),
        # "all" or "selected"; anything else (a value GitHub may add) is
        # stored as not known rather than failing the installation's event.
        "repository_selection": _choice(
            data.get("repository_selection"),
            "installation.repository_selection",
            Installation.RepositorySelection.values,
        ),
        "permissions": {
            clean_text(str(k), limit=100): clean_text(v, limit=20) for k, v in permissions.items()
        },
        "events": [clean_text(e, limit=100) for e in events],
        "suspended_at": suspended,
    }


@transaction.atomic
def installation_upsert(*, data: object, at: datetime | None = None) -> Installation:
    """Record GitHub's installation object as it was at ``at`` (the delivery's
    receipt time; None for a REST read, which is current).

    A snapshot older than the recorded one changes nothing, and nothing changes a
    deleted installation: GitHub never reuses an installation id, so any event
    processed after the deletion is a late one. Leaves the claim (team) and
    deletion alone: those belong to the install flow and to
    ``installation_mark_deleted``."""
    at = at or timezone.now()
    data = require_mapping(data, "installation")
    installation_id = require_int(data, "id", "installation")
    fields = _installation_fields(data)
    # Locked: two workers holding events of one installation compare their
    # times one after the other.
    installation, created = Installation.objects.select_for_update().get_or_create(
        installation_id=installation_id,
        defaults={**fields, "state_changed_at": at, "account_login_changed_at": at},
    )
    if created or installation.deleted_at is not None:
        return installation
    if not _is_current(installation.state_changed_at, at):
        return installation
    # The login has a clock of its own (see installation_account_renamed).
    if _is_current(installation.account_login_changed_at, at):
        fields["account_login_changed_at"] = at
    else:
        del fields["account_login"]
    for name, value in fields.items():
        setattr(installation, name, value)
    installation.state_changed_at = at
    installation.save(update_fields=[*fields, "state_changed_at", "updated_at"])
    return installation


@transaction.atomic
def installation_account_renamed(
    *, installation_id: int, account: Mapping[str, Any], at: datetime
) -> Installation | None:
    """The account the app is installed on was renamed (``installation_target``):
    record its new login, unless a newer event gave one. None for an
    installation not known here."""
    installation = (
        Installation.objects.select_for_update().filter(installation_id=installation_id).first()
    )
    login = account.get("login")
    if installation is None or not isinstance(login, str) or not login:
        return installation
    same_account = installation.account_id is None or installation.account_id == account.get("id")
    if same_account and _is_current(installation.account_login_changed_at, at):
        installation.account_login = login[:100]
        installation.account_login_changed_at = at
        installation.save(update_fields=["account_login", "account_login_changed_at", "updated_at"])
    return installation


def installation_mark_deleted(
    *, installation: Installation, at: datetime | None = None
) -> Installation:
    """The app was uninstalled: stop processing its events and mark every
    repository inaccessible. Rows stay, for the record.

    Final whatever the order it is processed in (nothing follows a deletion, see
    ``installation_upsert``); the first deletion recorded is kept."""
    if installation.deleted_at is not None:
        return installation
    at = at or timezone.now()
    installation.deleted_at = at
    installation.state_changed_at = max(at, installation.state_changed_at or at)
    installation.save(update_fields=["deleted_at", "state_changed_at", "updated_at"])
    installation.repositories.update(accessible=False, updated_at=timezone.now())
    return installation


def _record_access(
    *, installation: Installation, item: Mapping[str, Any], accessible: bool, at: datetime
) -> Repository:
    """Record one repository of GitHub's list as (in)accessible at ``at``. Its
    name and privacy come from the same listing, so an older listing changes
    none of them."""
    item = require_mapping(item, "repositories[]")
    github_id = require_int(item, "id", "repositories[]")
    full_name = item.get("full_name")
    if not isinstance(full_name, str) or not 0 < len(full_name) <= MAX_FULL_NAME:
        raise PayloadError("repositories[].full_name is not a repository name")
    fields = {
        "full_name": clean_text(full_name),
        "private": item.get("private") is True,
        "accessible": accessible,
        "access_changed_at": at,
    }
    repository, created = Repository.objects.select_for_update().get_or_create(
        installation=installation, github_id=github_id, defaults=fields
    )
    if not created and _is_current(repository.access_changed_at, at):
        if not _is_current(repository.snapshot_received_at, at):
            # A newer event's repository block named it (a rename, a transfer).
            del fields["full_name"], fields["private"]
        for name, value in fields.items():
            setattr(repository, name, value)
        repository.save(update_fields=[*fields, "updated_at"])
    return repository


@transaction.atomic
def repositories_sync(
    *,
    installation: Installation,
    repositories: Iterable[Mapping[str, Any]],
    complete: bool = False,
    at: datetime | None = None,
) -> list[Repository]:
    """Record the repositories the installation can reach, by GitHub id, as of
    ``at`` (None: a list read from the API now); a repository whose access
    changed later than ``at`` is left as it is.

    ``complete=True`` means ``repositories`` is the installation's whole list
    (a re-sync from the API): any other repository of the installation is then
    marked inaccessible. Tracking choices are kept either way. A deleted
    installation's repositories stay as the deletion left them."""
    if installation.deleted_at is not None:
        return []
    at = at or timezone.now()
    if not isinstance(repositories, list | tuple):
        raise PayloadError("the repositories are not a list")
    synced = [
        _record_access(installation=installation, item=item, accessible=True, at=at)
        for item in repositories
    ]
    if complete:
        installation.repositories.exclude(pk__in=[r.pk for r in synced]).filter(
            Q(access_changed_at__isnull=True) | Q(access_changed_at__lte=at)
        ).update(accessible=False, access_changed_at=at, updated_at=timezone.now())
    return synced


@transaction.atomic
def repositories_remove(
    *,
    installation: Installation,
    repositories: Iterable[Mapping[str, Any]],
    at: datetime | None = None,
) -> list[Repository]:
    """The installation lost access to these repositories at ``at``: keep them
    (and the metrics that point at them), marked inaccessible, so they are no
    longer processed.

    One not recorded yet is recorded, inaccessible: the ``added`` event that
    preceded the removal may still be waiting for a retry, and must find the
    newer removal when it comes."""
    if installation.deleted_at is not None:
        return []
    at = at or timezone.now()
    return [
        _record_access(installation=installation, item=item, accessible=False, at=at)
        for item in repositories
    ]


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

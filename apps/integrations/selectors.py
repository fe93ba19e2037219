"""Reads for the integrations pages."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from apps.integrations.models import Installation, ReconcileRun, Repository, WebhookDelivery
from apps.teams.models import Team

DELIVERY_LOG_LIMIT = 200


def _log(queryset: QuerySet[WebhookDelivery], status: str | None) -> QuerySet[WebhookDelivery]:
    if status in WebhookDelivery.Status.values:
        queryset = queryset.filter(status=status)
    # The raw bodies can be megabytes each; the log never shows them.
    return (
        queryset.defer("payload")
        .select_related("team")
        .order_by("-received_at", "-pk")[:DELIVERY_LOG_LIMIT]
    )


def team_deliveries(*, team: Team, status: str | None = None) -> QuerySet[WebhookDelivery]:
    """The team's most recent deliveries, newest first."""
    return _log(WebhookDelivery.objects.filter(team=team), status)


def all_deliveries(*, status: str | None = None) -> QuerySet[WebhookDelivery]:
    """Every team's deliveries and the unrouted ones (no team), for staff."""
    return _log(WebhookDelivery.objects.all(), status)


def reconcile_runs(*, limit: int = 10) -> list[ReconcileRun]:
    """The latest reconcile runs, newest first (the delivery log page, staff)."""
    return list(ReconcileRun.objects.order_by("-started_at", "-pk")[:limit])


def team_delivery_or_404(*, team: Team, pk: int) -> WebhookDelivery:
    return get_object_or_404(WebhookDelivery.objects.defer("payload"), team=team, pk=pk)


@dataclass(frozen=True)
class RepositoryStatus:
    label: str
    css: str  # the badge's class in app.css
    trackable: bool


def repository_status(*, repository: Repository, installation: Installation) -> RepositoryStatus:
    """The one badge a repository shows, the most pressing state first."""
    if repository.deleted_at is not None:
        return RepositoryStatus("no longer tracked: deleted on GitHub", "bad", trackable=False)
    if installation.deleted_at is not None:
        return RepositoryStatus("uninstalled", "bad", trackable=False)
    if installation.suspended_at is not None:
        return RepositoryStatus("installation suspended", "warn", trackable=False)
    if not repository.accessible:
        return RepositoryStatus("access removed on GitHub", "bad", trackable=False)
    if repository.tracked:
        return RepositoryStatus("tracked", "ok", trackable=True)
    return RepositoryStatus("not tracked", "", trackable=True)


def team_installations(*, team: Team) -> list[Installation]:
    """The team's installations, each with ``repository_rows`` ((repository,
    status) pairs, accessible repositories first) and ``github_url``."""
    installations = list(
        Installation.objects.filter(team=team)
        .prefetch_related(
            Prefetch(
                "repositories",
                queryset=Repository.objects.order_by("-accessible", "full_name"),
            )
        )
        .order_by("account_login", "installation_id")
    )
    for installation in installations:
        installation.repository_rows = [  # type: ignore[attr-defined]
            (repo, repository_status(repository=repo, installation=installation))
            for repo in installation.repositories.all()
        ]
        installation.github_url = installation_settings_url(  # type: ignore[attr-defined]
            installation=installation
        )
    return installations


def team_installation_or_404(*, team: Team, pk: int) -> Installation:
    return get_object_or_404(Installation, team=team, pk=pk)


def team_repository_or_404(*, team: Team, pk: int) -> Repository:
    return get_object_or_404(
        Repository.objects.select_related("installation"), installation__team=team, pk=pk
    )


def installation_settings_url(*, installation: Installation) -> str:
    """The installation's page on GitHub, where its repository access changes."""
    base = settings.GITHUB_WEB_URL
    if installation.account_type == "Organization" and installation.account_login:
        return (
            f"{base}/organizations/{installation.account_login}"
            f"/settings/installations/{installation.installation_id}"
        )
    return f"{base}/settings/installations/{installation.installation_id}"

"""Reads for the integrations pages."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from apps.integrations.models import (
    DeploymentHistoryCursor,
    HistoryRun,
    Installation,
    ReconcileRun,
    Repository,
    WebhookDelivery,
)
from apps.integrations.services.deployment_history import SOURCES as DEPLOYMENT_SOURCES
from apps.integrations.services.history import history_pages_left
from apps.integrations.services.history_pacer import (
    DEFAULT_EXPECTED_SECONDS,
    PacerLimits,
    pacer_figures,
)
from apps.metrics.models import PullRequest
from apps.teams.models import Team

DELIVERIES_PER_PAGE = 100
# The log counts its rows up to this many (a bounded COUNT, whatever the
# table's size); past it, the page says "more than".
DELIVERY_COUNT_LIMIT = 10_000


@dataclass(frozen=True)
class DeliveryPage:
    """One page of the delivery log, newest first."""

    rows: list[WebhookDelivery]
    number: int
    total: int  # counted up to DELIVERY_COUNT_LIMIT
    total_capped: bool  # more than DELIVERY_COUNT_LIMIT

    @property
    def first_index(self) -> int:
        return (self.number - 1) * DELIVERIES_PER_PAGE + 1

    @property
    def last_index(self) -> int:
        return self.first_index + len(self.rows) - 1

    @property
    def pages(self) -> int | None:
        """How many pages there are (None past the count limit)."""
        if self.total_capped:
            return None
        return max(1, -(-self.total // DELIVERIES_PER_PAGE))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.total_capped or self.number * DELIVERIES_PER_PAGE < self.total

    @property
    def past_the_end(self) -> bool:
        return not self.rows and self.number > 1


def _log(queryset: QuerySet[WebhookDelivery], status: str | None, page: int) -> DeliveryPage:
    if status in WebhookDelivery.Status.values:
        queryset = queryset.filter(status=status)
    counted = queryset[: DELIVERY_COUNT_LIMIT + 1].count()
    start = (page - 1) * DELIVERIES_PER_PAGE
    # The raw bodies can be megabytes each; the log never shows them.
    rows = list(
        queryset.defer("payload")
        .select_related("team")
        .order_by("-received_at", "-pk")[start : start + DELIVERIES_PER_PAGE]
    )
    return DeliveryPage(
        rows=rows,
        number=page,
        total=min(counted, DELIVERY_COUNT_LIMIT),
        total_capped=counted > DELIVERY_COUNT_LIMIT,
    )


def team_deliveries(*, team: Team, status: str | None = None, page: int = 1) -> DeliveryPage:
    """A page of the team's deliveries, newest first."""
    return _log(WebhookDelivery.objects.filter(team=team), status, page)


def all_deliveries(*, status: str | None = None, page: int = 1) -> DeliveryPage:
    """A page of every team's deliveries and the unrouted ones (no team), for staff."""
    return _log(WebhookDelivery.objects.all(), status, page)


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
    repository_ids = [r.pk for i in installations for r in i.repositories.all()]
    histories = repository_histories(repository_ids=repository_ids)
    deployment_histories = repository_deployment_histories(repository_ids=repository_ids)
    for installation in installations:
        installation.repository_rows = [  # type: ignore[attr-defined]
            (repo, repository_status(repository=repo, installation=installation))
            for repo in installation.repositories.all()
        ]
        for repo in installation.repositories.all():
            repo.history = (  # type: ignore[attr-defined]
                DEMO_HISTORY if installation.demo else histories.get(repo.pk)
            )
            repo.deployment_history = deployment_histories.get(  # type: ignore[attr-defined]
                repo.pk
            )
        installation.github_url = installation_settings_url(  # type: ignore[attr-defined]
            installation=installation
        )
        installation.history_summary = (  # type: ignore[attr-defined]
            None
            if installation.demo
            else installation_history_summary(
                installation=installation,
                runs=[
                    repo.history.run  # type: ignore[attr-defined]
                    for repo in installation.repositories.all()
                    if repo.tracked and repo.history and repo.history.run  # type: ignore[attr-defined]
                ],
            )
        )
    return installations


def team_tracked_repository_names(*, team: Team) -> list[str] | None:
    """The full names of the team's tracked repositories, sorted, in the
    installations it has not removed; None when it has no such installation.
    Two small queries, for pages that only ask how far the team got."""
    installations = Installation.objects.filter(team=team, deleted_at__isnull=True)
    if not installations.exists():
        return None
    return sorted(
        Repository.objects.filter(installation__in=installations, tracked=True).values_list(
            "full_name", flat=True
        )
    )


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


@dataclass(frozen=True)
class HistoryProgress:
    """A repository's latest history run (or, without a run, its deployments'
    read) as the settings page shows it: ``text`` for everyone, ``reason`` (why
    it failed or waits, which may name settings) for the team's admins only."""

    run: HistoryRun | None
    text: str
    css: str
    active: bool
    retryable: bool
    reason: str = ""


# The demo's repositories: their past is the demo's own story (posted as
# webhook deliveries by `manage.py demo`), never read from GitHub.
DEMO_HISTORY = HistoryProgress(
    None,
    "the demo's story: 90 days sent as webhook deliveries",
    "ok",
    active=False,
    retryable=False,
)


def repository_histories(*, repository_ids: list[int]) -> dict[int, HistoryProgress]:
    """The latest history run of each repository, by repository pk."""
    latest: dict[int, HistoryRun] = {}
    runs = HistoryRun.objects.filter(repository_id__in=repository_ids).order_by(
        "repository_id", "-created_at", "-pk"
    )
    for run in runs:
        latest.setdefault(run.repository_id, run)
    return {pk: history_progress(run=run) for pk, run in latest.items()}


def history_progress(*, run: HistoryRun) -> HistoryProgress:
    """What a run says to people: how far it got, what it waits for, how it ended."""
    loaded = (
        f"{run.pull_requests_stored:,} pull request{'s' if run.pull_requests_stored != 1 else ''}"
    )
    status = run.status
    if status == HistoryRun.Status.QUEUED:
        return HistoryProgress(run, "history queued", "", active=True, retryable=False)
    if status == HistoryRun.Status.RUNNING:
        left = history_pages_left(run)
        more = f", about {left:,} page{'s' if left != 1 else ''} left" if left is not None else ""
        return HistoryProgress(run, f"{loaded} loaded{more}", "", active=True, retryable=False)
    if status == HistoryRun.Status.WAITING:
        until = timezone.localtime(run.resume_at).strftime("%H:%M") if run.resume_at else "soon"
        if run.failures:
            return HistoryProgress(
                run,
                f"GitHub is failing; trying again at {until}",
                "warn",
                active=True,
                retryable=False,
                reason=run.error,
            )
        text = f"{loaded} loaded; waiting for GitHub's rate limit until {until}"
        return HistoryProgress(run, text, "warn", active=True, retryable=False)
    if status == HistoryRun.Status.DONE:
        since = (
            f" since {timezone.localtime(run.window_start).day} "
            f"{timezone.localtime(run.window_start):%b}"
            if run.window_start
            else " (all history)"
        )
        return HistoryProgress(run, f"done: {loaded}{since}", "ok", active=False, retryable=True)
    if status == HistoryRun.Status.FAILED:
        return HistoryProgress(run, "failed", "bad", active=False, retryable=True, reason=run.error)
    return HistoryProgress(run, f"stopped: {run.error}", "", active=False, retryable=False)


# What each source's items are called on the page: (one, several).
_DEPLOYMENT_ITEMS = {
    DeploymentHistoryCursor.Source.DEPLOYMENTS: ("GitHub deployment", "GitHub deployments"),
    DeploymentHistoryCursor.Source.RELEASES: ("release", "releases"),
    DeploymentHistoryCursor.Source.WORKFLOW_RUNS: ("workflow run", "workflow runs"),
}


def repository_deployment_histories(*, repository_ids: list[int]) -> dict[int, HistoryProgress]:
    """The deployments' read of each repository that has one, by repository pk."""
    cursors: dict[int, list[DeploymentHistoryCursor]] = {}
    for cursor in DeploymentHistoryCursor.objects.filter(repository_id__in=repository_ids):
        cursors.setdefault(cursor.repository_id, []).append(cursor)
    return {pk: deployment_history_progress(cursors=found) for pk, found in cursors.items()}


def deployment_history_progress(*, cursors: list[DeploymentHistoryCursor]) -> HistoryProgress:
    """What a repository's deployments' read (its three sources' cursors) says
    to people, as a history run's progress without a run: what it stored of
    each source, what it waits for, how it ended (the least finished source
    decides)."""
    Status = DeploymentHistoryCursor.Status
    order = {source: index for index, source in enumerate(DEPLOYMENT_SOURCES)}
    cursors = sorted(cursors, key=lambda cursor: order.get(cursor.source, len(order)))
    stored = ", ".join(
        f"{cursor.items_stored:,} {_DEPLOYMENT_ITEMS[cursor.source][cursor.items_stored != 1]}"
        for cursor in cursors
        if cursor.source in _DEPLOYMENT_ITEMS
    )
    statuses = {cursor.status for cursor in cursors}
    waiting = [cursor for cursor in cursors if cursor.status == Status.WAITING]
    errors = [cursor.error for cursor in cursors if cursor.error]
    reason = errors[0] if errors else ""
    if Status.READING in statuses:
        return HistoryProgress(
            None, f"deployments: reading, {stored} so far", "", active=True, retryable=False
        )
    if waiting:
        resume_at = min((c.resume_at for c in waiting if c.resume_at), default=None)
        until = timezone.localtime(resume_at).strftime("%H:%M") if resume_at else "soon"
        if any(cursor.failures for cursor in waiting):
            text = f"deployments: GitHub is failing; trying again at {until}"
            return HistoryProgress(None, text, "warn", active=True, retryable=False, reason=reason)
        text = f"deployments: {stored} so far; waiting for GitHub's rate limit until {until}"
        return HistoryProgress(None, text, "warn", active=True, retryable=False)
    if Status.FAILED in statuses:
        text = f"deployments: failed ({stored} stored)"
        return HistoryProgress(None, text, "bad", active=False, retryable=True, reason=reason)
    if Status.STOPPED in statuses:
        text = "deployments: stopped"
        return HistoryProgress(None, text, "", active=False, retryable=True, reason=reason)
    text = f"deployments read: {stored}"
    return HistoryProgress(None, text, "ok", active=False, retryable=True)


# The points a page of 100 pull requests costs (github_app.history.page_cost),
# before the pacer has seen GitHub's own figure; and the least an installation
# gets an hour (GitHub: 5,000, up to 12,500 with more repositories and users).
PAGE_POINTS = 2
HOURLY_POINTS = 5000


@dataclass(frozen=True)
class HistorySummary:
    """An installation's history as a whole: how many of its tracked
    repositories are loaded, the pull requests loaded, how much of GitHub's
    budget is in use and about how long is left (None: not known yet)."""

    repositories_done: int
    repositories: int
    pull_requests: int
    active: bool
    budget_share: float
    points_remaining: int | None
    points_reset_at: datetime | None
    seconds_left: float | None
    refusals: int

    @property
    def budget_percent(self) -> int:
        return round(self.budget_share * 100)

    @property
    def pull_requests_text(self) -> str:
        return f"{self.pull_requests:,}"

    @property
    def points_remaining_text(self) -> str:
        return f"{self.points_remaining:,}" if self.points_remaining is not None else ""

    @property
    def points_text(self) -> str:
        """ "of GitHub's points left this hour (until 14:05)"; "" before its first figures."""
        if self.points_remaining is None or self.points_reset_at is None:
            return ""
        until = timezone.localtime(self.points_reset_at).strftime("%H:%M")
        return f"of GitHub's points left this hour (until {until})"

    @property
    def time_left(self) -> str:
        """ "7 min", "2 h", "< 1 min" (about); "" when unknown."""
        if self.seconds_left is None:
            return ""
        minutes = math.ceil(self.seconds_left / 60)
        if minutes <= 1:
            return "< 1 min"
        if minutes < 90:
            return f"{minutes} min"
        return f"{round(minutes / 60)} h"


def installation_history_summary(
    *, installation: Installation, runs: list[HistoryRun], now: datetime | None = None
) -> HistorySummary | None:
    """The installation's history as a whole, from the latest run of each
    tracked repository and its pacer's figures; None when nothing was loaded."""
    if not runs:
        return None
    now = now or timezone.now()
    figures = pacer_figures(installation_id=installation.installation_id)
    active = [run for run in runs if run.status in HistoryRun.ACTIVE]
    pages = [history_pages_left(run, now=now) for run in active]
    # A run not started yet is taken to be as long as those under way or done.
    lengths = [run.pages_done + left for run, left in zip(active, pages, strict=True) if left]
    lengths += [run.pages_done for run in runs if run.status == HistoryRun.Status.DONE]
    seconds_left: float | None = None
    if active and lengths:
        typical = sum(lengths) / len(lengths)
        pages_left = sum(typical if left is None else left for left in pages)
        # The CPU-time limit: a page takes GitHub's measured time, and the pacer
        # fills 95 % of each second with response time.
        per_page = (
            figures.response_seconds / figures.requests
            if figures.requests
            else DEFAULT_EXPECTED_SECONDS
        )
        seconds_left = pages_left * per_page / PacerLimits().target
        # The hour's points: past what is left, the next hours' at the least.
        points = pages_left * PAGE_POINTS
        remaining, reset_at = figures.remaining, figures.reset_at
        if remaining is not None and reset_at is not None and points > remaining:
            to_reset = max(reset_at - now.timestamp(), 0.0)
            beyond = (points - remaining) / HOURLY_POINTS * 3600
            seconds_left = max(seconds_left, to_reset + beyond)
    return HistorySummary(
        repositories_done=sum(run.status == HistoryRun.Status.DONE for run in runs),
        repositories=len(runs),
        pull_requests=sum(run.pull_requests_stored for run in runs),
        active=bool(active),
        budget_share=figures.share_used,
        points_remaining=figures.remaining,
        points_reset_at=(
            datetime.fromtimestamp(figures.reset_at, tz=UTC) if figures.reset_at else None
        ),
        seconds_left=seconds_left if active else None,
        refusals=figures.refusals,
    )


def team_history_run_or_404(*, team: Team, pk: int) -> HistoryRun:
    return get_object_or_404(
        HistoryRun.objects.select_related("repository__installation"),
        repository__installation__team=team,
        pk=pk,
    )


def team_history_state(*, team: Team) -> tuple[bool, bool]:
    """Whether a history run of the team's tracked repositories is under way,
    and whether one has finished."""
    runs = HistoryRun.objects.filter(repository__installation__team=team, repository__tracked=True)
    active = runs.filter(status__in=HistoryRun.ACTIVE).exists()
    return active, runs.filter(status=HistoryRun.Status.DONE).exists()


class RepositoryRows:
    """The metrics' `RepositoryDirectory` (apps/metrics/repositories.py): what
    they read of repositories, read here."""

    def names_for_team(self, *, team: Team) -> list[str]:
        # The team's tracked repositories, and any other that has pull requests
        # of the team (tracked once). Not a DISTINCT over the pull requests,
        # which cost half a second at 100,000 in bench/bench_dashboard.py: one
        # EXISTS per repository, on an index.
        has_pull_requests = Exists(
            PullRequest.objects.filter(team=team, repository_id=OuterRef("pk"))
        )
        names = (
            Repository.objects.filter(installation__team=team)
            .filter(Q(tracked=True) | has_pull_requests)
            .values_list("full_name", flat=True)
            .distinct()
        )
        return sorted(set(names))

    def ids_named(self, *, team: Team, full_name: str) -> list[int]:
        return list(
            Repository.objects.filter(installation__team=team, full_name=full_name)
            .values_list("id", flat=True)
            .distinct()
        )

    def github_ids_named(self, *, team_id: int, full_name: str) -> QuerySet[Repository]:
        return (
            Repository.objects.filter(
                Q(installation__team_id=team_id) | Q(pull_requests__team_id=team_id)
            )
            .filter(full_name__iexact=full_name)
            .values("github_id")
        )

    def names_of(self, *, github_id: int) -> set[str]:
        names = Repository.objects.filter(github_id=github_id).values_list("full_name", flat=True)
        return {name.lower() for name in names}

    def tracked_named(self, *, team: Team, full_name: str) -> Repository | None:
        # The newest tracked row of that name (a reinstall makes a second one).
        return (
            Repository.objects.filter(
                installation__team=team,
                full_name__iexact=full_name,
                tracked=True,
                deleted_at__isnull=True,
            )
            .order_by("-pk")
            .first()
        )


def team_tracked_repositories(*, team: Team) -> list[Repository]:
    """The team's tracked repositories, by name."""
    return list(
        Repository.objects.filter(installation__team=team, tracked=True, deleted_at__isnull=True)
        .select_related("installation")
        .order_by("full_name", "pk")
    )


@dataclass(frozen=True)
class MissingPermissions:
    installation: Installation
    missing: list[str]
    github_url: str


def installations_missing_permissions(*, team: Team) -> list[MissingPermissions]:
    """The team's live installations that have not accepted every permission
    the app's manifest asks for (installed before the app asked for them: an
    owner accepts them on GitHub, which then sends new_permissions_accepted)."""
    wanted = app_manifest_permissions()
    found = []
    for installation in Installation.objects.filter(team=team, deleted_at__isnull=True).order_by(
        "account_login", "installation_id"
    ):
        granted = installation.permissions or {}
        missing = sorted(
            name for name, level in wanted.items() if not _grants(granted.get(name), level)
        )
        if missing:
            found.append(
                MissingPermissions(
                    installation=installation,
                    missing=missing,
                    github_url=installation_settings_url(installation=installation),
                )
            )
    return found


_LEVELS = {"read": 1, "write": 2, "admin": 3}


def _grants(granted: object, wanted: str) -> bool:
    return isinstance(granted, str) and _LEVELS.get(granted, 0) >= _LEVELS.get(wanted, 1)


def app_manifest_permissions() -> dict[str, str]:
    """The permissions app-manifest.json asks for."""
    manifest = json.loads((settings.BASE_DIR / "app-manifest.json").read_text())
    permissions = manifest.get("default_permissions") or {}
    return {str(name): str(level) for name, level in permissions.items()}

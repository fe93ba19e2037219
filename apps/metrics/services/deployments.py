"""The deployment kind of row: `Deployment`, keyed by team and its source's key
(``github:<deployment id>``, ``workflow_run:<run id>``, ``release:<id>``,
``api:<idempotency key>``), read from `deployment` and `deployment_status`
events (and the API's deployment-shaped events).

- A deployment's status is the newest by GitHub's time (the status's
  `updated_at`, then its id): an older status arriving late, or a redelivery,
  changes nothing. GitHub marks a succeeded deployment `inactive` when a newer one
  replaces it: that is still a success, and keeps the time it finished.
- Production is `production_environment: true`, or an environment the team
  lists (`DeploymentSettings`, default production, prod, live).
- What a deployment shipped (the pull requests whose merge commits it is the
  first successful production deployment to contain) needs GitHub's compare API:
  a successful production deployment not matched yet is sent, after the commit,
  to `apps.integrations` (`SHIP_TASK`), which reads the commits and applies them
  here (`deployment_ship`), through the same batch as every row. A merge's
  deployment (where the repository counts its merges) needs none of that: it
  ships exactly the pull request merged, in the batch that writes it.
- Whether a deployment failed and why, whether it was rework, and its recovery
  time are derived from the repository's deployments and pull requests
  (`deployments_assess`) once for each batch that writes one of them (a page
  of history's merges: once), never accumulated.

Definitions: docs/metrics.md ("Deployments and DORA's five keys")."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.common.bulk import update_rows
from apps.common.scheduling import task_send
from apps.metrics.models import (
    DEFAULT_PRODUCTION_ENVIRONMENTS,
    Deployment,
    DeploymentSettings,
    PullRequest,
    RepositoryDeploymentSource,
)
from apps.metrics.repositories import RepositoryRecord, repository_assign
from apps.metrics.services.batches import (
    Batch,
    Change,
    ConcurrentCreation,
    Need,
    RowKind,
    Watcher,
    changed_fields,
    tracked_values,
)
from apps.metrics.services.durations import (
    Calendar,
    DeploymentTimes,
    deployment_durations_store,
    team_calendars,
)
from apps.metrics.services.lifecycle import Transition
from apps.metrics.services.payloads import (
    PayloadError,
    clean_text,
    read_sha,
    require_int,
    require_mapping,
)
from apps.metrics.services.pull_requests import PullRequestChange, PullRequestRows
from apps.teams.models import Team
from github_app.values import TimestampError, parse_timestamp

logger = logging.getLogger(__name__)

# The task (apps/integrations/tasks.py) that reads a deployment's commits from
# GitHub and records the pull requests it shipped; sent by name.
SHIP_TASK = "apps.integrations.tasks.deployment_ship_fetch"

MAX_ENVIRONMENT = 255
# How many of a repository's newest deployments a write derives again.
ASSESSED = 300
MAX_REF = 255
MAX_KEY = 200
Status = Deployment.Status
# GitHub's deployment status states -> ours ("queued" is waiting, as pending).
_STATES = {
    "pending": Status.PENDING,
    "queued": Status.PENDING,
    "waiting": Status.PENDING,
    "in_progress": Status.IN_PROGRESS,
    "success": Status.SUCCESS,
    "failure": Status.FAILURE,
    "error": Status.ERROR,
    "inactive": Status.INACTIVE,
}
FINISHED = (Status.SUCCESS, Status.FAILURE, Status.ERROR)
Source = Deployment.Source
# Sources that make one history of a repository's deployments: the API's
# deployments come from the team's own CI, as GitHub's deployments do.
FAMILIES: dict[str, tuple[str, ...]] = {
    Source.GITHUB: (Source.GITHUB, Source.API),
    Source.API: (Source.GITHUB, Source.API),
    Source.WORKFLOW: (Source.WORKFLOW,),
    Source.RELEASE: (Source.RELEASE,),
    Source.MERGE: (Source.MERGE,),
}


# --- what an event says -------------------------------------------------------------


@dataclass(frozen=True)
class StatusSnapshot:
    """One status of a deployment, as of GitHub's time ``at`` (and its id)."""

    status: str
    at: datetime | None
    github_id: int | None = None


@dataclass(frozen=True)
class DeploymentChange:
    """What one event says about one deployment."""

    team: Team
    repository: RepositoryRecord | None
    key: str
    source: str
    sha: str
    environment: str
    github_id: int | None = None
    production_environment: bool | None = None
    started_at: datetime | None = None
    status: StatusSnapshot | None = None
    # A release's tag, whose commit is read from GitHub when the sha is not known.
    ref: str = ""

    def needs(self) -> list[Need]:
        return [Need(DeploymentRows.name, self.team, 0, self.key)]

    def apply(self, batch: Batch) -> Deployment:
        row = batch.kind(DeploymentRows).row(self.team, self.key, source=self.source)
        if self.repository is not None:
            repository_assign(row, self.repository)
            row.repository_github_id = self.repository.github_id
        # What GitHub says of a deployment (its commit, environment) never changes.
        if self.sha:
            row.sha = self.sha
        row.environment = self.environment
        if self.ref:
            row.ref = self.ref
        if self.github_id is not None:
            row.github_id = self.github_id
        if self.production_environment is not None:
            row.production_environment = self.production_environment
        if self.started_at is not None and (
            row.started_at is None or self.started_at < row.started_at
        ):
            row.started_at = self.started_at
        if self.status is not None:
            status_apply(row, self.status)
        return row


def status_apply(row: Deployment, snapshot: StatusSnapshot) -> None:
    """Bring the row's status up to date with ``snapshot``, by GitHub's time:
    the newest status wins; an older one changes nothing, except that a finish
    (success, failure) fills in when the deployment finished when the newer
    status stored (inactive) does not say."""
    stored = (row.status_at, row.status_github_id or 0)
    incoming = (snapshot.at, snapshot.github_id or 0)
    newer = row.status_at is None or (snapshot.at is not None and incoming >= stored)
    if newer:
        row.status = snapshot.status
        row.status_at, row.status_github_id = snapshot.at, snapshot.github_id
        if snapshot.status in FINISHED:
            row.finished_at = snapshot.at
    elif row.finished_at is None and snapshot.status in FINISHED:
        row.finished_at = snapshot.at


# GitHub stamps a deployment's times as things happen: one further ahead than
# any clock drifts is no deployment's (and 9999-12-31 overflowed the rework
# window's arithmetic: a delivery failed with an OverflowError for reason).
_AHEAD = timedelta(days=1)


def _time(value: object, path: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = parse_timestamp(value)
    except TimestampError as error:
        raise PayloadError(f"{path}: {error}") from error
    if moment > timezone.now() + _AHEAD:
        raise PayloadError(f"{path}: the time is in the future")
    return moment


def _text(value: object, path: str, *, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PayloadError(f"{path} is not a string")
    return clean_text(value, limit=limit).strip()


def _sha(value: object, path: str) -> str:
    sha = read_sha(value)
    if sha is None:
        raise PayloadError(f"{path} is not a commit sha (40 hexadecimal digits)")
    return sha


def _state(value: object, path: str) -> str:
    if not isinstance(value, str) or value.lower() not in _STATES:
        raise PayloadError(f"{path} is not one of {', '.join(sorted(_STATES))}")
    return str(_STATES[value.lower()])


def _github_deployment(
    *, team: Team, repository: RepositoryRecord | None, payload: Mapping[str, Any]
) -> dict[str, Any]:
    """The fields of a change read from a GitHub deployment block."""
    block = require_mapping(payload.get("deployment"), "deployment")
    deployment_id = require_int(block, "id", "deployment")
    production = block.get("production_environment")
    return {
        "team": team,
        "repository": repository,
        "key": f"github:{deployment_id}",
        "source": Deployment.Source.GITHUB,
        "github_id": deployment_id,
        "sha": _sha(block.get("sha"), "deployment.sha"),
        "environment": _text(
            block.get("environment"), "deployment.environment", limit=MAX_ENVIRONMENT
        ),
        "production_environment": production if isinstance(production, bool) else None,
        "started_at": _time(block.get("created_at"), "deployment.created_at"),
    }


def read_deployment_change(
    *,
    team: Team,
    repository: RepositoryRecord | None,
    payload: Mapping[str, Any],
    received_at: datetime | None = None,
) -> DeploymentChange:
    """Read a `deployment` event (created): the deployment, with no status yet."""
    return DeploymentChange(**_github_deployment(team=team, repository=repository, payload=payload))


def read_deployment_status_change(
    *,
    team: Team,
    repository: RepositoryRecord | None,
    payload: Mapping[str, Any],
    received_at: datetime | None = None,
) -> DeploymentChange:
    """Read a `deployment_status` event: the deployment and one of its statuses.
    The API's deployments come as this event too, their deployment block keyed
    by the caller's idempotency key rather than GitHub's id (GitHub never sends one)."""
    deployment = payload.get("deployment")
    if isinstance(deployment, Mapping) and "idempotency_key" in deployment:
        return read_api_deployment_change(team=team, repository=repository, payload=payload)
    fields = _github_deployment(team=team, repository=repository, payload=payload)
    block = require_mapping(payload.get("deployment_status"), "deployment_status")
    at = _time(block.get("updated_at") or block.get("created_at"), "deployment_status.updated_at")
    status = StatusSnapshot(
        status=_state(block.get("state"), "deployment_status.state"),
        at=at,
        github_id=require_int(block, "id", "deployment_status"),
    )
    return DeploymentChange(**fields, status=status)


def read_api_deployment_change(
    *,
    team: Team,
    repository: RepositoryRecord | None,
    payload: Mapping[str, Any],
    received_at: datetime | None = None,
) -> DeploymentChange:
    """Read the API's deployment_status-shaped event (`apps.metrics.api` builds
    and checks it): {"deployment": {"idempotency_key", "sha", "environment",
    "created_at"}, "deployment_status": {"state", "updated_at"}}. A deployment
    recorded again with the same key moves forward by its status's time, like
    GitHub's statuses."""
    block = require_mapping(payload.get("deployment"), "deployment")
    key = _text(block.get("idempotency_key"), "deployment.idempotency_key", limit=MAX_KEY)
    if not key:
        raise PayloadError("deployment.idempotency_key is missing")
    started_at = _time(block.get("created_at"), "deployment.created_at")
    status_block = require_mapping(payload.get("deployment_status"), "deployment_status")
    finished_at = _time(status_block.get("updated_at"), "deployment_status.updated_at")
    status = _state(status_block.get("state"), "deployment_status.state")
    return DeploymentChange(
        team=team,
        repository=repository,
        key=f"api:{key}",
        source=Deployment.Source.API,
        sha=_sha(block.get("sha"), "deployment.sha"),
        environment=_text(
            block.get("environment"), "deployment.environment", limit=MAX_ENVIRONMENT
        ),
        started_at=started_at,
        status=StatusSnapshot(status=status, at=finished_at or started_at),
    )


@dataclass(frozen=True)
class NoChange:
    """An event of a deployment kind that is no deployment (a workflow that is
    not the repository's deployment workflow, a draft release, a run still
    going): processed, changing nothing."""

    team: Team
    repository: RepositoryRecord | None
    reason: str

    def needs(self) -> list[Need]:
        return []

    def apply(self, batch: Batch) -> None:
        return None


# A workflow run's conclusion -> the deployment's status; the others (cancelled,
# skipped, neutral, action_required, stale) deployed nothing and are no attempt.
_RUN_CONCLUSIONS = {
    "success": Status.SUCCESS,
    "failure": Status.FAILURE,
    "timed_out": Status.FAILURE,
    "startup_failure": Status.FAILURE,
}


def repository_workflow_path(*, team: Team, repository: RepositoryRecord | None) -> str:
    """The workflow file the team's admin picked as the repository's deployments."""
    if repository is None:
        return ""
    chosen = (
        RepositoryDeploymentSource.objects.filter(
            team=team, repository_github_id=repository.github_id
        )
        .values_list("workflow_path", flat=True)
        .first()
    )
    return chosen or ""


def read_workflow_run_change(
    *,
    team: Team,
    repository: RepositoryRecord | None,
    payload: Mapping[str, Any],
    received_at: datetime | None = None,
) -> DeploymentChange | NoChange:
    """Read a `workflow_run` event: a completed run of the repository's
    deployment workflow on its default branch is a production deployment of
    its head commit (success deploys; failure is a failed deployment)."""
    run = require_mapping(payload.get("workflow_run"), "workflow_run")
    run_id = require_int(run, "id", "workflow_run")
    workflow = payload.get("workflow")
    path = run.get("path") or (workflow.get("path") if isinstance(workflow, Mapping) else None)
    wanted = repository_workflow_path(team=team, repository=repository)
    if not wanted or path != wanted:
        return NoChange(team, repository, "not the repository's deployment workflow")
    repository_block = payload.get("repository")
    default_branch = (
        repository_block.get("default_branch") if isinstance(repository_block, Mapping) else None
    )
    if run.get("head_branch") != default_branch:
        return NoChange(team, repository, "a run on another branch than the default one")
    status = _RUN_CONCLUSIONS.get(str(run.get("conclusion")))
    if payload.get("action") != "completed" or run.get("status") != "completed" or status is None:
        return NoChange(team, repository, "a run that deployed nothing (yet)")
    return DeploymentChange(
        team=team,
        repository=repository,
        key=f"workflow_run:{run_id}",
        source=Deployment.Source.WORKFLOW,
        github_id=run_id,
        sha=_sha(run.get("head_sha"), "workflow_run.head_sha"),
        environment="production",
        production_environment=True,
        started_at=_time(run.get("run_started_at"), "workflow_run.run_started_at"),
        # A re-run (a new attempt) of the same run is newer by its updated_at.
        status=StatusSnapshot(
            status=str(status),
            at=_time(run.get("updated_at"), "workflow_run.updated_at"),
            github_id=run.get("run_attempt") if isinstance(run.get("run_attempt"), int) else None,
        ),
    )


def read_release_change(
    *,
    team: Team,
    repository: RepositoryRecord | None,
    payload: Mapping[str, Any],
    received_at: datetime | None = None,
) -> DeploymentChange | NoChange:
    """Read a `release` event: a release published (not a draft, not a
    prerelease) is a successful production deployment of its tag's commit.
    The tag's commit is its `target_commitish` when that is a sha; else
    (a branch name) it is read from GitHub before what it shipped is."""
    release = require_mapping(payload.get("release"), "release")
    release_id = require_int(release, "id", "release")
    if payload.get("action") != "published":
        return NoChange(team, repository, "only a published release deploys")
    if release.get("draft") is not False or release.get("prerelease") is not False:
        return NoChange(team, repository, "a draft or a prerelease")
    published_at = _time(release.get("published_at"), "release.published_at")
    return DeploymentChange(
        team=team,
        repository=repository,
        key=f"release:{release_id}",
        source=Deployment.Source.RELEASE,
        github_id=release_id,
        sha=read_sha(release.get("target_commitish")) or "",
        ref=_text(release.get("tag_name"), "release.tag_name", limit=MAX_REF),
        environment="production",
        production_environment=True,
        started_at=_time(release.get("created_at"), "release.created_at"),
        status=StatusSnapshot(status=str(Status.SUCCESS), at=published_at),
    )


# --- which pull requests a deployment shipped --------------------------------------------


@dataclass(frozen=True)
class ShipChange:
    """The pull requests a successful production deployment shipped (read from
    GitHub by `apps.integrations`): each gets it as its deployment when it is the
    first to contain it (earliest finish), and `deployed_at` with it."""

    team: Team
    deployment_key: str
    previous_id: int | None
    # The shipped pull requests: (GitHub id, number).
    pull_requests: tuple[tuple[int, int], ...]
    repository: RepositoryRecord | None = None
    # Its commit, read from GitHub (a release's tag), when it had none.
    sha: str = ""
    # Of the shipped pull requests, those whose deployment is of another source
    # (one that no longer counts for the repository): replaced, whatever its time.
    replace: frozenset[int] = frozenset()

    def needs(self) -> list[Need]:
        return [
            *(
                Need(PullRequestRows.name, self.team, github_id, (number, None))
                for github_id, number in self.pull_requests
            ),
            Need(DeploymentRows.name, self.team, 0, self.deployment_key),
        ]

    def apply(self, batch: Batch) -> Deployment:
        deployment = batch.kind(DeploymentRows).row(self.team, self.deployment_key)
        if deployment.pk is None or deployment.finished_at is None:
            raise LookupError("a deployment is shipped only once stored and finished")
        deployment.previous_id = self.previous_id
        deployment.shipped_at = timezone.now()
        if self.sha and not deployment.sha:
            deployment.sha = self.sha
        pull_requests = batch.kind(PullRequestRows)
        for github_id, _ in self.pull_requests:
            tracked = pull_requests.tracked(self.team, github_id)
            if tracked.created:
                continue  # gone since it was matched
            row = tracked.row
            if (
                row.deployed_at is not None
                and row.deployment_id not in (None, deployment.pk)
                and github_id not in self.replace
            ):
                first = (row.deployed_at, row.deployment_id or 0)
                if first <= (deployment.finished_at, deployment.pk):
                    continue  # an earlier deployment shipped it first
            row.deployment = deployment
            # Never before its merge (a deployment's clock may run ahead).
            merged = row.merged_at or deployment.finished_at
            row.deployed_at = max(deployment.finished_at, merged)
        return deployment


def deployment_previous(deployment: Deployment) -> Deployment | None:
    """The repository's successful production deployment (of the same source)
    that finished last before this one."""
    if deployment.finished_at is None:
        return None
    previous: Deployment | None = (
        _counted(deployment)
        .filter(status__in=Deployment.SUCCEEDED_STATUSES)
        .filter(
            Q(finished_at__lt=deployment.finished_at)
            | Q(finished_at=deployment.finished_at, pk__lt=deployment.pk)
        )
        .order_by("-finished_at", "-pk")
        .first()
    )
    return previous


def _counted(deployment: Deployment) -> Any:
    return Deployment.objects.filter(
        team_id=deployment.team_id,
        repository_github_id=deployment.repository_github_id,
        source__in=FAMILIES[deployment.source],
        is_production=True,
    )


# --- failures, rework and recovery -------------------------------------------------------


def team_production_environments(team_id: int) -> set[str]:
    settings = DeploymentSettings.objects.filter(team_id=team_id).first()
    names = settings.production_environments if settings else []
    return {name.lower() for name in (names or DEFAULT_PRODUCTION_ENVIRONMENTS)}


def team_failure_window(team_id: int) -> timedelta:
    settings = DeploymentSettings.objects.filter(team_id=team_id).first()
    return timedelta(days=settings.failure_window_days if settings else 7)


def is_production(row: Deployment, environments: set[str]) -> bool:
    if row.production_environment is not None:
        return row.production_environment
    return row.environment.lower() in environments


def deployments_assess(
    *,
    team: Team,
    repository_github_id: int | None,
    calendars: dict[str, Calendar] | None = None,
    newest: int | None = ASSESSED,
    sources: Iterable[str] | None = None,
) -> int:
    """Derive, for every production deployment of the repository, whether it
    failed and why, whether it was rework and its recovery time; write those
    that changed. How many changed.

    Per family of sources (`FAMILIES`: a repository's GitHub deployments,
    with the API's, and its releases are two histories), in the order they
    finished:
    - failed: its status was failure or error; or a later deployment of an
      older commit rolled it back; or a pull request it shipped was reverted, or
      a hotfix merged after it (before the next deployment), within the team's
      window;
    - rework: it shipped a revert or a hotfix, or it was a rollback;
    - recovered: by the next successful deployment that did not fail itself."""
    calendars = calendars or team_calendars(team)
    window = team_failure_window(team.pk)
    # The newest ones: a change reaches back a window, not years; older rows
    # keep what was derived for them (metrics_recompute derives them again).
    assessed = Deployment.objects.filter(
        team=team,
        repository_github_id=repository_github_id,
        is_production=True,
        finished_at__isnull=False,
    )
    if sources is not None:
        assessed = assessed.filter(source__in=list(sources))
    rows = list(assessed.order_by("-finished_at", "-pk")[:newest])[::-1]
    if not rows:
        return 0
    loaded = {row.pk: tracked_values(row) for row in rows}
    shipped: dict[int, list[tuple[bool, bool]]] = defaultdict(list)
    for deployment_id, revert, hotfix in PullRequest.objects.filter(
        deployment_id__in=list(loaded)
    ).values_list("deployment_id", "is_revert", "is_hotfix"):
        shipped[deployment_id].append((revert, hotfix))
    reverted: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for deployment_id, merged_at, number in PullRequest.objects.filter(
        reverts__deployment_id__in=list(loaded), merged_at__isnull=False
    ).values_list("reverts__deployment_id", "merged_at", "number"):
        if merged_at is not None:
            reverted[deployment_id].append((merged_at, number))
    hotfixes = [
        (merged_at, number)
        for merged_at, number in PullRequest.objects.filter(
            team=team,
            repository_github_id=repository_github_id,
            is_hotfix=True,
            merged_at__gte=rows[0].finished_at,
        ).values_list("merged_at", "number")
        if merged_at is not None
    ]
    # One history per family of sources: the API's deployments and GitHub's
    # are one (a rollback, a hotfix or a recovery across them counts).
    by_family: dict[tuple[str, ...], list[Deployment]] = defaultdict(list)
    for row in rows:
        _reset(row)
        by_family[FAMILIES[row.source]].append(row)
    for group in by_family.values():
        _assess(group, shipped=shipped, reverted=reverted, hotfixes=hotfixes, window=window)
        _recover(group, calendars=calendars)
    changed, fields = changed_fields((row, loaded[row.pk]) for row in rows)
    update_rows(model=Deployment, rows=changed, fields=fields)
    return len(changed)


def deployments_reassess(*, team: Team | None) -> int:
    """`deployments_assess` of all the deployments of every repository of the
    team (None: every team) that has any: after a recompute of its pull requests."""
    pairs = Deployment.objects.filter(is_production=True)
    if team is not None:
        pairs = pairs.filter(team=team)
    changed = 0
    teams: dict[int, Team] = {}
    for team_id, repository_github_id in (
        pairs.values_list("team_id", "repository_github_id").distinct().order_by("team_id")
    ):
        if team_id not in teams:
            teams[team_id] = team if team is not None else Team.objects.get(pk=team_id)
        changed += deployments_assess(
            team=teams[team_id], repository_github_id=repository_github_id, newest=None
        )
    return changed


def _reset(row: Deployment) -> None:
    row.failed, row.failure_reason, row.failure_detail = False, "", ""
    row.is_rework, row.recovered_at = False, None


def _fail(row: Deployment, reason: str, detail: str) -> None:
    if not row.failed:
        row.failed, row.failure_reason, row.failure_detail = True, reason, detail[:300]


def _assess(
    group: list[Deployment],
    *,
    shipped: Mapping[int, list[tuple[bool, bool]]],
    reverted: Mapping[int, list[tuple[datetime, int]]],
    hotfixes: Sequence[tuple[datetime, int]],
    window: timedelta,
) -> None:
    successes = [row for row in group if row.succeeded]
    for row in group:
        if row.status in Deployment.FAILED_STATUSES:
            _fail(row, Deployment.Failure.STATUS, f"Its status was {row.status}.")
    # A rollback: a success deploying an older commit than the one running,
    # a commit's age being when it was first deployed (no commit graph here);
    # what was deployed since that commit last ran, and is newer, was rolled back.
    # Deploying the newer commit again afterwards is a roll forward, not one.
    first_seen: dict[str, int] = {}
    for index, row in enumerate(successes):
        if row.sha:
            first_seen.setdefault(row.sha, index)
    for index, row in enumerate(successes):
        if index == 0 or not row.sha or successes[index - 1].sha == row.sha:
            continue
        live = successes[index - 1].sha
        if not live or first_seen[row.sha] >= first_seen[live]:
            continue
        row.is_rework = True
        last_here = max(i for i in range(index) if successes[i].sha == row.sha)
        for rolled_back in successes[last_here + 1 : index]:
            if rolled_back.sha and first_seen[rolled_back.sha] > first_seen[row.sha]:
                _fail(
                    rolled_back,
                    Deployment.Failure.ROLLED_BACK,
                    f"Rolled back to {row.sha[:7]} at {row.finished_at:%Y-%m-%d %H:%M} UTC.",
                )
    for index, row in enumerate(successes):
        if row.finished_at is None:  # only finished deployments are assessed
            continue
        if any(revert or hotfix for revert, hotfix in shipped.get(row.pk, [])):
            row.is_rework = True
        limit = row.finished_at + window
        reverts = sorted(
            (at, number)
            for at, number in reverted.get(row.pk, [])
            if row.finished_at <= at <= limit
        )
        if reverts:
            _fail(
                row,
                Deployment.Failure.REVERTED,
                f"A pull request it shipped was reverted by #{reverts[0][1]}.",
            )
        following = successes[index + 1].finished_at if index + 1 < len(successes) else None
        fixes = sorted(
            (at, number)
            for at, number in hotfixes
            if row.finished_at < at <= limit and (following is None or at <= following)
        )
        if fixes:
            _fail(row, Deployment.Failure.HOTFIXED, f"Hotfix #{fixes[0][1]} followed it.")


def _recover(group: list[Deployment], *, calendars: dict[str, Calendar]) -> None:
    recovered_at: datetime | None = None
    # Backwards: the next successful deployment that did not fail, for each.
    for row in reversed(group):
        if row.failed:
            row.recovered_at = recovered_at
        if row.succeeded and not row.failed:
            recovered_at = row.finished_at
        deployment_durations_store(
            row,
            DeploymentTimes(
                finished_at=row.finished_at, failed=row.failed, recovered_at=row.recovered_at
            ),
            calendars=calendars,
        )


# --- the kind -----------------------------------------------------------------------------


@dataclass
class _Tracked:
    row: Deployment
    created: bool
    loaded: dict[str, Any] = field(default_factory=dict)


class DeploymentRows(RowKind):
    """A batch's deployments, locked by team and key."""

    name = "deployment"
    model = Deployment
    readers = {
        "deployment": read_deployment_change,
        "deployment_status": read_deployment_status_change,
        "workflow_run": read_workflow_run_change,
        "release": read_release_change,
    }

    def __init__(self, batch: Batch) -> None:
        super().__init__(batch)
        self._tracked: dict[tuple[int, str], _Tracked] = {}
        self._teams: dict[int, Team] = {}
        # Merge deployments written by this batch -> the pull request merged (its
        # GitHub id), which the batch holds: what each of them shipped.
        self._merges: dict[tuple[int, str], int] = {}
        # Whether a repository (team, GitHub id) counts its merges, once a batch.
        self._counts_merges: dict[tuple[int, int], bool] = {}

    def load(self, needs: Sequence[Need]) -> None:
        keys: dict[int, set[str]] = defaultdict(set)
        for need in needs:
            keys[need.team.pk].add(need.seed)
            self._teams[need.team.pk] = need.team
        for team_id in sorted(keys):
            locked = (
                Deployment.objects.select_for_update()
                .filter(team_id=team_id, key__in=keys[team_id])
                .order_by("key")
            )
            for row in locked:
                row.team = self._teams[team_id]
                self._tracked[(team_id, row.key)] = _Tracked(row, False, tracked_values(row))

    # --- merges to the default branch: a deployment per merged pull request -------

    @classmethod
    def needs_of(cls, change: Change) -> list[Need]:
        key = _merge_key(change)
        return [Need(cls.name, change.team, 0, key)] if key else []

    def watch(self, change: Change) -> Watcher | None:
        key = _merge_key(change)
        if key is None or not isinstance(change, PullRequestChange):
            return None

        def after(source: str) -> None:
            pull_request = self.batch.kind(PullRequestRows).row(change.team, change.pull_request)
            _merge_apply(self.row(change.team, key, source=Deployment.Source.MERGE), pull_request)
            self._merges[(change.team.pk, key)] = change.pull_request.github_id

        return after

    def row(self, team: Team, key: str, *, source: str = "") -> Deployment:
        """The team's deployment of that key: locked, or new and not yet inserted."""
        tracked = self._tracked.get((team.pk, key))
        if tracked is None:
            if not source:
                raise LookupError(f"no deployment {key}")
            row = Deployment(team=team, key=key, source=source)
            tracked = self._tracked[(team.pk, key)] = _Tracked(row, True)
        return tracked.row

    def save(self) -> None:
        tracked = [self._tracked[key] for key in sorted(self._tracked)]
        environments: dict[int, set[str]] = {}
        for item in tracked:
            team_id = item.row.team_id
            if team_id not in environments:
                environments[team_id] = team_production_environments(team_id)
            item.row.is_production = is_production(item.row, environments[team_id])
        created = [item for item in tracked if item.created]
        if created:
            _insert([item.row for item in created])
            for item in created:
                item.created, item.loaded = False, tracked_values(item.row)
        self._ship_merges([item.row for item in tracked])
        changed, fields = changed_fields((item.row, item.loaded) for item in tracked)
        update_rows(model=Deployment, rows=changed, fields=fields)
        # A merge ships in its own batch (above), or not at all: no task for it.
        to_ship = [
            item.row.pk
            for item in tracked
            if item.row.is_production
            and item.row.succeeded
            and item.row.finished_at is not None
            and item.row.shipped_at is None
            and item.row.repository_id is not None
            and item.row.source != Source.MERGE
        ]
        for pk in to_ship:
            transaction.on_commit(partial(_ship_send, pk))

    def _ship_merges(self, rows: Sequence[Deployment]) -> None:
        """Ship the batch's merge deployments (stored by now: they have their
        keys) where the repository counts its merges: a merge deploys exactly
        the pull request merged, which the batch holds, so no compare (and no
        task) is needed. The pull request keeps an earlier merge deployment
        that shipped it first; one of another source (which no longer counts)
        is replaced, as `ShipChange` does."""
        pull_requests = self.batch.kind(PullRequestRows)
        pending: list[tuple[Deployment, datetime, PullRequest]] = []
        for row in rows:
            github_id = self._merges.get((row.team_id, row.key))
            # Shipped before or not, it ships its pull request again (as the
            # pull request now stands: a row made again, say), which costs nothing.
            if (
                github_id is None
                or not (row.is_production and row.succeeded)
                or row.finished_at is None
                or row.repository_id is None
                or not self.counts_merges(row)
            ):
                continue
            pull_request = pull_requests.tracked(self._teams_of(row), github_id).row
            pending.append((row, row.finished_at, pull_request))
        current = {pr.deployment_id for _, _, pr in pending if pr.deployment_id is not None}
        sources = dict(
            Deployment.objects.filter(pk__in=current).values_list("pk", "source") if current else []
        )
        now = timezone.now()
        for row, finished, pull_request in pending:
            row.shipped_at = row.shipped_at or now
            other = pull_request.deployment_id
            if (
                pull_request.deployed_at is not None
                and other not in (None, row.pk)
                and sources.get(other) == Source.MERGE
                and (pull_request.deployed_at, other or 0) <= (finished, row.pk)
            ):
                continue  # an earlier merge deployment shipped it first
            pull_request.deployment = row
            pull_request.deployed_at = max(finished, pull_request.merged_at or finished)

    def _teams_of(self, row: Deployment) -> Team:
        return self._teams.get(row.team_id) or row.team

    def counts_merges(self, row: Deployment) -> bool:
        """Whether the row's repository counts its merges as its deployments
        (docs/deployments.md), asked once a batch per repository."""
        key = (row.team_id, row.repository_github_id or 0)
        if key not in self._counts_merges:
            self._counts_merges[key] = _counts_merges(row)
        return self._counts_merges[key]

    def transitions(self) -> list[Transition]:
        """No lifecycle transitions of their own; but this is where a batch has
        saved every kind (deployments are saved before the pull requests that
        point at them), so the repositories' failures, rework and recovery are
        derived here, from the shipped pull requests as they now stand."""
        # The sources each repository's changed deployments belong to. A
        # merge is a deployment of every merged pull request: derived only
        # where merges are what the repository counts, not on every merge.
        families: dict[tuple[int, int], set[str]] = defaultdict(set)
        for item in self._tracked.values():
            row = item.row
            key = (row.team_id, row.repository_github_id or 0)
            if row.source != Source.MERGE or self.counts_merges(row):
                families[key] |= set(FAMILIES[row.source])
        # A revert or a hotfix merged fails the deployment it follows, whatever
        # its source: every source of its repository then.
        for pull_request in self.batch.kind(PullRequestRows).every_tracked():
            merged = pull_request.row
            if merged.merged_at is not None and (merged.is_revert or merged.is_hotfix):
                key = (merged.team_id, merged.repository_github_id or 0)
                if key[0] in self._teams:
                    families[key] |= set(Source.values)
        for (team_id, repository_github_id), sources in sorted(families.items()):
            deployments_assess(
                team=self._teams[team_id],
                repository_github_id=repository_github_id or None,
                sources=sorted(sources),
            )
        return []


def _counts_merges(row: Deployment) -> bool:
    """Whether the repository counts its merges as its deployments (docs/deployments.md)."""
    chosen = RepositoryDeploymentSource.objects.filter(
        team_id=row.team_id, repository_github_id=row.repository_github_id or 0
    ).first()
    if chosen is not None and chosen.choice != RepositoryDeploymentSource.Choice.AUTO:
        return chosen.choice == RepositoryDeploymentSource.Choice.MERGE
    if chosen is not None and chosen.workflow_path:
        return False
    others = Deployment.objects.filter(
        team_id=row.team_id, repository_github_id=row.repository_github_id
    ).exclude(source=Source.MERGE)
    return not others.exists()


def _merge_key(change: object) -> str | None:
    """The merge deployment a pull request change may write: a merge (with its
    merge commit) into the repository's default branch (any branch where the
    payload does not say which is the default)."""
    if not isinstance(change, PullRequestChange):
        return None
    fields = change.pull_request.fields
    if fields.get("state") != PullRequest.State.MERGED or not fields.get("merge_commit_sha"):
        return None
    block = change.repository_block
    default = block.default_branch if block is not None else None
    if default is not None and fields.get("base_branch") not in (None, default):
        return None
    return f"merge:{change.pull_request.github_id}"


def _merge_apply(row: Deployment, pull_request: PullRequest) -> None:
    """The merge's deployment, as the pull request now stands: its merge commit,
    to production, finished at the merge."""
    if pull_request.merged_at is None or not pull_request.merge_commit_sha:
        return
    row.repository = pull_request.repository
    row.repository_github_id = pull_request.repository_github_id
    row.github_id = pull_request.github_id
    row.sha = pull_request.merge_commit_sha
    row.environment, row.production_environment = "production", True
    row.started_at = pull_request.merged_at
    status_apply(row, StatusSnapshot(status=str(Status.SUCCESS), at=pull_request.merged_at))


def _ship_send(deployment_id: int) -> None:
    try:
        task_send(SHIP_TASK, args=[deployment_id])
    except Exception:
        logger.exception("could not queue the shipping of deployment %s", deployment_id)


def _insert(rows: list[Deployment]) -> None:
    # Insert-or-nothing, as for pull requests: a row another worker created
    # first (its creation time differs from ours) means applying again.
    Deployment.objects.bulk_create(rows, ignore_conflicts=True)
    for team_id in sorted({row.team_id for row in rows}):
        ours = {row.key: row for row in rows if row.team_id == team_id}
        stored = (
            Deployment.objects.select_for_update()
            .filter(team_id=team_id, key__in=ours)
            .values_list("key", "pk", "created_at")
        )
        for key, pk, created_at in stored:
            if created_at != ours[key].created_at:
                raise ConcurrentCreation
            ours[key].pk = pk

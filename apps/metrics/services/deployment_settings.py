"""A team's deployment settings, changed here: which environments are
production, the window in which a revert or hotfix fails a deployment, and
each repository's deployment source. Every value is read with distrust
(`BadSetting` says why); a change re-derives what depends on it on the stored
deployments (which are production; failures, rework and recovery), so the
figures follow at once."""

from __future__ import annotations

import re

from django.db import transaction

from apps.common.bulk import update_rows
from apps.metrics.models import (
    DEFAULT_PRODUCTION_ENVIRONMENTS,
    Deployment,
    DeploymentSettings,
    RepositoryDeploymentSource,
)
from apps.metrics.services.deployments import deployments_assess, is_production
from apps.teams.models import Team

MAX_ENVIRONMENTS = 20
MAX_WINDOW_DAYS = 90
_ENVIRONMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/ -]{0,99}", re.ASCII)
_DAYS = re.compile(r"[0-9]{1,3}", re.ASCII)
# A workflow file of the repository, as GitHub names it in workflow_run.path.
WORKFLOW_PATH = re.compile(r"\.github/workflows/[A-Za-z0-9_.-]{1,200}\.ya?ml", re.ASCII)


class BadSetting(ValueError):
    """A value that cannot be saved; str(error) says why."""


def deployment_settings_read(
    *, environments: str, failure_window_days: str
) -> tuple[list[str], int]:
    """The environments (comma-separated, lower case, each once) and the window."""
    if "\x00" in environments or "\x00" in failure_window_days:
        raise BadSetting("A setting contains a NUL byte.")
    names: list[str] = []
    for part in environments.split(","):
        name = part.strip().lower()
        if not name:
            continue
        if not _ENVIRONMENT.fullmatch(name):
            raise BadSetting(
                f"'{name[:40]}' is not an environment name (letters, digits, _ . : / - "
                "and spaces, at most 100 characters)."
            )
        if name not in names:
            names.append(name)
    if not names:
        raise BadSetting("Name at least one production environment.")
    if len(names) > MAX_ENVIRONMENTS:
        raise BadSetting(f"At most {MAX_ENVIRONMENTS} production environments.")
    days = failure_window_days.strip()
    if not _DAYS.fullmatch(days) or not 1 <= int(days) <= MAX_WINDOW_DAYS:
        raise BadSetting(
            f"The failure window is a whole number of days from 1 to {MAX_WINDOW_DAYS}."
        )
    return names, int(days)


def team_deployment_settings(*, team: Team) -> DeploymentSettings:
    """The team's settings (the defaults, unsaved, when it never changed them)."""
    return DeploymentSettings.objects.filter(team=team).first() or DeploymentSettings(
        team=team, production_environments=list(DEFAULT_PRODUCTION_ENVIRONMENTS)
    )


@transaction.atomic
def deployment_settings_update(
    *, team: Team, environments: list[str], failure_window_days: int
) -> DeploymentSettings:
    settings, _ = DeploymentSettings.objects.select_for_update().get_or_create(team=team)
    settings.production_environments = environments
    settings.failure_window_days = failure_window_days
    settings.save()
    _rederive(team)
    return settings


def _rederive(team: Team) -> None:
    """Which deployments are production, then failures and recovery, again."""
    wanted = set(team_deployment_settings(team=team).production_environments)
    rows = list(Deployment.objects.select_for_update().filter(team=team).order_by("pk"))
    changed = []
    for row in rows:
        production = is_production(row, wanted)
        if production != row.is_production:
            row.is_production = production
            changed.append(row)
    update_rows(model=Deployment, rows=changed, fields={"is_production"})
    for repository_github_id in sorted({row.repository_github_id or 0 for row in rows}):
        deployments_assess(team=team, repository_github_id=repository_github_id or None)


def repository_deployment_source_set(
    *, team: Team, repository_github_id: int, choice: str, workflow_path: str
) -> RepositoryDeploymentSource:
    """Set where a repository's deployments come from (automatic by default).
    A workflow needs its file; the file may be named for the automatic choice too."""
    if choice not in RepositoryDeploymentSource.Choice.values:
        raise BadSetting(f"Unknown deployment source '{choice[:40]}'.")
    path = workflow_path.strip()
    if "\x00" in path:
        raise BadSetting("The workflow file contains a NUL byte.")
    if path and not WORKFLOW_PATH.fullmatch(path):
        raise BadSetting("The workflow file is a path such as .github/workflows/deploy.yml.")
    if choice == RepositoryDeploymentSource.Choice.WORKFLOW and not path:
        raise BadSetting("Name the workflow file whose runs are deployments.")
    row, _ = RepositoryDeploymentSource.objects.update_or_create(
        team=team,
        repository_github_id=repository_github_id,
        defaults={"choice": choice, "workflow_path": path},
    )
    return row

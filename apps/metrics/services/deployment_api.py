"""Deployments recorded through the API (`POST /api/teams/<slug>/deployments/`),
from any CI: the body read with distrust (`api_deployment_read`: every bad
field a `BadDeployment` saying why), then a deployment_status-shaped event
applied through the one entry (`events_apply`, source "api"), so an API
deployment is stored, ordered and assessed like GitHub's own.

Body (JSON object): ``repository`` ("owner/name", one of the team's),
``sha`` (40 hexadecimal digits), ``environment``, ``status`` (success,
failure, error, in_progress, pending, queued), ``started_at``,
``finished_at`` (ISO 8601 with a zone; finished_at required once it
finished), ``idempotency_key`` (1 to 200 printable characters: the same key
again is the same deployment, its status moving forward)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from apps.common.json_input import json_read
from apps.metrics.models import Deployment
from apps.metrics.repositories import repository_directory
from apps.metrics.services.deployments import MAX_ENVIRONMENT, MAX_KEY
from apps.metrics.services.payloads import read_sha
from apps.metrics.services.processors import MetricsEvent, Source, events_apply
from apps.teams.models import Team
from github_app.values import TimestampError, parse_timestamp

MAX_BODY = 16 * 1024
KEYS = (
    "repository",
    "sha",
    "environment",
    "status",
    "started_at",
    "finished_at",
    "idempotency_key",
)
STATUSES = ("success", "failure", "error", "in_progress", "pending", "queued")
FINISHED = frozenset({"success", "failure", "error"})
# A CI's clock may run a little ahead of ours; a time further ahead is a mistake.
CLOCK_SKEW = timedelta(hours=1)
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}", re.ASCII)
_PRINTABLE = re.compile(rf"[\x21-\x7e]{{1,{MAX_KEY}}}", re.ASCII)


class BadDeployment(ValueError):
    """A body that cannot be recorded; str(error) says why (the API answers 400)."""


class KeyReused(ValueError):
    """The idempotency key names a deployment of another commit (the API answers 409)."""


@dataclass(frozen=True)
class ApiDeployment:
    repository: str
    sha: str
    environment: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    idempotency_key: str


def api_deployment_read(*, body: bytes, now: datetime) -> ApiDeployment:
    """The deployment the body describes; BadDeployment says what is wrong."""
    if len(body) > MAX_BODY:
        raise BadDeployment(f"The body is too large (at most {MAX_BODY} bytes).")
    try:
        data = json_read(body)
    except ValueError:
        raise BadDeployment("The body is not JSON.") from None
    if not isinstance(data, dict):
        raise BadDeployment("The body must be a JSON object.")
    if unknown := sorted(set(data) - set(KEYS)):
        raise BadDeployment(f"Unknown key(s): {', '.join(map(str, unknown))[:200]}.")
    repository = _string(data, "repository", limit=201)
    if not _REPOSITORY.fullmatch(repository):
        raise BadDeployment("'repository' must be written owner/name.")
    sha = read_sha(data.get("sha"))
    if sha is None:
        raise BadDeployment("'sha' must be a full commit sha: 40 hexadecimal digits.")
    environment = _string(data, "environment", limit=MAX_ENVIRONMENT)
    status = _string(data, "status", limit=20)
    if status not in STATUSES:
        raise BadDeployment(f"'status' must be one of {', '.join(STATUSES)}.")
    key = _string(data, "idempotency_key", limit=MAX_KEY)
    if not _PRINTABLE.fullmatch(key):
        raise BadDeployment(
            f"'idempotency_key' must be 1 to {MAX_KEY} printable ASCII characters, no spaces."
        )
    started_at = _time(data, "started_at", now=now)
    finished_at = _time(data, "finished_at", now=now)
    if status in FINISHED and finished_at is None:
        raise BadDeployment(f"'finished_at' is required for a deployment whose status is {status}.")
    if status not in FINISHED and finished_at is not None:
        raise BadDeployment(f"'finished_at' is only for a finished deployment, not {status}.")
    if status not in FINISHED and started_at is None:
        raise BadDeployment("'started_at' is required for a deployment not finished yet.")
    if started_at and finished_at and finished_at < started_at:
        raise BadDeployment("'finished_at' is before 'started_at'.")
    return ApiDeployment(
        repository=repository,
        sha=sha,
        environment=environment,
        status=status,
        started_at=started_at,
        finished_at=finished_at,
        idempotency_key=key,
    )


def _string(data: Mapping[str, Any], key: str, *, limit: int) -> str:
    value = data.get(key)
    if value is None:
        raise BadDeployment(f"'{key}' is missing.")
    if not isinstance(value, str):
        raise BadDeployment(f"'{key}' must be a string.")
    if "\x00" in value:
        raise BadDeployment(f"'{key}' contains a NUL byte.")
    value = value.strip()
    if not value:
        raise BadDeployment(f"'{key}' is empty.")
    if len(value) > limit:
        raise BadDeployment(f"'{key}' is too long (at most {limit} characters).")
    return value


def _time(data: Mapping[str, Any], key: str, *, now: datetime) -> datetime | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadDeployment(f"'{key}' must be an ISO 8601 time with its zone, as text.")
    try:
        moment = parse_timestamp(value)
    except TimestampError as error:
        raise BadDeployment(f"'{key}' is not a time: {error}.") from None
    if moment > now + CLOCK_SKEW:
        raise BadDeployment(f"'{key}' is in the future.")
    return moment


def api_deployment_record(*, team: Team, deployment: ApiDeployment) -> tuple[Deployment, bool]:
    """Record the deployment through the one entry: the row, and whether it is
    new. BadDeployment for a repository the team does not have; KeyReused for a
    key already used for another repository or commit."""
    repository = repository_directory().tracked_named(team=team, full_name=deployment.repository)
    if repository is None:
        raise BadDeployment(
            f"Unknown repository '{deployment.repository}' for this team (or not tracked)."
        )
    key = f"api:{deployment.idempotency_key}"
    existing = Deployment.objects.filter(team=team, key=key).first()
    if existing is not None and (
        existing.sha != deployment.sha
        or existing.repository_github_id != getattr(repository, "github_id", None)
        or existing.environment != deployment.environment
    ):
        raise KeyReused(
            "This idempotency_key was used for a deployment of another repository, "
            "environment or commit."
        )
    payload = _deployment_status_shaped(deployment)
    event = MetricsEvent(
        team=team,
        repository=repository,
        name="deployment_status",
        payload=payload,
        source=Source.API,
    )
    (result,) = events_apply(events=[event])
    if not result.ok or not isinstance(result.row, Deployment):
        raise BadDeployment(result.error or "The deployment could not be recorded.")
    return result.row, existing is None


def _deployment_status_shaped(deployment: ApiDeployment) -> dict[str, Any]:
    """The deployment_status-shaped event of a deployment from the API: its
    deployment block keyed by the caller's idempotency key (GitHub's own carry
    an id instead), read by the deployment kind's deployment_status reader."""
    started = deployment.started_at.isoformat() if deployment.started_at else None
    finished = deployment.finished_at.isoformat() if deployment.finished_at else None
    return {
        "action": "created",
        "deployment": {
            "idempotency_key": deployment.idempotency_key,
            "sha": deployment.sha,
            "environment": deployment.environment,
            "created_at": started,
        },
        "deployment_status": {"state": deployment.status, "updated_at": finished or started},
    }

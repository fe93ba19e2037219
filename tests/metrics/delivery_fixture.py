"""A repository's few weeks of deliveries, through the one entry: merged pull
requests, GitHub deployments (one failed, one rolled back), a revert and a
hotfix, and what each deployment shipped (as GitHub's compare would say)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from apps.integrations.models import Repository
from apps.metrics.models import Deployment
from apps.metrics.services.processors import MetricsEvent, Source, events_apply
from apps.metrics.services.shipping import deployment_ship
from apps.teams.models import Team
from github_app.webhook_payloads import deployment_status_payload, iso, pull_request_payload


def sha(number: int) -> str:
    return hashlib.sha1(f"commit {number}".encode()).hexdigest()  # noqa: S324 (an id, no secret)


def delivery_history(*, team: Team, repository: Repository, start: datetime) -> None:
    """Twelve pull requests and eight deployments from ``start``, a day apart."""

    def apply(name: str, payload: dict) -> None:
        event = MetricsEvent(
            team=team, repository=repository, name=name, payload=payload, source=Source.HISTORY
        )
        (result,) = events_apply(events=[event])
        assert result.ok, result.error

    def merged(number: int, day: float, **fields: object) -> None:
        at = start + timedelta(days=day)
        apply(
            "pull_request",
            pull_request_payload(
                "closed",
                pr_id=1000 + number,
                number=number,
                state="closed",
                merged=True,
                created_at=iso(at - timedelta(hours=20 + number)),
                merged_at=iso(at),
                closed_at=iso(at),
                merge_commit_sha=sha(number),
                repository_id=repository.github_id,
                repository_full_name=repository.full_name,
                **fields,
            ),
        )

    def deploy(deployment_id: int, commit: int, day: float, state: str = "success") -> None:
        at = start + timedelta(days=day)
        apply(
            "deployment_status",
            deployment_status_payload(
                state=state,
                status_id=deployment_id,
                status_at=iso(at),
                deployment_id=deployment_id,
                sha=sha(commit),
                created_at=iso(at - timedelta(minutes=12)),
                repository_id=repository.github_id,
                repository_full_name=repository.full_name,
            ),
        )

    def ship(deployment_id: int, numbers: list[int], previous: int | None) -> None:
        row = Deployment.objects.get(team=team, key=f"github:{deployment_id}")
        before = Deployment.objects.get(team=team, key=f"github:{previous}") if previous else None
        deployment_ship(
            deployment_id=row.pk,
            previous_id=before.pk if before else None,
            shas=[sha(n) for n in numbers],
        )

    merged(1, 0.5)
    merged(2, 1.2)
    deploy(1, 2, 1.5)
    ship(1, [1, 2], None)
    merged(3, 2.3)
    deploy(2, 3, 3.0, state="failure")
    deploy(3, 3, 3.2)
    ship(3, [3], 1)
    merged(4, 4.1)
    merged(5, 4.4)
    deploy(4, 5, 5.0)
    ship(4, [4, 5], 3)
    # Back to 3: the deployment of 5 is rolled back.
    deploy(5, 3, 5.4)
    merged(6, 6.0, title='Revert "Fix the login"', body="Reverts acme/api#4")
    merged(7, 6.5, head_ref="hotfix/session")
    deploy(6, 7, 7.0)
    ship(6, [4, 5, 6, 7], 5)
    merged(8, 9.0)
    deploy(7, 8, 9.5)
    ship(7, [8], 6)

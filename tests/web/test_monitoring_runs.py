"""/metrics reports the history runs and the latest reconcile run too."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.integrations.models import HistoryRun, ReconcileRun
from tests.integrations.conftest import installation_for, repository_for

pytestmark = pytest.mark.django_db
TOKEN = "operator-token-123"


def _metrics(client, settings) -> list[str]:
    settings.METRICS_TOKEN = TOKEN
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    return response.content.decode().splitlines()


def test_it_reports_history_runs_and_repositories_whose_latest_run_failed(client, settings, team):
    installation = installation_for(team=team, installation_id=5, login="acme")
    api = repository_for(installation=installation, github_id=1, full_name="acme/api")
    web = repository_for(installation=installation, github_id=2, full_name="acme/web")
    HistoryRun.objects.create(repository=api, status="failed", error="boom")
    HistoryRun.objects.create(repository=web, status="failed", error="boom")
    HistoryRun.objects.create(repository=web, status="done")  # retried, and done

    lines = _metrics(client, settings)

    assert 'tformance_history_runs{status="failed"} 2.0' in lines
    assert 'tformance_history_runs{status="done"} 1.0' in lines
    assert 'tformance_history_runs{status="queued"} 0.0' in lines
    assert "tformance_history_failed_repositories 1.0" in lines


def test_it_reports_the_latest_reconcile_run(client, settings):
    assert not [line for line in _metrics(client, settings) if "reconcile" in line]
    now = timezone.now()
    ReconcileRun.objects.create(trigger="schedule", started_at=now - timedelta(hours=2))
    ReconcileRun.objects.create(
        trigger="schedule",
        started_at=now - timedelta(minutes=4),
        finished_at=now,
        recovered=3,
        error="GitHub answered 502",
    )

    lines = _metrics(client, settings)

    (age,) = [line for line in lines if line.startswith("tformance_reconcile_last_run_age_seconds")]
    assert 239 <= float(age.split()[1]) < 300
    assert "tformance_reconcile_last_run_failed 1.0" in lines
    assert "tformance_reconcile_last_run_recovered 3.0" in lines

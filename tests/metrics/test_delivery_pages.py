"""The dashboard's delivery section, the deployments page and its CSV, for a
member, on a repository's deliveries (tests/metrics/delivery_fixture.py)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from apps.metrics.models import Deployment
from tests.metrics.delivery_fixture import delivery_history, sha

pytestmark = pytest.mark.django_db

START = datetime(2025, 1, 6, tzinfo=UTC)
PERIOD = "from=2025-01-06&to=2025-01-19"


@pytest.fixture
def history(team, repository):
    delivery_history(team=team, repository=repository, start=START)


def test_the_history_fails_rolls_back_and_is_reverted_and_hotfixed(history):
    by_id = {row.github_id: row for row in Deployment.objects.all()}
    assert (by_id[2].failure_reason, by_id[4].failure_reason) == ("status", "rolled_back")
    assert by_id[5].is_rework and by_id[6].is_rework  # a rollback; a revert and a hotfix
    # Hotfix #7 was merged after the rollback and before the next deployment.
    assert by_id[5].failure_reason == "hotfixed"
    assert not by_id[3].failed and not by_id[7].failed


def test_the_dashboard_shows_the_five_keys_with_their_change(client, member, history):
    client.force_login(member)
    page = client.get(f"/teams/acme/?{PERIOD}").content.decode()
    assert 'data-role="delivery"' in page
    for key in ("deployment_frequency", "lead_time", "change_failure_rate", "recovery_time"):
        assert f'data-figure="{key}"' in page
    assert "Rolled back to" in page
    assert "DORA&#x27;s performance levels" in page or "DORA's performance levels" in page


def test_the_dashboard_explains_how_to_get_deployments_when_there_are_none(
    client, member, repository
):
    client.force_login(member)
    page = client.get(f"/teams/acme/?{PERIOD}").content.decode()
    assert 'data-role="delivery-empty"' in page
    assert "/teams/acme/deployments/settings/" in page


def test_the_deployments_page_lists_each_with_what_it_shipped_and_why_it_failed(
    client, member, history
):
    client.force_login(member)
    response = client.get(f"/teams/acme/deployments/?{PERIOD}")
    assert response.status_code == 200
    page = response.content.decode()
    # #4 and #5 were in the deployment rolled back: that one shipped them first.
    assert "#4, #5" in page and "#6, #7" in page
    assert "Its status was failure." in page


def test_the_csv_has_every_deployment(client, member, history):
    client.force_login(member)
    response = client.get(f"/teams/acme/deployments.csv?{PERIOD}")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    # Every GitHub deployment (the repository's source; its merges do not count).
    assert len(rows) == Deployment.objects.filter(source="github").count() == 7
    shipped = {row["sha"]: row["pull_requests"] for row in rows}
    assert (shipped[sha(5)], shipped[sha(7)]) == ("#4 #5", "#6 #7")
    assert {row["failure_reason"] for row in rows} >= {"status", "rolled_back", "hotfixed"}


def test_a_bad_period_is_a_400(client, member):
    client.force_login(member)
    assert client.get("/teams/acme/deployments/?from=2025-02-01&to=2025-01-01").status_code == 400
    assert client.get("/teams/acme/deployments.csv?days=٣").status_code == 400


def test_an_outsider_sees_nothing(client, outsider, history):
    client.force_login(outsider)
    assert client.get("/teams/acme/deployments/").status_code == 404
    assert client.get("/teams/acme/deployments.csv").status_code == 404

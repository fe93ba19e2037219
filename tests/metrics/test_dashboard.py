"""The dashboard page, its drill-down list and CSV, and the token pages."""

from __future__ import annotations

import csv
import io

import pytest

from apps.metrics.models import APIToken
from tests.metrics.figures_fixture import january_history

JANUARY = "from=2025-01-01&to=2025-01-31"


@pytest.fixture
def history(team):
    return january_history(team)


def test_it_shows_the_dashboard_to_a_member(client, member, history):
    client.force_login(member)
    response = client.get(f"/teams/acme/?{JANUARY}")
    assert response.status_code == 200
    content = response.content.decode()
    assert 'data-figure="merged">4<' in content
    assert 'data-figure="cycle_median">25.0 h<' in content
    assert 'id="dashboard-data"' in content
    assert "/static/vendor/chart.umd.min.js" in content
    assert (
        'href="/teams/acme/pull-requests/?from=2025-01-01&amp;to=2025-01-31&amp;figure=merged"'
        in content
    )


def test_it_shows_the_dashboard_to_the_owner_with_the_subnav(client, owner):
    client.force_login(owner)
    content = client.get("/teams/acme/").content.decode()
    assert 'href="/teams/acme/"' in content
    assert 'href="/teams/acme/members/"' in content
    assert 'href="/teams/acme/api-tokens/"' in content


def test_it_hides_the_dashboard_from_an_outsider(client, team, outsider):
    client.force_login(outsider)
    assert client.get("/teams/acme/").status_code == 404
    assert client.get("/teams/acme/pull-requests/").status_code == 404
    assert client.get("/teams/acme/pull-requests.csv").status_code == 404


def test_it_sends_anonymous_users_to_login(client, team):
    assert client.get("/teams/acme/").status_code == 302


def test_it_shows_an_empty_period_plainly(client, member):
    client.force_login(member)
    response = client.get("/teams/acme/")
    assert response.status_code == 200
    assert b"No pull requests were merged in this period." in response.content
    assert b"No open pull request is waiting" in response.content


def test_it_explains_a_bad_period_with_400(client, member):
    client.force_login(member)
    response = client.get("/teams/acme/?from=2025-02-01&to=2025-01-01")
    assert response.status_code == 400
    assert b"&#x27;from&#x27; is after &#x27;to&#x27;." in response.content


def test_it_lists_the_pull_requests_behind_a_figure(client, member, history):
    client.force_login(member)
    response = client.get(f"/teams/acme/pull-requests/?{JANUARY}&figure=merged")
    assert response.status_code == 200
    content = response.content.decode()
    assert content.count("<tr data-number=") == 4
    assert "4 pull requests" in content
    assert "carol" in content


@pytest.mark.parametrize(
    ("figure", "value", "count"),
    [
        ("opened", "", 6),
        ("closed_unmerged", "", 1),
        ("open_now", "", 1),
        ("first_review", "", 3),
        ("reverts", "", 1),
        ("hotfixes", "", 1),
        ("waiting", "", 1),
        ("bots", "", 1),
        ("size", "over_500", 1),
        ("week", "2025-01-06", 2),
        ("reviewer", "carol", 2),
    ],
)
def test_every_figure_has_its_list(client, member, history, figure, value, count):
    client.force_login(member)
    response = client.get(f"/teams/acme/pull-requests/?{JANUARY}&figure={figure}&value={value}")
    assert response.status_code == 200
    assert response.content.decode().count("<tr data-number=") == count


@pytest.mark.parametrize(
    "query",
    [
        "figure=nope",
        "figure=size&value=huge",
        "figure=week&value=2025-01-07",
        # Mondays whose week ends past the last date Python has, or starts before 1970.
        "figure=week&value=9999-12-27",
        "figure=week&value=0001-01-01",
    ],
)
def test_it_refuses_an_unknown_figure(client, member, query):
    client.force_login(member)
    assert client.get(f"/teams/acme/pull-requests/?{query}").status_code == 400
    assert client.get(f"/teams/acme/pull-requests.csv?{query}").status_code == 400


def test_it_pages_the_list(client, member, team, history):
    from tests.metrics.figures_fixture import at, pull_request

    for _ in range(60):
        pull_request(team, history["repository"], pr_created_at=at("2025-01-15T00:00"))
    client.force_login(member)
    first = client.get(f"/teams/acme/pull-requests/?{JANUARY}&figure=opened").content.decode()
    second = client.get(f"/teams/acme/pull-requests/?{JANUARY}&figure=opened&page=2").content
    assert first.count("<tr data-number=") == 50
    assert second.decode().count("<tr data-number=") == 16


def test_it_exports_the_list_as_csv(client, member, history):
    client.force_login(member)
    response = client.get(f"/teams/acme/pull-requests.csv?{JANUARY}&figure=merged")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 4
    by_hours = sorted(rows, key=lambda row: float(row["cycle_time_hours"]))
    assert [row["cycle_time_hours"] for row in by_hours] == ["6.0", "24.0", "26.0", "28.0"]
    first = by_hours[-1]
    assert (
        first["coding_hours"],
        first["pickup_hours"],
        first["review_hours"],
        first["merge_hours"],
    ) == (
        "0.0",
        "2.0",
        "22.0",
        "4.0",
    )
    assert rows[0]["title"].startswith("'") or not rows[0]["title"].startswith("=")


def test_it_quotes_formulas_in_csv(client, member, team, history):
    from tests.metrics.figures_fixture import at, pull_request

    pull_request(
        team, history["repository"], pr_created_at=at("2025-01-15T00:00"), title="=HYPERLINK(1)"
    )
    client.force_login(member)
    response = client.get(f"/teams/acme/pull-requests.csv?{JANUARY}&figure=opened")
    assert b"'=HYPERLINK(1)" in b"".join(response.streaming_content)


def test_it_lets_an_admin_create_a_token_shown_once(client, owner):
    client.force_login(owner)
    response = client.post("/teams/acme/api-tokens/", {"name": "grafana", "scopes": ["read"]})
    assert response.status_code == 200
    token = response.context["new_token"]
    assert token.startswith("tfm_") and token.encode() in response.content
    again = client.get("/teams/acme/api-tokens/")
    assert token.encode() not in again.content
    assert b"grafana" in again.content
    api = client.get("/api/teams/acme/metrics/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.status_code == 200


def test_it_lets_an_admin_revoke_a_token(client, owner):
    client.force_login(owner)
    token = client.post("/teams/acme/api-tokens/", {"name": "ci", "scopes": ["read"]}).context[
        "new_token"
    ]
    row = APIToken.objects.get()
    response = client.post(f"/teams/acme/api-tokens/{row.pk}/revoke/")
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.revoked_at is not None
    client.logout()
    api = client.get("/api/teams/acme/metrics/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.status_code == 401


def test_it_shows_members_the_styled_403_for_tokens(client, member):
    client.force_login(member)
    response = client.get("/teams/acme/api-tokens/")
    assert response.status_code == 403
    assert b"Only team admins can create or revoke API tokens." in response.content
    assert client.post("/teams/acme/api-tokens/", {"name": "x"}).status_code == 403
    assert not APIToken.objects.exists()


def test_it_hides_tokens_from_outsiders(client, team, outsider, owner):
    client.force_login(owner)
    client.post("/teams/acme/api-tokens/", {"name": "ci", "scopes": ["read"]})
    row = APIToken.objects.get()
    client.force_login(outsider)
    assert client.get("/teams/acme/api-tokens/").status_code == 404
    assert client.post(f"/teams/acme/api-tokens/{row.pk}/revoke/").status_code == 404
    row.refresh_from_db()
    assert row.revoked_at is None

"""GET /api/teams/<slug>/metrics/: who may read it, and bad parameters."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.metrics.models import APIToken
from apps.metrics.services.api_tokens import api_token_create, api_token_revoke
from tests.metrics.figures_fixture import january_history

URL = "/api/teams/acme/metrics/"


@pytest.fixture
def token(team, owner):
    _row, token = api_token_create(team=team, name="ci", created_by=owner)
    return token


def test_it_answers_a_member(client, member):
    client.force_login(member)
    response = client.get(URL)
    assert response.status_code == 200
    assert response.json()["period"]["days"] == 30


def test_it_answers_a_token_without_session_or_csrf(team, token):
    january_history(team)
    client = Client(enforce_csrf_checks=True)
    response = client.get(
        URL + "?from=2025-01-01&to=2025-01-31", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 200
    assert response.json()["pull_requests"]["merged"] == 4
    assert "sessionid" not in response.cookies
    assert APIToken.objects.get().last_used_at is not None


def test_it_stores_only_the_tokens_hash(team, token):
    row = APIToken.objects.get()
    assert token not in (row.token_hash, row.prefix, row.name)
    assert len(row.token_hash) == 64


def test_it_refuses_a_revoked_token(client, team, token):
    api_token_revoke(team=team, token_id=APIToken.objects.get().pk)
    response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]


@pytest.mark.parametrize(
    "header",
    ["Bearer nope", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer " + "x" * 5000, "Bearer t\u00e9st"],
)
def test_it_refuses_a_bad_token(client, team, header):
    response = client.get(URL, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "error" in response.json()


def test_it_refuses_anonymous_requests_with_json(client, team):
    response = client.get(URL)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"


def test_it_hides_the_team_from_an_outsider(client, team, outsider):
    client.force_login(outsider)
    response = client.get(URL)
    assert response.status_code == 404
    assert response.json() == {"error": "No such team."}


def test_it_hides_another_team_from_a_token(client, team, token, outsider):
    response = client.get("/api/teams/other/metrics/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 404


def test_it_gives_404_for_an_unknown_team(client, member):
    client.force_login(member)
    assert client.get("/api/teams/nope/metrics/").status_code == 404


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("from=2025-02-01&to=2025-01-01", "after"),
        ("from=2025-01-01", "both"),
        ("from=yesterday&to=2025-01-01", "YYYY-MM-DD"),
        ("from=2025-02-30&to=2025-03-01", "real date"),
        ("from=0001-01-01&to=2025-03-01", "between"),
        ("from=2000-01-01&to=2025-03-01", "at most"),
        ("days=0", "days"),
        ("days=366", "days"),
        ("days=-5", "days"),
        ("days=abc", "days"),
        ("days=%D9%A3%D9%A0", "days"),  # Arabic-Indic digits for 30
        ("days=30&from=2025-01-01&to=2025-01-02", "not both"),
        ("days=3%000", "NUL"),
        ("days=7&days=30", "more than once"),
        ("repository=acme/nope", "Unknown repository"),
        ("repository=not-a-name", "owner/name"),
        ("repository=" + "a" * 10_000, "too long"),
    ],
)
def test_it_refuses_bad_parameters_with_the_reason(client, member, query, reason):
    client.force_login(member)
    response = client.get(f"{URL}?{query}")
    assert response.status_code == 400
    assert reason in response.json()["error"]


def test_it_accepts_a_known_repository(client, member, team):
    january_history(team)
    client.force_login(member)
    response = client.get(URL + "?days=90&repository=acme/web")
    assert response.status_code == 200


def test_it_refuses_other_methods(client, member):
    client.force_login(member)
    assert client.post(URL).status_code in (403, 405)

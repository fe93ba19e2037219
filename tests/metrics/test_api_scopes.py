"""API tokens carry scopes: what each allows, how they are chosen, and what a
session may do in their place (apps/metrics/api.py: `api_team`)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from apps.metrics.api import api_team
from apps.metrics.models import APIToken
from apps.metrics.services.api_tokens import BadScopes, api_token_create

URL = "/api/teams/acme/metrics/"
Scope = APIToken.Scope


def _token(team, owner, *scopes: str) -> str:
    _row, token = api_token_create(team=team, name="ci", created_by=owner, scopes=scopes)
    return token


def test_it_creates_a_token_with_the_scopes_chosen(client, owner):
    client.force_login(owner)
    response = client.post(
        "/teams/acme/api-tokens/", {"name": "deploys", "scopes": ["deployments:write", "read"]}
    )
    assert response.status_code == 200
    assert response.context["new_token"]
    # Stored in their declared order, shown on the page by their labels.
    assert APIToken.objects.get().scopes == ["read", "deployments:write"]
    assert b"Read metrics, Record deployments" in client.get("/teams/acme/api-tokens/").content


@pytest.mark.parametrize(
    ("scopes", "reason"),
    [([], b"Choose at least one scope."), (["read", "root"], b"Unknown scope &#x27;root&#x27;")],
)
def test_it_refuses_a_token_with_no_scope_or_an_unknown_one(client, owner, scopes, reason):
    client.force_login(owner)
    response = client.post("/teams/acme/api-tokens/", {"name": "x", "scopes": scopes})
    assert response.status_code == 200
    assert response.context["new_token"] is None
    assert reason in response.content
    assert not APIToken.objects.exists()


def test_it_offers_every_scope_with_read_checked(client, owner):
    client.force_login(owner)
    page = client.get("/teams/acme/api-tokens/").content.decode()
    for scope in Scope.values:
        assert f'value="{scope}"' in page
    assert 'value="read" checked' in page


def test_it_lets_a_read_token_read(client, team, owner):
    token = _token(team, owner, Scope.READ)
    assert client.get(URL, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200


def test_it_lets_an_admin_token_read(client, team, owner):
    token = _token(team, owner, Scope.ADMIN)
    assert client.get(URL, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200


def test_it_refuses_reading_with_a_deployments_only_token(client, team, owner):
    token = _token(team, owner, Scope.DEPLOYMENTS_WRITE)
    response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 403
    assert "lacks the 'read' scope" in response.json()["error"]
    assert APIToken.objects.get().last_used_at is None


def test_it_refuses_a_token_missing_the_scope_a_call_needs(team, owner):
    token = _token(team, owner, Scope.READ, Scope.DEPLOYMENTS_WRITE)
    request = RequestFactory().put("/", HTTP_AUTHORIZATION=f"Bearer {token}")
    refused = api_team(request, "acme", scope=Scope.ADMIN)
    assert refused.status_code == 403
    assert "lacks the 'admin' scope" in refused.content.decode()
    allowed = api_team(request, "acme", scope=Scope.DEPLOYMENTS_WRITE)
    assert allowed == team


def test_it_lets_a_sessions_admin_do_everything_and_a_member_only_read(team, owner, member):
    factory = RequestFactory()
    for user, admin_answer in ((owner, team), (member, None)):
        request = factory.put("/")
        request.user = user
        assert api_team(request, "acme", scope=Scope.READ) == team
        answer = api_team(request, "acme", scope=Scope.ADMIN)
        if admin_answer is None:
            assert answer.status_code == 403
        else:
            assert answer == admin_answer


def test_it_hides_the_team_from_an_outsider_whatever_the_scope(team, outsider):
    request = RequestFactory().get("/")
    request.user = outsider
    assert api_team(request, "acme", scope=Scope.ADMIN).status_code == 404
    request.user = AnonymousUser()
    assert api_team(request, "acme").status_code == 401


def test_the_service_refuses_unknown_scopes(team, owner):
    with pytest.raises(BadScopes):
        api_token_create(team=team, name="x", created_by=owner, scopes=["write"])

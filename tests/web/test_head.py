"""HEAD is answered wherever GET is (uptime checks and link checkers send it),
with GET's status and headers and no body, and it changes nothing."""

from __future__ import annotations

import pytest

from apps.metrics.models import Squad

ANONYMOUS_PAGES = ["/", "/healthz", "/signup/", "/login/"]
TEAM_PAGES = [
    "/",
    "/teams/new/",
    "/teams/acme/",
    "/teams/acme/pull-requests/?figure=merged",
    "/teams/acme/members/",
    "/teams/acme/squads/",
    "/teams/acme/settings/",
    "/teams/acme/me/",
    "/teams/acme/ai-rules/",
    "/teams/acme/deployments/",
    "/teams/acme/github/",
    "/teams/acme/slack/",
    "/docs/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ANONYMOUS_PAGES)
def test_it_answers_head_like_get_to_anyone(client, path):
    got = client.get(path)

    response = client.head(path)

    assert response.status_code == got.status_code == 200
    assert response["Content-Type"] == got["Content-Type"]
    assert response.content == b""


@pytest.mark.parametrize("path", TEAM_PAGES)
def test_it_answers_head_like_get_to_an_owner(client, owner, path):
    client.force_login(owner)
    got = client.get(path)

    response = client.head(path)

    assert response.status_code == got.status_code == 200
    assert response.content == b""


def test_a_head_of_the_squads_page_adds_no_squad(client, owner):
    client.force_login(owner)

    response = client.head("/teams/acme/squads/", {"name": "core"})

    assert response.status_code == 200
    assert not Squad.objects.exists()

"""The documentation served from docs/*.md, for pages to link to."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_it_serves_a_document_to_a_logged_in_user(client, member):
    client.force_login(member)
    response = client.get("/docs/github-app/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "<h1>The GitHub App</h1>" in page
    assert "<title>The GitHub App · tformance</title>" in page
    assert "<code>POST /webhooks/github/</code>" in page  # markdown, rendered
    # A doc naming another becomes a link to it.
    assert '<a href="/docs/development/"><code>docs/development.md</code></a>' in page


def test_it_lists_every_document(client, member):
    client.force_login(member)
    page = client.get("/docs/").content.decode()
    for name in ("github-app", "deploy", "demo", "metrics", "development"):
        assert f'href="/docs/{name}/"' in page


@pytest.mark.parametrize("name", ["nope", "README", "..", "%2e%2e", "deploy.md", "a" * 60])
def test_it_answers_404_for_anything_but_a_document(client, member, name):
    client.force_login(member)
    assert client.get(f"/docs/{name}/").status_code == 404


def test_it_asks_an_anonymous_visitor_to_log_in(client):
    response = client.get("/docs/github-app/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")

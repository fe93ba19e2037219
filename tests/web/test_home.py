import pytest


@pytest.mark.django_db
def test_it_shows_the_landing_page_to_visitors(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Get started" in response.content


def test_it_lists_only_the_users_teams(client, owner, outsider):
    client.force_login(owner)
    response = client.get("/")
    assert b"Acme" in response.content
    assert b"Other" not in response.content


def test_it_serves_the_stylesheet_link(client, owner):
    client.force_login(owner)
    assert b"/static/css/app.css" in client.get("/").content

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


def test_it_links_the_team_pages_from_the_team_page(client, owner):
    client.force_login(owner)
    content = client.get("/teams/acme/members/").content.decode()
    assert 'href="/teams/acme/github/"' in content
    assert 'href="/teams/acme/github/deliveries/"' in content


def test_it_does_not_link_members_to_the_admin_only_delivery_log(client, member):
    client.force_login(member)
    content = client.get("/teams/acme/members/").content.decode()
    assert 'href="/teams/acme/github/"' in content
    assert 'href="/teams/acme/github/deliveries/"' not in content

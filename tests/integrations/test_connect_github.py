"""Connecting GitHub with no GitHub App set up: the page says who must do what,
to each reader; staff reach the site's own pages from the menu."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from apps.teams.models import Membership

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_app(settings):
    settings.GITHUB_APP_ID = ""
    settings.GITHUB_APP_SLUG = ""


@pytest.fixture
def staff_admin(team):
    user = get_user_model().objects.create_user("sam", password="pw-sam-1", is_staff=True)
    Membership.objects.create(user=user, team=team, role=Membership.Role.ADMIN)
    return user


def _page(client, user) -> str:
    client.force_login(user)
    response = client.get("/teams/acme/github/")
    assert response.status_code == 200
    return response.content.decode()


def test_it_tells_a_team_admin_who_sets_the_app_up_and_how(client, owner):
    page = _page(client, owner)
    who_what = page[page.index('data-role="who-what"') :]
    assert "whoever runs this tformance server" in who_what
    assert "<em>staff</em> account" in who_what
    assert 'href="/github/manifest/"' in who_what
    assert 'href="/docs/github-app/"' in who_what
    assert "GITHUB_APP_*" in who_what
    assert "python manage.py createsuperuser" in page
    assert "no GitHub App is configured" in page  # the reason, for admins


def test_it_gives_staff_the_button_to_create_the_app(client, staff_admin):
    page = _page(client, staff_admin)
    panel = page[page.index('data-role="app-missing"') :]
    assert '<a class="button" href="/github/manifest/">Create the GitHub App</a>' in panel
    assert 'href="/docs/github-app/"' in panel
    assert 'data-role="who-what"' not in page


def test_it_names_no_setting_to_a_member(client, member):
    page = _page(client, member)
    assert 'data-role="app-missing"' in page
    assert "a team admin of Acme connects the organisation here" in page
    assert "GITHUB_" not in page
    assert "/github/manifest/" not in page


def test_it_links_staff_to_the_site_pages_from_the_menu(client, staff_admin, owner):
    page = _page(client, staff_admin)
    menu = page[page.index('<header class="topbar">') : page.index("</header>")]
    assert 'href="/github/manifest/"' in menu
    assert 'href="/github/deliveries/"' in menu

    page = _page(client, owner)
    assert 'data-role="staff-link"' not in page


def test_it_tells_a_non_staff_user_how_staff_accounts_are_made(client, owner):
    client.force_login(owner)
    response = client.get("/github/manifest/")
    assert response.status_code == 403
    page = response.content.decode()
    assert "created once for the whole site, by a staff account" in page
    assert "python manage.py createsuperuser" in page
    assert 'href="/docs/github-app/"' in page
    assert "ask an admin of the team" not in page

    # A team page's 403 still sends members to their team's admins.
    response = client.get("/github/deliveries/")
    assert response.status_code == 403
    assert "createsuperuser" in response.content.decode()


def test_it_sends_a_member_to_the_team_admins_on_a_team_403(client, member):
    client.force_login(member)
    response = client.get("/teams/acme/github/deliveries/")
    assert response.status_code == 403
    assert "ask an admin of the team" in response.content.decode()


def test_it_says_why_install_cannot_start(client, owner):
    client.force_login(owner)
    response = client.post("/teams/acme/github/install/", follow=True)
    [message] = response.context["messages"]
    assert message.tags == "error"
    assert "no GitHub App is configured" in str(message)

"""404, 403 and 500 are the product's own pages, with DEBUG off."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import path

from config.urls import urlpatterns as project_urls


def _broken(request):
    raise RuntimeError("boom")


urlpatterns = [*project_urls, path("broken/", _broken)]


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.ROOT_URLCONF = __name__
    return settings


def test_it_styles_the_404_page(client, production, db):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert b'class="panel error-page"' in response.content
    assert b"css/app.css" in response.content
    assert b"This page does not exist" in response.content


def test_it_styles_the_500_page(production, db):
    client = Client(raise_request_exception=False)
    response = client.get("/broken/")
    assert response.status_code == 500
    assert b'class="panel error-page"' in response.content
    assert b"css/app.css" in response.content
    assert b"boom" not in response.content


def test_it_styles_the_403_page_with_the_reason(client, production, member):
    client.force_login(member)
    response = client.post("/teams/acme/invitations/")
    assert response.status_code == 403
    assert b'class="panel error-page"' in response.content
    assert b"Only team admins can invite people" in response.content


def test_it_styles_an_unusable_invitation(client, production, team):
    response = client.get("/teams/acme/join/nope/")
    assert response.status_code == 404
    assert b'class="panel error-page"' in response.content

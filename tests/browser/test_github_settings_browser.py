"""An admin tracks a repository in real headless Chromium (Debian's chromium,
driven by Playwright). A screenshot is saved under artifacts/browser/."""

from __future__ import annotations

import os

import pytest

from apps.integrations.models import Repository
from tests.browser.pages import SCREENSHOTS, chromium
from tests.github_app.keys import private_key_pem
from tests.integrations.conftest import installation_for, repository_for


@pytest.mark.browser
def test_it_tracks_a_repository_from_the_settings_page(
    live_server, team, owner, monkeypatch, settings
):
    settings.GITHUB_APP_SLUG = "tformance-test"
    settings.GITHUB_APP_ID = "12345"
    settings.GITHUB_APP_PRIVATE_KEY = private_key_pem()
    installation = installation_for(team=team, installation_id=8801, login="acme-org")
    repository = repository_for(
        installation=installation, github_id=21, full_name="acme-org/api", tracked=False
    )
    repository_for(installation=installation, github_id=22, full_name="acme-org/web", tracked=False)
    # Playwright's sync API runs an event loop in this thread; the ORM reads
    # below are plain synchronous test code, not async views.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")

    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, chromium(playwright) as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        page.set_default_timeout(15_000)

        page.goto(f"{live_server.url}/login/")
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", "password-alice")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")

        page.click("text=GitHub repositories")
        page.wait_for_url(f"{live_server.url}/teams/acme/github/")
        assert page.locator("button", has_text="Install on GitHub").is_visible()
        row = page.locator('tr[data-repository="acme-org/api"]')
        assert row.locator("[data-role=status]").inner_text() == "not tracked"

        row.locator("button", has_text="Track").click()
        page.wait_for_selector("text=Now tracking acme-org/api")
        row = page.locator('tr[data-repository="acme-org/api"]')
        assert row.locator("[data-role=status]").inner_text() == "tracked"

        page.reload()
        row = page.locator('tr[data-repository="acme-org/api"]')
        assert row.locator("[data-role=status]").inner_text() == "tracked"
        other = page.locator('tr[data-repository="acme-org/web"]')
        assert other.locator("[data-role=status]").inner_text() == "not tracked"

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "github_settings.png"), full_page=True)

    repository.refresh_from_db()
    assert repository.tracked
    assert os.path.exists(SCREENSHOTS / "github_settings.png")
    assert Repository.objects.filter(tracked=True).count() == 1

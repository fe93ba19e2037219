"""The delivery section, the deployments page and the deployment settings in
real headless Chromium, at 1400 and 390 pixels wide. Screenshots are saved
under artifacts/browser/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.integrations.models import Installation
from tests.browser.pages import SCREENSHOTS, chromium
from tests.integrations.conftest import installation_for, repository_for
from tests.metrics.delivery_fixture import delivery_history

WIDTHS = (1400, 390)


@pytest.mark.browser
def test_it_shows_the_delivery_section_deployments_and_their_settings(
    live_server, team, owner, monkeypatch
):
    installation = installation_for(team=team, installation_id=42, login="acme")
    Installation.objects.filter(pk=installation.pk).update(
        permissions={"metadata": "read", "pull_requests": "read"}, account_type="Organization"
    )
    repository = repository_for(
        installation=installation, github_id=186853002, full_name="acme/api"
    )
    start = (timezone.now() - timedelta(days=12)).replace(microsecond=0)
    delivery_history(team=team, repository=repository, start=start)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")

    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, chromium(playwright) as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{live_server.url}/login/")
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", "password-alice")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{live_server.url}/teams/acme/?days=30")
            section = page.locator('[data-role="delivery"]')
            assert section.locator('[data-figure="deployment_frequency"]').inner_text() != ""
            assert "failed" in section.locator('[data-role="delivery-deployments"]').inner_text()
            section.screenshot(path=str(SCREENSHOTS / f"delivery_{width}.png"))

            page.goto(f"{live_server.url}/teams/acme/deployments/?days=30")
            assert "Rolled back to" in page.locator('[data-role="deployments"]').inner_text()
            page.screenshot(path=str(SCREENSHOTS / f"deployments_{width}.png"), full_page=True)

            page.goto(f"{live_server.url}/teams/acme/deployments/settings/")
            assert "acme" in page.locator('[data-role="missing-permissions"]').inner_text()
            page.screenshot(
                path=str(SCREENSHOTS / f"deployment_settings_{width}.png"), full_page=True
            )

        # The drill-down from a key.
        page.set_viewport_size({"width": 1400, "height": 900})
        page.goto(f"{live_server.url}/teams/acme/?days=30")
        page.click('[data-key="change_failure_rate"] a')
        page.wait_for_url("**/teams/acme/deployments/?days=30")
        assert errors == []
    for width in WIDTHS:
        for name in ("delivery", "deployments", "deployment_settings"):
            assert (SCREENSHOTS / f"{name}_{width}.png").exists()

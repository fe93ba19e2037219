"""An organisation's history loading, as an admin sees it on the GitHub settings
page, in real headless Chromium (Debian's chromium, driven by Playwright), at
1400 and 390 px wide. Screenshots are saved under artifacts/browser/."""

from __future__ import annotations

import pytest
from django.utils import timezone

from apps.integrations.models import DeploymentHistoryCursor, HistoryRun
from apps.integrations.services import history_pacer
from tests.browser.pages import SCREENSHOTS, chromium
from tests.github_app.keys import private_key_pem
from tests.integrations.conftest import installation_for, repository_for


@pytest.mark.browser
def test_it_shows_an_organisations_history_progress_at_1400_and_390_px(
    live_server, team, owner, monkeypatch, settings
):
    settings.GITHUB_APP_SLUG = "tformance-test"
    settings.GITHUB_APP_ID = "12345"
    settings.GITHUB_APP_PRIVATE_KEY = private_key_pem()
    installation = installation_for(team=team, installation_id=8802, login="acme-org")
    for n, (status, pages, stored) in enumerate(
        [("done", 25, 2480), ("done", 12, 1190), ("running", 9, 900), ("queued", 0, 0)]
    ):
        repository = repository_for(
            installation=installation, github_id=30 + n, full_name=f"acme-org/service-{n}"
        )
        HistoryRun.objects.create(
            repository=repository,
            status=status,
            pages_done=pages,
            page_size=100,
            pull_requests_stored=stored,
            total_count=21_000 if status == "running" else None,
        )
        # The deployments are read once the pull requests are: one read done,
        # one under way.
        for source, stored_items in zip(
            ("deployments", "releases", "workflow_runs"), (140, 12, 0), strict=True
        ):
            if status == "done":
                DeploymentHistoryCursor.objects.create(
                    repository=repository,
                    source=source,
                    status="done" if n == 0 or source == "deployments" else "reading",
                    items_stored=stored_items,
                )
    pacer = history_pacer.history_pacer()
    for _ in range(36):  # pages of 1.5 s: 54 s of GitHub's last minute
        permit = pacer.acquire(8802, max_wait=5)
        reset = timezone.now().timestamp() + 1800
        pacer.release(permit, seconds=1.5, cost=2, remaining=3904, reset_at=reset)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")

    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright, chromium(playwright) as browser:
        for width in (1400, 390):
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.set_default_timeout(15_000)
            page.goto(f"{live_server.url}/login/")
            page.fill("input[name=username]", "alice")
            page.fill("input[name=password]", "password-alice")
            page.click("button[type=submit]")
            page.wait_for_url(f"{live_server.url}/")
            page.goto(f"{live_server.url}/teams/acme/github/")
            summary = page.locator("[data-role=history-summary]")
            assert summary.is_visible()
            assert summary.locator("[data-role=history-repositories]").inner_text() == ("2 of 4")
            assert summary.locator("[data-role=history-pull-requests]").inner_text() == ("4,570")
            assert summary.locator("[data-role=history-budget]").inner_text() == "90 %"
            assert summary.locator("[data-role=history-time-left]").inner_text() == "8 min"
            deployments = page.locator("[data-role=deployment-history-text]")
            assert deployments.all_inner_texts() == [
                "deployments read: 140 GitHub deployments, 12 releases, 0 workflow runs",
                "deployments: reading, 140 GitHub deployments, 12 releases, 0 workflow runs so far",
            ]
            assert page.get_by_role("button", name="Read deployments again").is_visible()
            # Nothing runs off the side of a phone's screen.
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0
            page.screenshot(path=str(SCREENSHOTS / f"history_progress_{width}.png"), full_page=True)
            page.close()

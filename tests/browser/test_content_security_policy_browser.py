"""The pages under their Content-Security-Policy in real headless Chromium: no
violation reported on any of them, the dashboard's charts (Chart.js and the
dashboard's script) drawn, the invitation link selected on a click (a script
file now, no inline handler). Screenshots under artifacts/browser/."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tests.browser.pages import SCREENSHOTS, chromium
from tests.metrics.generated_history import generated_history

PAGES = [
    "/",
    "/teams/acme/?days=90",
    "/teams/acme/pull-requests/?figure=merged&days=90",
    "/teams/acme/members/",
    "/teams/acme/github/",
    "/teams/acme/api-tokens/",
]


@pytest.mark.browser
def test_no_page_breaks_its_content_security_policy(live_server, team, owner, monkeypatch):
    generated_history(team=team, count=120, days=90, now=timezone.now())
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")

    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, chromium(playwright) as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(15_000)
        problems: list[str] = []
        page.on(
            "console",
            # Chromium reports each violation on the console ("Refused to …
            # because it violates the following Content Security Policy …").
            lambda message: (
                problems.append(message.text)
                if "Content Security Policy" in message.text or "Refused to" in message.text
                else None
            ),
        )
        page.on("pageerror", lambda error: problems.append(str(error)))

        page.goto(f"{live_server.url}/login/")
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", "password-alice")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")
        for path in PAGES:
            response = page.goto(f"{live_server.url}{path}")
            assert response is not None and response.status == 200, path
            assert "script-src 'self'" in response.headers["content-security-policy"]
        page.goto(f"{live_server.url}/teams/acme/?days=90")
        page.wait_for_selector('canvas[data-chart="merged"][data-drawn="true"]')

        page.goto(f"{live_server.url}/teams/acme/members/")
        # Until the new page has loaded, its field may be there before its
        # deferred script: a click then selected nothing (a race lost once in
        # CI, on a loaded machine).
        with page.expect_navigation(wait_until="load"):
            page.click("form[action$='/invitations/'] button")
        field = page.locator("[data-role=invitation-link]")
        field.click()
        selected = page.evaluate(
            "() => { const f = document.querySelector('[data-role=invitation-link]');"
            " return f.selectionEnd - f.selectionStart === f.value.length; }"
        )
        assert selected
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "invitation_created.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(SCREENSHOTS / "invitation_created_phone.png"), full_page=True)

    assert problems == []

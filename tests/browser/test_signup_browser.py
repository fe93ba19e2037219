"""The sign-up page in real headless Chromium, at desktop and phone widths:
the form as it first shows, then with each refusal beside its field.
Screenshots go to artifacts/browser/signup_*.png."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.browser.pages import SCREENSHOTS, checked_shot, chromium


@pytest.mark.browser
@pytest.mark.parametrize("width", [1200, 390])
def test_it_signs_up_with_each_refusal_beside_its_field(live_server, monkeypatch, width):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, chromium(playwright) as browser:
        page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/signup/")
        form = page.locator("[data-role=signup]")
        assert form.locator("label", has_text="Password again").is_visible()
        assert "At least 8 characters" in form.inner_text()
        checked_shot(page, "signup", width)

        page.fill("input[name=username]", "dora dora")
        page.fill("input[name=password1]", "12345678")
        page.fill("input[name=password2]", "12345678")
        page.click("button[type=submit]")
        page.wait_for_selector("[data-role=error-username]")
        assert page.locator("[data-role=error-password2]").is_visible()
        checked_shot(page, "signup_refused", width)

        page.fill("input[name=username]", "dora")
        page.fill("input[name=password1]", "a-long-passphrase-9")
        page.fill("input[name=password2]", "a-long-passphrase-9")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/teams/new/")

    assert get_user_model().objects.filter(username="dora").exists()

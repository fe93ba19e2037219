"""The first minute in real headless Chromium: the demo's printed login, the
team page with its numbers, an invitation accepted by a second person who signs
up on the way, and an empty team's next step. Screenshots go to artifacts/browser/."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command

from apps.teams.models import Membership
from tests.browser.pages import SCREENSHOTS, chromium


@pytest.mark.browser
def test_it_walks_through_the_first_minute(live_server, monkeypatch, settings):
    settings.GITHUB_APP_ID = ""
    settings.GITHUB_WEBHOOK_SECRETS = []
    out = StringIO()
    call_command("demo", "--first-run", "--base-url", live_server.url, stdout=out)
    printed = out.getvalue()
    login = re.search(r"as\s+(\S+)\s+with password\s+(\S+)", printed)
    assert login, printed
    username, password = login[1], login[2]
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, chromium(playwright) as browser:
        admin = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
        admin.set_default_timeout(15_000)
        admin.goto(f"{live_server.url}/login/")
        admin.fill("input[name=username]", username)
        admin.fill("input[name=password]", password)
        admin.click("button[type=submit]")
        admin.wait_for_url(f"{live_server.url}/")
        admin.click("text=Demo team")
        admin.wait_for_url(f"{live_server.url}/teams/demo-team/")
        assert admin.locator("[data-role=figures]").is_visible()
        assert admin.locator("[data-role=next-step]").count() == 0
        assert int(admin.locator("[data-figure=merged]").inner_text()) > 0
        assert admin.locator("[data-role=figures] li").count() >= 4
        admin.screenshot(path=str(SCREENSHOTS / "demo_team.png"), full_page=True)

        admin.click("nav.subnav >> text=Members")
        admin.wait_for_url(f"{live_server.url}/teams/demo-team/members/")
        admin.click("button:has-text('Create an invitation link')")
        link = admin.locator("[data-role=invitation-link]").input_value()
        assert "/teams/demo-team/join/" in link
        admin.screenshot(path=str(SCREENSHOTS / "invitation_link.png"), full_page=True)

        newcomer = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
        newcomer.set_default_timeout(15_000)
        newcomer.goto(link)
        newcomer.wait_for_url(re.compile(r".*/login/\?next=.*"))
        newcomer.screenshot(path=str(SCREENSHOTS / "invitation_login.png"), full_page=True)
        newcomer.click("main >> text=Sign up")
        newcomer.fill("input[name=username]", "dora")
        newcomer.fill("input[name=password1]", "a-long-passphrase-9")
        newcomer.fill("input[name=password2]", "a-long-passphrase-9")
        newcomer.click("button[type=submit]")
        newcomer.wait_for_url(link)
        newcomer.screenshot(path=str(SCREENSHOTS / "invitation_join.png"), full_page=True)
        newcomer.click("button:has-text('Join Demo team')")
        newcomer.wait_for_url(f"{live_server.url}/teams/demo-team/")
        assert newcomer.locator("text=Welcome to Demo team").is_visible()
        assert newcomer.locator("[data-role=figures]").is_visible()
        newcomer.screenshot(path=str(SCREENSHOTS / "invitation_joined.png"), full_page=True)

        # The same link again: refused, with the reason.
        newcomer.goto(link)
        assert "already been used" in newcomer.locator("[data-role=reason]").inner_text()
        newcomer.screenshot(path=str(SCREENSHOTS / "invitation_reused.png"), full_page=True)

        admin.goto(f"{live_server.url}/teams/demo-team/members/")
        assert admin.locator('tr[data-member="dora"]').is_visible()
        admin.screenshot(path=str(SCREENSHOTS / "members.png"), full_page=True)

        # A team of one's own starts with its next step.
        newcomer.goto(f"{live_server.url}/teams/new/")
        newcomer.fill("input[name=name]", "Platform")
        newcomer.click("button[type=submit]")
        newcomer.wait_for_url(f"{live_server.url}/teams/platform/")
        panel = newcomer.locator("[data-role=next-step]")
        assert panel.get_attribute("data-step") == "connect"
        newcomer.screenshot(path=str(SCREENSHOTS / "empty_team_next_step.png"), full_page=True)
        newcomer.click("[data-role=next-step] a.button")
        newcomer.wait_for_url(f"{live_server.url}/teams/platform/github/")
        assert newcomer.locator("button", has_text="Install on GitHub").count() == 0
        newcomer.screenshot(path=str(SCREENSHOTS / "github_settings_no_app.png"), full_page=True)

    dora = Membership.objects.get(user__username="dora", team__slug="demo-team")
    assert dora.role == "member"

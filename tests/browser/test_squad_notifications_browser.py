"""The squads' notifications on the Slack page in real headless Chromium, at a
desktop's width (1400 px) and a phone's (390 px): an admin gives a squad its
own nudge channel, turns one kind off and sets its weekly digest in its own
time zone; a member reads them. Screenshots go to artifacts/browser/
(notifications_squads_*_1400.png, *_390.png, and the squads' panel alone:
notifications_squads_*_panel_*.png)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from apps.common.encryption import encrypt_secret
from apps.metrics.models import Squad, TeamMember
from apps.notifications.models import (
    NotificationSettings,
    SlackConnection,
    SquadNotificationSettings,
)
from tests.browser.pages import SCREENSHOTS, checked_shot, chromium, login
from tests.notifications.fake_slack import TOKEN

WIDTHS = (1400, 390)


def _shot(page, name: str, width: int) -> None:
    checked_shot(page, f"notifications_{name}", width)
    # The squads' panel alone, to read at a phone's width.
    page.locator("[data-role=squads]").screenshot(
        path=str(SCREENSHOTS / f"notifications_{name}_panel_{width}.png")
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_it_sets_a_squads_notifications_on_the_slack_page_in_the_browser(
    live_server, team, owner, member, monkeypatch
):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
    SlackConnection.objects.create(
        team=team,
        slack_team_id="T0ACME",
        slack_team_name="Acme Slack",
        bot_user_id="U0BOT",
        bot_token_encrypted=encrypt_secret(TOKEN),
        connected_by=owner,
        connected_at=timezone.now(),
    )
    NotificationSettings.objects.create(team=team, nudge_channel="C0TEAM")
    people = [
        TeamMember.objects.create(team=team, github_id=n, login=login)
        for n, login in enumerate(["ann", "ben", "cat"], start=1)
    ]
    payments = Squad.objects.create(team=team, name="Payments")
    payments.members.set(people[:2])
    web = Squad.objects.create(team=team, name="Web")
    web.members.set(people[1:])
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    url = live_server.url

    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, chromium(playwright) as browser:
        for width in WIDTHS:
            SquadNotificationSettings.objects.all().delete()
            _admin(browser, url, width, payments)
            _member(browser, url, width)


def _admin(browser, url, width, payments) -> None:
    page = login(browser, url, width, "alice", "password-alice")
    page.goto(f"{url}/teams/acme/slack/")
    block = page.locator('[data-squad="Payments"]')
    block.locator("input[name=nudge_channel]").fill("C0PAY")
    block.locator("input[name=nudge_large_on]").uncheck()
    block.locator("input[name=digest_on]").check()
    block.locator("input[name=digest_channel]").fill("C0PAYDIGEST")
    block.locator("select[name=digest_weekday]").select_option("4")
    block.locator("input[name=digest_time]").fill("16:30")
    block.locator("input[name=time_zone]").fill("Asia/Tokyo")
    block.locator("select[name=nudge_waiting_direct]").select_option(label="No")
    block.locator("button", has_text="Save Payments").click()
    page.wait_for_selector("text=Notification settings of the squad Payments saved.")
    saved = SquadNotificationSettings.objects.get(squad=payments)
    assert (saved.nudge_channel, saved.nudge_large_on, saved.time_zone) == (
        "C0PAY",
        False,
        "Asia/Tokyo",
    )
    assert saved.nudge_waiting_direct is False
    assert page.locator('[data-squad="Payments"] input[name=time_zone]').input_value() == (
        "Asia/Tokyo"
    )
    page.locator("[data-role=squads]").scroll_into_view_if_needed()
    _shot(page, "squads_admin", width)

    # A time zone that is none is refused with the reason, nothing saved.
    page.goto(f"{url}/teams/acme/slack/")
    block = page.locator('[data-squad="Web"]')
    block.locator("input[name=time_zone]").fill("Mars/Olympus")
    block.locator("button", has_text="Save Web").click()
    assert "not a known time zone" in page.locator("main").inner_text()
    assert not SquadNotificationSettings.objects.filter(squad__name="Web").exists()
    page.context.close()


def _member(browser, url, width) -> None:
    page = login(browser, url, width, "bob", "password-bob")
    page.goto(f"{url}/teams/acme/slack/")
    squads = page.locator("[data-role=squads]")
    assert squads.locator("form").count() == 0
    text = squads.inner_text()
    assert "C0PAY" in text and "Friday at 16:30 (Asia/Tokyo)" in text
    assert "Requested reviewers told directly: no." in text
    web = squads.locator('[data-squad="Web"]').inner_text()
    assert "the team's channel" in web
    assert "Requested reviewers told directly: as the team (yes)." in web
    squads.scroll_into_view_if_needed()
    _shot(page, "squads_member", width)
    page.context.close()

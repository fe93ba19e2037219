"""The Slack page and the outbound webhooks page in real headless Chromium, at a
desktop's width (1400 px) and a phone's (390 px): an admin connects Slack
(the fake Slack on 127.0.0.1 approves on its authorize page and
exchanges the code), matches people by email, links one by hand, saves the
nudges and the digest; a scope Slack found missing; the connection broken by
a revoked token; a member's read-only view; a refused return from Slack; outbound
webhooks with their secret and delivery log. Screenshots go to
artifacts/browser/ (notifications_*_1400.png, *_390.png)."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.integrations.models import Installation, Repository
from apps.notifications.models import (
    OutboundDelivery,
    SlackConnection,
    SlackMessage,
    SlackPerson,
    WebhookEndpoint,
)
from apps.notifications.services.connections import slack_connection_break, slack_scope_missing
from tests.browser.pages import SCREENSHOTS, checked_shot, chromium, login
from tests.metrics.figures_fixture import pull_request
from tests.notifications.fake_slack import FakeSlackServer

WIDTHS = (1400, 390)


def _shot(page, name: str, width: int) -> None:
    checked_shot(page, f"notifications_{name}", width)


def _messages(team) -> None:
    installation = Installation.objects.create(installation_id=42, team=team, account_login="acme")
    repository = Repository.objects.create(
        installation=installation, github_id=1, full_name="acme/api", tracked=True
    )
    now = timezone.now()
    rows = [
        ("merged_unreviewed", "sent", "", False, now),
        ("waiting", "sent", "", False, now),
        ("merge_question", "pending", "", True, now + timedelta(hours=14)),
        ("large", "failed", "Slack: not_in_channel", False, now),
    ]
    for n, (kind, status, error, direct, not_before) in enumerate(rows, start=1):
        pr = pull_request(
            team,
            repository,
            title=f"Change {n}",
            pr_created_at=now - timedelta(days=1),
            merged_at=now if kind == "merged_unreviewed" else None,
        )
        SlackMessage.objects.create(
            team=team,
            key=f"{kind}:{n}",
            kind=kind,
            channel="U0BOB" if direct else "C0NUDGE",
            is_direct=direct,
            text="…",
            pull_request=pr,
            status=status,
            last_error=error,
            not_before=not_before,
        )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_slack_and_webhooks_pages_in_the_browser(
    live_server, team, owner, member, monkeypatch, settings
):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
    server = FakeSlackServer()
    settings.SLACK_API_URL = server.url
    # As settings.py derives it from SLACK_API_URL: the form's redirect to Slack.
    policy = copy.deepcopy(settings.CONTENT_SECURITY_POLICY)
    policy["DIRECTIVES"]["form-action"].append(server.url.removesuffix("/api/"))
    settings.CONTENT_SECURITY_POLICY = policy
    settings.SLACK_CLIENT_ID = "1234.5678"
    settings.SLACK_CLIENT_SECRET = "slack-client-secret"
    settings.PUBLIC_BASE_URL = live_server.url
    settings.TFORMANCE_WEBHOOKS_ALLOW_PRIVATE = True
    owner.email = "alice@example.com"
    owner.save()
    member.email = "bob@example.com"
    member.save()
    _messages(team)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    url = live_server.url

    from playwright.sync_api import sync_playwright

    with server as slack, sync_playwright() as playwright:
        slack.user("U0ALICE", "alice@example.com", tz="Europe/Berlin")
        slack.user("U0BOB", "bob.personal@example.com", tz="America/New_York")
        with chromium(playwright) as browser:
            for width in WIDTHS:
                SlackConnection.objects.all().delete()
                SlackPerson.objects.all().delete()
                WebhookEndpoint.objects.all().delete()
                _connect(browser, url, width, slack)
                _member(browser, url, width)
                _webhooks(browser, url, width, team)


def _connect(browser, url, width, slack) -> None:
    page = login(browser, url, width, "alice", "password-alice")
    page.goto(f"{url}/teams/acme/")
    page.click(".subnav >> text=Slack")
    page.wait_for_url(f"{url}/teams/acme/slack/")
    assert "Slack is not connected" in page.locator("[data-role=connection]").inner_text()
    _shot(page, "slack_not_connected", width)

    # Slack's authorize page (the fake's) approves at once and sends the browser back.
    page.click("text=Add to Slack")
    page.wait_for_selector("text=Slack connected: Acme Slack.")
    page.click("text=Match by email")
    page.wait_for_selector("text=Matched 1 by email")
    row = page.locator('[data-person="bob"]')
    row.locator("input[name=slack_user_id]").fill("U0BOB")
    row.locator("button", has_text="Link").click()
    page.wait_for_selector("text=Slack user linked.")
    assert "America/New_York" in page.locator('[data-person="bob"]').inner_text()

    settings_form = page.locator("[data-role=settings] form")
    settings_form.locator("input[name=nudge_channel]").fill("C0NUDGE")
    settings_form.locator("input[name=digest_on]").check()
    settings_form.locator("input[name=digest_channel]").fill("C0DIGEST")
    settings_form.locator("select[name=digest_weekday]").select_option("0")
    settings_form.locator("button", has_text="Save").click()
    page.wait_for_selector("text=Notification settings saved.")
    _shot(page, "slack_connected", width)

    # A call refused for want of a scope: the connection stays, the notice says how to grant it.
    slack_scope_missing(
        team_id=SlackConnection.objects.get().team_id,
        needed="im:write",
        provided="chat:write,chat:write.public,users:read,users:read.email",
    )
    page.reload()
    notice = page.locator("[data-role=missing-scope]").inner_text()
    assert "im:write" in notice and "Connect again" in notice
    assert "connected" in page.locator("[data-role=connection]").inner_text()
    _shot(page, "slack_missing_scope", width)

    slack_connection_break(team_id=SlackConnection.objects.get().team_id, reason="token_revoked")
    page.reload()
    assert "token_revoked" in page.locator("[data-role=connection]").inner_text()
    _shot(page, "slack_broken", width)

    page.goto(f"{url}/slack/oauth/callback/?code=good-code&state=forged")
    assert "not one of ours" in page.locator("main").inner_text()
    _shot(page, "slack_refused", width)
    page.context.close()


def _member(browser, url, width) -> None:
    page = login(browser, url, width, "bob", "password-bob")
    page.goto(f"{url}/teams/acme/slack/")
    assert page.locator("text=Disconnect").count() == 0
    assert "C0NUDGE" in page.locator("[data-role=settings]").inner_text()
    _shot(page, "slack_member", width)
    page.context.close()


def _webhooks(browser, url, width, team) -> None:
    page = login(browser, url, width, "alice", "password-alice")
    page.goto(f"{url}/teams/acme/")
    page.click(".subnav >> text=Outbound webhooks")
    page.wait_for_url(f"{url}/teams/acme/webhooks/")
    page.fill("input[name=url]", "http://127.0.0.1:8765/hooks/tformance")
    page.check("input[value=opened]")
    page.click("text=Add the endpoint")
    page.wait_for_selector("[data-role=new-secret]")
    assert page.locator("[data-role=new-secret] pre").inner_text().startswith("whsec_")
    endpoint = WebhookEndpoint.objects.get()
    now = timezone.now()
    for n, (status, code, error) in enumerate(
        [
            ("delivered", 200, ""),
            ("pending", 503, "HTTP 503: upstream unavailable"),
            ("failed", 410, "HTTP 410: gone"),
        ]
    ):
        OutboundDelivery.objects.create(
            endpoint=endpoint,
            message_id=f"msg_browser{width}{n}",
            event_type="pull_request.merged",
            body="{}",
            status=status,
            response_code=code,
            error=error,
            attempts=n + 1,
            next_attempt_at=now,
        )
    _shot(page, "webhooks_new_secret", width)
    page.goto(f"{url}/teams/acme/webhooks/")  # not a reload: that would post the form again
    assert "HTTP 410: gone" in page.locator(f'[data-endpoint="{endpoint.pk}"]').inner_text()
    assert page.locator("[data-endpoint]").count() == 1
    assert page.locator("[data-role=new-secret]").count() == 0
    _shot(page, "webhooks", width)
    page.context.close()

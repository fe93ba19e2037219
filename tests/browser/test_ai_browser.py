"""AI-assisted pull requests in real headless Chromium, at a desktop's width
(1400 px) and a phone's (390 px): the dashboard's AI section, the drill-down of
the assisted pull requests with their signals, and the AI rules page, where an
added rule reclassifies an old pull request. Screenshots go to
artifacts/browser/ (ai_*_1400.png, ai_*_390.png)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.integrations.models import Installation, Repository
from apps.metrics.models import PullRequest
from github_app.commits import commits_payload
from github_app.webhook_payloads import iso, pull_request_payload, review_payload
from tests.browser.pages import CARD_OVERFLOW, MENU_OVERFLOW, PAGE_OVERFLOW, SCREENSHOTS, chromium
from tests.metrics.events import apply_events, metrics_event
from tests.payloads.graphql import commit_node

WIDTHS = (1400, 390)
PEOPLE = [(11, "alice-gh"), (12, "bob-gh"), (13, "carol-gh")]
COPILOT = {"author_id": 198982749, "author_login": "Copilot", "author_type": "Bot"}


def _story(team) -> None:
    installation = Installation.objects.create(installation_id=42, team=team, account_login="acme")
    repository = Repository.objects.create(
        installation=installation, github_id=1, full_name="acme/api", tracked=True
    )
    now = timezone.now().replace(microsecond=0)
    events: list[Any] = []

    def add(name: str, payload: dict[str, Any]) -> None:
        events.append(metrics_event(name, team=team, repository=repository, payload=payload))

    titles = [
        "Cache invoice totals per customer so the monthly statement renders quickly",
        "Validate refund input",
        "Fix time zones in the exports",
        "Add pagination to the orders list",
        "Move sessions into their own module",
        "Log slow webhook queries",
        "Speed up the search list",
        "Add an audit trail to payments",
        "Test customers edge cases",
        "Clean up exports error messages",
    ]
    for n, title in enumerate(titles, start=1):
        opened = now - timedelta(days=2 * n + 1, hours=n)
        merged = opened + timedelta(hours=4 + 5 * (n % 4))
        author = (
            COPILOT
            if n in (2, 7)
            else dict(zip(("author_id", "author_login"), PEOPLE[n % 3], strict=True))
        )
        fields: dict[str, Any] = {"labels": ["ai-assisted"]} if n == 5 else {}
        add(
            "pull_request",
            pull_request_payload(
                "closed",
                pr_id=7000 + n,
                number=100 + n,
                title=title,
                state="closed",
                merged=True,
                created_at=iso(opened),
                merged_at=iso(merged),
                closed_at=iso(merged),
                additions=20 * n,
                deletions=3 * n,
                **author,
                **fields,
            ),
        )
        reviewer = PEOPLE[(n + 1) % 3]
        add(
            "pull_request_review",
            review_payload(
                review_id=8000 + n,
                pr_id=7000 + n,
                number=100 + n,
                submitted_at=iso(opened + timedelta(hours=1 + n % 3)),
                reviewer_id=reviewer[0],
                reviewer_login=reviewer[1],
                created_at=iso(opened),
            ),
        )
        if n % 3 == 0:
            add(
                "pull_request_review",
                review_payload(
                    review_id=9000 + n,
                    pr_id=7000 + n,
                    number=100 + n,
                    review_state="commented",
                    submitted_at=iso(opened + timedelta(minutes=20)),
                    reviewer_id=175728472,
                    reviewer_login="copilot-pull-request-reviewer[bot]",
                    reviewer_type="Bot",
                    created_at=iso(opened),
                ),
            )
        message = "Do the work"
        if n in (3, 8):
            message += "\n\nCo-authored-by: Claude <noreply@anthropic.com>"
        if n == 9:
            message += "\n\nCo-authored-by: Tabnine <ai@tabnine.com>"
        add(
            "pull_request_commits",
            commits_payload(
                pull_request_id=7000 + n,
                number=100 + n,
                nodes=[
                    commit_node(
                        f"{n:02x}{'a' * 38}",
                        message=message,
                        authored_at=iso(opened - timedelta(hours=2)),
                    )
                ],
                repository={"id": 1, "full_name": "acme/api"},
            ),
        )
    apply_events(events)


def _shot(page, name: str, width: int) -> None:
    assert page.evaluate(PAGE_OVERFLOW) <= 0, (name, width)
    assert page.evaluate(CARD_OVERFLOW) == 0, (name, width)
    assert page.evaluate(MENU_OVERFLOW) == 0, (name, width)
    page.screenshot(path=str(SCREENSHOTS / f"ai_{name}_{width}.png"), full_page=True)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_it_shows_ai_assisted_pull_requests_and_their_rules_in_the_browser(
    live_server, team, owner, monkeypatch
):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
    _story(team)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    url = live_server.url

    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, chromium(playwright) as browser:
        for width in WIDTHS:
            page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
            page.set_default_timeout(15_000)
            page.goto(f"{url}/login/")
            page.fill("input[name=username]", "alice")
            page.fill("input[name=password]", "password-alice")
            page.click("button[type=submit]")
            page.wait_for_url(f"{url}/")

            page.goto(f"{url}/teams/acme/?days=30")
            section = page.locator("[data-role=ai]")
            # 2, 7 (Copilot), 3, 8 (Claude) and 5 (the label) of 10.
            assert section.locator("[data-figure=ai_share]").inner_text() == "50%"
            assert section.locator("[data-figure=ai_reviews]").inner_text() == "3"
            section.scroll_into_view_if_needed()
            _shot(page, "dashboard", width)
            section.screenshot(path=str(SCREENSHOTS / f"ai_dashboard_section_{width}.png"))

            section.locator("a[href*='figure=ai_assisted']").click()
            page.wait_for_selector("[data-role=ai-assisted] .ai-signal")
            assert page.locator("tbody tr").count() == 5
            _shot(page, "drill_down", width)

            page.goto(f"{url}/teams/acme/ai-rules/")
            _shot(page, "rules", width)
            page.fill("textarea[name=co_author_names]", "Tabnine")
            page.click("button:has-text('Save and classify again')")
            page.wait_for_selector("text=being classified again")
            assert PullRequest.objects.get(number=109).is_ai_assisted
            _shot(page, "rules_saved", width)
            # Back to the defaults for the other width.
            page.fill("textarea[name=co_author_names]", "")
            page.click("button:has-text('Save and classify again')")
            page.wait_for_selector("text=being classified again")
            assert not PullRequest.objects.get(number=109).is_ai_assisted
            page.context.close()

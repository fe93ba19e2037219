"""The first hour in real headless Chromium, at a desktop's width (1400 px) and
a phone's (390 px): the demo's pages, the GitHub page with no GitHub App, the
dashboard's period form, its drill-down and tables, the delivery log's pages,
linking a GitHub account, the docs. Screenshots go to artifacts/browser/
(first_hour_*_1400.png, first_hour_*_390.png)."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from apps.metrics.models import TeamMember
from apps.teams.models import Membership, Team
from tests.browser.pages import (
    CARD_OVERFLOW,
    MENU_OVERFLOW,
    PAGE_OVERFLOW,
    SCREENSHOTS,
    chromium,
    login,
)

WIDTHS = (1400, 390)
# Every page of the walk, checked for overflow at both widths.
PAGES = {
    "dashboard": "/teams/demo-team/?days=30",
    "drill_down": "/teams/demo-team/pull-requests/?days=30&figure=merged",
    "waiting": "/teams/demo-team/pull-requests/?days=90&figure=waiting",
    "reverts": "/teams/demo-team/pull-requests/?days=90&figure=reverts",
    "github": "/teams/demo-team/github/",
    "deliveries": "/teams/demo-team/github/deliveries/",
    "members": "/teams/demo-team/members/",
    "accounts": "/teams/demo-team/members/github/",
    "docs": "/docs/github-app/",
    "api_tokens": "/teams/demo-team/api-tokens/",
}


def _shot(page, name: str, width: int) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"first_hour_{name}_{width}.png"), full_page=True)


def _login(browser, url: str, width: int, username: str, password: str):
    """The page logged in, and the script errors it will have shown."""
    errors: list[str] = []
    return login(browser, url, width, username, password, errors=errors), errors


@pytest.mark.browser
def test_it_walks_the_first_hour_at_desktop_and_phone_widths(live_server, monkeypatch, settings):
    settings.GITHUB_APP_ID = ""
    settings.GITHUB_APP_SLUG = ""
    settings.GITHUB_WEBHOOK_SECRETS = []
    out = StringIO()
    call_command("demo", "--base-url", live_server.url, stdout=out)
    password = re.search(r"as  demo-admin  with password  (\S+)", out.getvalue())[1]
    team = Team.objects.get(slug="demo-team")
    staff = get_user_model().objects.create_user("sam", password="pw-sam-staff-1", is_staff=True)
    Membership.objects.create(user=staff, team=team, role=Membership.Role.MEMBER)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    url = live_server.url

    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, chromium(playwright) as browser:
        for width in WIDTHS:
            page, errors = _login(browser, url, width, "demo-admin", password)

            # No page overflows, at either width; wide tables scroll in their card.
            for name, path in PAGES.items():
                page.goto(url + path)
                page.wait_for_load_state("load")
                assert page.evaluate(PAGE_OVERFLOW) <= 0, (name, width)
                assert page.evaluate(CARD_OVERFLOW) == 0, (name, width)
                assert page.evaluate(MENU_OVERFLOW) == 0, (name, width)
                _shot(page, name, width)

            _github_page(page, url, width)
            _period_form(page, url, width)
            _drill_down(page, url, width)
            _review_tables(page, url, width)
            _delivery_pages(page, url, width)
            assert errors == []

            staff_page, staff_errors = _login(browser, url, width, "sam", "pw-sam-staff-1")
            _staff(staff_page, url, width)
            assert staff_errors == []

        page, _errors = _login(browser, url, 1400, "demo-admin", password)
        _link_an_account(page, url)


def _github_page(page, url: str, width: int) -> None:
    """The demo's history is its story; no GitHub App: who must do what."""
    page.goto(f"{url}/teams/demo-team/github/")
    history = page.locator("[data-role=history-text]")
    assert history.count() == 3
    assert all("the demo's story" in text for text in history.all_inner_texts())
    assert "failed" not in page.locator("main").inner_text()
    who_what = page.locator("[data-role=who-what]")
    assert who_what.is_visible()
    assert who_what.locator('a[href="/github/manifest/"]').count() == 1
    assert who_what.locator('a[href="/docs/github-app/"]').count() == 1
    page.locator("[data-role=app-missing]").scroll_into_view_if_needed()
    _shot(page, "github_no_app", width)

    # The manifest page is staff's: the 403 says how a staff account is made.
    page.goto(f"{url}/github/manifest/")
    assert "python manage.py createsuperuser" in page.locator("[data-role=staff-hint]").inner_text()
    _shot(page, "manifest_403", width)


def _period_form(page, url: str, width: int) -> None:
    """Dates picked without touching the menu are used; from after to is refused
    on the spot, with the reason."""
    page.goto(f"{url}/teams/demo-team/?days=30")
    assert page.locator("select[name=days]").input_value() == "30"
    page.fill("input[name=from]", "2026-01-05")
    page.fill("input[name=to]", "2026-01-25")
    assert page.locator("select[name=days]").input_value() == ""
    page.click("[data-role=period-form] button[type=submit]")
    page.wait_for_url(re.compile(r".*from=2026-01-05&to=2026-01-25$"))
    assert page.locator("[data-role=error]").count() == 0
    assert page.locator("input[name=from]").input_value() == "2026-01-05"
    assert "2026-01-05 to 2026-01-25" in page.locator(".page-head").inner_text()

    page.fill("input[name=from]", "2026-02-10")
    page.fill("input[name=to]", "2026-02-01")
    before = page.url
    page.click("[data-role=period-form] button[type=submit]")
    note = page.locator("[data-role=period-error]")
    note.wait_for(state="visible")
    assert "is after 'to'" in note.inner_text()
    assert page.url == before
    assert page.locator("select[name=days]").input_value() == ""
    _shot(page, "period_from_after_to", width)

    # The same period in a link (no script to stop it): the reason, the form as sent.
    page.goto(f"{url}/teams/demo-team/?from=2026-02-10&to=2026-02-01")
    assert "is after" in page.locator("[data-role=error]").inner_text()
    assert page.locator("input[name=from]").input_value() == "2026-02-10"
    assert page.locator("select[name=days]").input_value() == ""

    # Picking a preset again clears the dates.
    page.select_option("select[name=days]", "90")
    assert page.locator("input[name=from]").input_value() == ""
    page.click("[data-role=period-form] button[type=submit]")
    page.wait_for_url(re.compile(r".*\?days=90$"))


def _drill_down(page, url: str, width: int) -> None:
    page.goto(f"{url}/teams/demo-team/?days=30")
    page.wait_for_selector('canvas[data-chart="cycle"][data-drawn="true"]')
    # The p90 swatch is a dashed line, like its line; not a box.
    legend = page.evaluate(
        """() => {
             const chart = Chart.getChart(document.getElementById('chart-cycle'));
             return [chart.options.plugins.legend.labels.usePointStyle,
                     chart.legend.legendItems.map(i => [i.text, i.pointStyle, i.lineDash])];
           }"""
    )
    assert legend[0] is True
    assert ["p90", "line", [5, 4]] in legend[1]
    if width == 1400:
        page.locator("#chart-cycle").screenshot(
            path=str(SCREENSHOTS / "first_hour_cycle_legend_1400.png")
        )
    # The repository filter offers what has numbers; sandbox was never tracked.
    offered = page.locator("select[name=repository] option").all_inner_texts()
    assert offered == [
        "All repositories",
        "tformance-demo/api",
        "tformance-demo/mobile",
        "tformance-demo/web",
    ]

    page.goto(f"{url}/teams/demo-team/pull-requests/?days=30&figure=merged")
    headers = page.locator("[data-role=pull-requests] th").all_inner_texts()
    assert [h.strip().lower() for h in headers[:5]] == [
        "pull request",
        "author",
        "ai",
        "opened",
        "merged",
    ]
    assert page.locator("[data-role=legend]").is_visible()
    fits = page.evaluate(
        """() => { const t = document.querySelector('[data-role=pull-requests]');
                   return [t.scrollWidth, t.closest('.table-scroll').clientWidth]; }"""
    )
    if width == 1400:
        assert fits[0] <= fits[1], fits  # no scrolling at all on a desktop

    page.goto(f"{url}/teams/demo-team/pull-requests/?days=90&figure=waiting")
    headers = [
        h.strip().lower() for h in page.locator("[data-role=pull-requests] th").all_inner_texts()
    ]
    assert "waiting" in headers and "cycle" not in headers
    assert all(
        re.fullmatch(r"[\d.]+ [dh]", t)
        for t in page.locator("[data-role=waiting]").all_inner_texts()
    )

    page.goto(f"{url}/teams/demo-team/pull-requests/?days=90&figure=reverts")
    reverts = page.locator("[data-role=revert] a")
    assert reverts.count() == 2
    assert all(re.fullmatch(r"#\d+", text) for text in reverts.all_inner_texts())


def _review_tables(page, url: str, width: int) -> None:
    page.goto(f"{url}/teams/demo-team/?days=30")
    pairs = page.locator("[data-role=review-pairs] tbody tr")
    total = pairs.count()
    assert total > 15
    assert page.locator("[data-role=review-pairs] tbody tr:visible").count() == 15
    note = page.locator("[data-role=pairs-note]")
    assert f"The 15 busiest of {total} pairs." in note.inner_text()
    note.locator("[data-role=show-rows]").click()
    assert page.locator("[data-role=review-pairs] tbody tr:visible").count() == total
    assert f"All {total} pairs." in note.inner_text()
    note.scroll_into_view_if_needed()
    _shot(page, "who_reviews_whom", width)


def _delivery_pages(page, url: str, width: int) -> None:
    page.goto(f"{url}/teams/demo-team/github/deliveries/")
    shown = page.locator("[data-role=shown]").inner_text()
    total = int(re.search(r"of (\d+),", shown)[1])
    assert total > 300
    assert "Deliveries 1\u2013100" in shown
    page.click("[data-role=pager] >> text=Older →")
    page.wait_for_url(re.compile(r".*\?page=2$"))
    assert f"Deliveries 101\u2013200 of {total}" in page.locator("[data-role=shown]").inner_text()
    assert page.locator("[data-role=deliveries] tbody tr").count() == 100
    pages = -(-total // 100)  # as many pages of 100 as the demo's story has deliveries
    assert pages >= 4
    assert f"Page 2 of {pages}" in page.locator("[data-role=pager]").inner_text()
    _shot(page, "deliveries_page_2", width)


def _staff(page, url: str, width: int) -> None:
    links = page.locator("header.topbar [data-role=staff-link]")
    assert links.all_inner_texts() == ["GitHub App", "All deliveries", "Admin"]
    page.goto(f"{url}/teams/demo-team/github/")
    panel = page.locator("[data-role=app-missing]")
    assert panel.locator("a.button", has_text="Create the GitHub App").is_visible()
    assert page.evaluate(MENU_OVERFLOW) == 0
    _shot(page, "github_no_app_staff", width)
    page.click("header.topbar >> text=All deliveries")
    page.wait_for_url(f"{url}/github/deliveries/")
    assert page.evaluate(PAGE_OVERFLOW) <= 0
    _shot(page, "all_deliveries_staff", width)


def _link_an_account(page, url: str) -> None:
    person = TeamMember.objects.filter(team__slug="demo-team", is_bot=False).order_by("login")[0]
    page.goto(f"{url}/teams/demo-team/members/github/")
    row = page.locator(f'tr[data-person="{person.login}"]')
    opened = int(row.locator("[data-role=opened]").inner_text())
    assert opened > 0
    row.locator("select[name=account]").select_option(label="demo-admin")
    row.locator("button[type=submit]").click()
    message = page.locator(".message.success")
    message.wait_for()
    assert f"{person.login} is now linked to demo-admin" in message.inner_text()
    assert f"{opened} pull request" in message.inner_text()
    _shot(page, "account_linked", 1400)
    page.goto(f"{url}/teams/demo-team/?days=90")
    page.click("[data-role=yours] >> text=pull requests")
    page.wait_for_selector("[data-role=pull-requests]")
    accounts = page.locator("[data-role=account]").all_inner_texts()
    assert accounts and set(accounts) == {"(demo-admin)"}
    assert page.locator("[data-role=pull-requests] tbody tr").count() == opened
    _shot(page, "yours", 1400)

"""Working hours, targets and squads in real headless Chromium, at a desktop's
width (1400 px) and a phone's (390 px): an admin saves the settings page (and
sees the recompute), adds a squad on its page, the dashboard filtered by squad
in working hours with its targets, a member's read-only settings, and the "me"
view. Screenshots go to artifacts/browser/ (working_hours_*_1400.png, *_390.png)."""

from __future__ import annotations

import pytest

from apps.integrations.models import Installation, Repository
from apps.metrics.models import RecomputeRun, Squad, TeamMember
from apps.metrics.services.team_settings import team_settings_update
from tests.browser.pages import SCREENSHOTS, checked_shot, chromium, login
from tests.metrics.figures_fixture import at, pull_request, review

WIDTHS = (1400, 390)
JANUARY = "from=2025-01-01&to=2025-01-31"
PULL_REQUESTS = [
    # author, reviewer, opened, reviewed, merged (UTC; Berlin is UTC+1 in January)
    ("alice", "carol", "2025-01-10T15:00", "2025-01-13T09:00", "2025-01-13T11:00"),
    ("bob", "alice", "2025-01-14T09:00", "2025-01-14T13:00", "2025-01-15T09:00"),
    ("carol", "dave", "2025-01-20T08:00", "2025-01-20T10:00", "2025-01-20T12:00"),
    ("alice", "bob", "2025-01-21T08:00", "2025-01-22T15:00", "2025-01-23T10:00"),
]


def _story(team, owner) -> None:
    team.time_zone = "Europe/Berlin"
    team.targets = {"first_review": {"within": 4, "unit": "working_hours", "percentile": 50}}
    team.save()
    installation = Installation.objects.create(installation_id=42, team=team, account_login="acme")
    repository = Repository.objects.create(
        installation=installation, github_id=1, full_name="acme/api", tracked=True
    )
    people = {
        login: TeamMember.objects.create(team=team, github_id=index, login=login)
        for index, login in enumerate(["alice", "bob", "carol", "dave"], start=1)
    }
    TeamMember.objects.filter(login="alice").update(user=owner)
    web = Squad.objects.create(team=team, name="web")
    web.members.set([people["bob"], people["carol"]])
    for author, reviewer, opened, reviewed, merged in PULL_REQUESTS:
        row = pull_request(
            team, repository, author=people[author], pr_created_at=at(opened), merged_at=at(merged)
        )
        review(row, people[reviewer], "approved", reviewed)


def _shot(page, name: str, width: int) -> None:
    checked_shot(page, f"working_hours_{name}", width)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_it_sets_working_hours_squads_and_targets_in_the_browser(
    live_server, team, owner, member, monkeypatch, settings
):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
    _story(team, owner)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    url = live_server.url

    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, chromium(playwright) as browser:
        for width in WIDTHS:
            _settings(browser, url, width, team)
            _squads(browser, url, width)
            _dashboard(browser, url, width)
            _member_reads_settings(browser, url, width)


def _settings(browser, url, width, team) -> None:
    page = login(browser, url, width, "alice", "password-alice")
    page.goto(f"{url}/teams/acme/")
    page.click(".subnav >> text=Settings")
    page.wait_for_url(f"{url}/teams/acme/settings/")
    page.fill("input[name=work_start]", "08:00")
    page.fill("input[name=work_end]", "16:30")
    page.select_option("select[name=holiday_country]", "DE")
    page.fill("textarea[name=holidays]", "2025-01-13")
    page.fill("input[name=cycle_time_within]", "2")
    page.select_option("select[name=cycle_time_unit]", "working_days")
    page.click("button:has-text('Save settings')")
    page.wait_for_selector("text=Settings saved.")
    team.refresh_from_db()
    assert team.holiday_country == "DE"
    assert team.targets["cycle_time"]["unit"] == "working_days"
    _shot(page, "settings", width)
    # A bad value is refused with its reason, and what was sent stays.
    page.fill("input[name=time_zone]", "Mars/Olympus")
    page.click("button:has-text('Save settings')")
    page.wait_for_selector("text=Not saved: time_zone")
    assert page.input_value("input[name=time_zone]") == "Mars/Olympus"
    # Put back for the other width (its recompute runs in-process).
    team_settings_update(
        team=team,
        values={
            "working_hours": {"start": "09:00", "end": "17:00"},
            "holidays": [],
            "holiday_country": "",
        },
    )
    assert not RecomputeRun.objects.filter(status__in=RecomputeRun.ACTIVE).exists()
    page.context.close()


def _squads(browser, url, width) -> None:
    page = login(browser, url, width, "alice", "password-alice")
    page.goto(f"{url}/teams/acme/squads/")
    page.fill("[data-role=squad-new] input[name=name]", "api")
    page.check("[data-role=squad-new] input[value=alice]")
    page.check("[data-role=squad-new] input[value=bob]")
    page.click("button:has-text('Add the squad')")
    page.wait_for_selector("text=Added the squad api.")
    assert page.locator("[data-squad=api] .badge").count() == 2
    _shot(page, "squads", width)
    Squad.objects.filter(name="api").delete()
    page.context.close()


def _dashboard(browser, url, width) -> None:
    page = login(browser, url, width, "alice", "password-alice")
    page.goto(f"{url}/teams/acme/?{JANUARY}")
    page.select_option("[data-role=squad-filter]", "web")
    page.select_option("[data-role=hours-filter]", "working")
    page.click("[data-role=period-form] button[type=submit]")
    page.wait_for_url("**squad=web**")
    # web's pull requests: bob's #2 (working cycle 8 h) and carol's #3 (4 h).
    assert page.locator("[data-figure=merged]").inner_text() == "2"
    assert page.locator("[data-figure=cycle_median]").inner_text() == "6.0 h"
    assert page.locator("[data-role=targets] [data-role=target-met]").first.inner_text() == "met"
    # alice and dave review web's pull requests from outside it.
    assert page.locator("[data-role=outside-squad]").count() == 2
    _shot(page, "dashboard_squad", width)
    page.click("[data-role=me]")
    page.wait_for_url("**person=alice**")
    assert page.locator("[data-figure=merged]").inner_text() == "2"
    _shot(page, "me", width)
    page.context.close()


def _member_reads_settings(browser, url, width) -> None:
    page = login(browser, url, width, "bob", "password-bob")
    page.goto(f"{url}/teams/acme/settings/")
    assert page.locator("text=read only").is_visible()
    assert page.locator("button:has-text('Save settings')").count() == 0
    assert page.locator("input[name=time_zone]").is_disabled()
    _shot(page, "settings_member", width)
    page.context.close()

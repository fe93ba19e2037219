"""A member opens the dashboard on a few hundred pull requests in real headless
Chromium: the charts are drawn with data, the figures shown, a drill-down
followed. Screenshots are saved under artifacts/browser/."""

from __future__ import annotations

import pytest
from django.utils import timezone

from apps.metrics.models import PullRequest
from tests.browser.pages import SCREENSHOTS, chromium
from tests.metrics.generated_history import generated_history

CHARTS = ["phases", "merged", "cycle", "breakdown", "sizes", "reviewers"]


@pytest.mark.browser
def test_it_draws_the_dashboard_and_follows_a_drill_down(live_server, team, member, monkeypatch):
    generated_history(team=team, count=400, days=90, now=timezone.now())
    merged = PullRequest.objects.filter(
        team=team,
        merged_at__gte=timezone.now() - timezone.timedelta(days=29),
        author__is_bot=False,
    ).count()
    assert merged > 50
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")

    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, chromium(playwright) as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))

        page.goto(f"{live_server.url}/login/")
        page.fill("input[name=username]", "bob")
        page.fill("input[name=password]", "password-bob")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")

        page.goto(f"{live_server.url}/teams/acme/?days=90")
        for chart in CHARTS:
            page.wait_for_selector(f'canvas[data-chart="{chart}"][data-drawn="true"]')
        points = page.evaluate(
            """() => Array.from(document.querySelectorAll('canvas[data-chart]')).map(
                    canvas => [canvas.dataset.chart,
                               Chart.getChart(canvas).data.datasets
                                 .flatMap(d => d.data).filter(v => v !== null && v > 0).length])"""
        )
        assert dict(points).keys() == set(CHARTS)
        assert all(count > 0 for _chart, count in points), points
        assert errors == []
        merged_text = page.locator('[data-figure="merged"]').inner_text()
        assert int(merged_text) > 50
        assert "h" in page.locator('[data-figure="cycle_median"]').inner_text()
        assert "= " in page.locator("[data-role=phase-sum]").inner_text()

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)

        page.click('a:has([data-figure="merged"])')
        page.wait_for_selector("[data-role=pull-requests]")
        assert "figure=merged" in page.url
        rows = page.locator("[data-role=pull-requests] tbody tr").count()
        assert rows == min(50, int(merged_text))
        assert f"{merged_text} pull requests" in page.content()
        page.screenshot(path=str(SCREENSHOTS / "dashboard_drill_down.png"), full_page=True)
    assert (SCREENSHOTS / "dashboard.png").exists()

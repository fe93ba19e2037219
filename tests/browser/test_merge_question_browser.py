"""The merge question in real headless Chromium, at a desktop's width (1400 px)
and a phone's (390 px): "Your pull requests" answered with one click, an
email's link (the page, then its one button), signing in with GitHub (GitHub's
authorize page stood in for by the browser's router; the code exchange and
GET /user by respx on GitHub's real paths), and the dashboard's section.
Screenshots go to artifacts/browser/ (merge_question_*_1400.png, *_390.png)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
import respx
from django.contrib.auth import get_user_model
from django.utils import timezone

from apps.integrations.models import Installation, Repository
from apps.metrics.models import MergeQuestion, PullRequestEvent, TeamMember
from apps.metrics.services.merge_question_mail import merge_question_token
from apps.metrics.services.merge_questions import merge_question_answer, merge_question_ask
from apps.teams.models import Membership
from tests.browser.pages import SCREENSHOTS, checked_shot, chromium, login
from tests.github_app.keys import private_key_pem
from tests.metrics.figures_fixture import pull_request

WIDTHS = (1400, 390)
TITLES = [
    "Cache invoice totals per customer so the monthly statement renders quickly",
    "Validate refund input",
    "Fix time zones in the exports",
    "Add pagination to the orders list",
    "Move sessions into their own module",
    "Log slow webhook queries",
]


def _merged(team, repository, person, title: str, days_ago: float):
    now = timezone.now()
    return pull_request(
        team,
        repository,
        title=title,
        author=person,
        pr_created_at=now - timedelta(days=days_ago, hours=20),
        merged_at=now - timedelta(days=days_ago),
    )


def _asked(team, repository, person, title: str, days_ago: float) -> MergeQuestion:
    pr = _merged(team, repository, person, title, days_ago)
    question = merge_question_ask(pull_request=pr, now=pr.merged_at)
    assert question is not None and question.status == MergeQuestion.Status.ASKED
    return question


def _answer(question: MergeQuestion, answer: str) -> None:
    merge_question_answer(
        question_id=question.pk,
        user_id=question.user_id,
        answer=answer,
        channel="app",
        now=question.asked_at + timedelta(hours=2),
    )


def _story(team, owner):
    installation = Installation.objects.create(installation_id=42, team=team, account_login="acme")
    repository = Repository.objects.create(
        installation=installation, github_id=1, full_name="acme/api", tracked=True
    )
    alice = TeamMember.objects.create(team=team, github_id=11, login="alice-gh", user=owner)
    open_questions = [
        _asked(team, repository, alice, TITLES[0], 0.5),
        _asked(team, repository, alice, TITLES[1], 1.5),
        _asked(team, repository, alice, TITLES[2], 2.5),
    ]
    _answer(_asked(team, repository, alice, TITLES[3], 4), "little")
    _answer(_asked(team, repository, alice, TITLES[4], 20), "none")
    _asked(team, repository, alice, TITLES[5], 16)
    # Two more people answered this month: the team's figures show the answers.
    for n, (name, answer) in enumerate([("carol", "most"), ("dave", "half")], start=1):
        user = get_user_model().objects.create_user(name, password=f"pw-{name}")
        Membership.objects.create(user=user, team=team)
        person = TeamMember.objects.create(
            team=team, github_id=20 + n, login=f"{name}-gh", user=user
        )
        _answer(_asked(team, repository, person, f"Change {n} of {name}", 3 + n), answer)
    # bob has not linked his account: octocat's merge of two days ago waits for him.
    octocat = TeamMember.objects.create(team=team, github_id=583231, login="octocat")
    pr = _merged(team, repository, octocat, "Speed up the search list", 2)
    PullRequestEvent.objects.create(
        team=team,
        pull_request=pr,
        kind="merged",
        occurred_at=pr.merged_at,
        source="webhook",
        live=True,
    )
    return open_questions


def _shot(page, name: str, width: int) -> None:
    checked_shot(page, f"merge_question_{name}", width)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_it_answers_the_merge_question_in_the_browser(
    live_server, team, owner, member, monkeypatch, settings
):
    settings.GITHUB_APP_ID = "12345"
    settings.GITHUB_APP_CLIENT_ID = "Iv23client"
    settings.GITHUB_APP_CLIENT_SECRET = "client-secret-value"
    settings.GITHUB_APP_PRIVATE_KEY = private_key_pem()
    settings.GITHUB_API_URL = "https://api.github.com"
    settings.GITHUB_WEB_URL = "https://github.com"
    settings.PUBLIC_BASE_URL = live_server.url
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
    open_questions = _story(team, owner)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    url = live_server.url

    from playwright.sync_api import sync_playwright

    with (
        sync_playwright() as playwright,
        respx.mock(assert_all_called=False) as github,
    ):
        github.route(host="127.0.0.1").pass_through()
        github.route(host="localhost").pass_through()
        github.post("https://github.com/login/oauth/access_token").respond(
            200, json={"access_token": "ghu_usertoken", "token_type": "bearer", "scope": ""}
        )
        github.get("https://api.github.com/user").respond(
            200, json={"login": "octocat", "id": 583231, "type": "User"}
        )
        with chromium(playwright) as browser:
            for width in WIDTHS:
                _your_pull_requests(browser, url, width, open_questions)
                _email_link(browser, url, width, open_questions[1])
                _sign_in_with_github(browser, url, width, team, member)
                _dashboard(browser, url, width)


def _your_pull_requests(browser, url, width, open_questions) -> None:
    page = login(browser, url, width, "alice", "password-alice")
    page.goto(f"{url}/teams/acme/")
    page.click(".subnav >> text=Your pull requests")
    page.wait_for_url(f"{url}/teams/acme/your-pull-requests/")
    assert page.locator("[data-role=github-identity]").inner_text() == "On GitHub: alice-gh"
    _shot(page, "your_pull_requests", width)

    first = page.locator(f'[data-question="{open_questions[0].pk}"]')
    first.locator("button", has_text="About half").click()
    page.wait_for_selector("text=Recorded “About half” for acme/api#")
    assert (
        page.locator(f'[data-role=open-questions] [data-question="{open_questions[0].pk}"]').count()
        == 0
    )
    answered = page.locator(f'[data-role=answered] [data-question="{open_questions[0].pk}"]')
    assert answered.locator('button[aria-pressed="true"]').inner_text() == "About half"
    # Changed with a second click.
    answered.locator("button", has_text="Most").click()
    page.wait_for_selector("text=Recorded “Most”")
    _shot(page, "your_pull_requests_answered", width)
    open_questions[0].refresh_from_db()
    assert open_questions[0].answer == "most"
    # Put back for the other width.
    MergeQuestion.objects.filter(pk=open_questions[0].pk).update(
        answer="", answered_at=None, answered_via=""
    )
    page.context.close()


def _email_link(browser, url, width, question) -> None:
    # The person clicks the link in their mail, not signed in.
    page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
    link = f"{url}/merge-question/?" + urlencode(
        {"token": merge_question_token(question=question), "answer": "little"}
    )
    page.goto(link)
    assert page.locator("[data-role=chosen]").inner_text() == "A little"
    question.refresh_from_db()
    assert question.answer == ""  # opening the link recorded nothing
    _shot(page, "email_link", width)

    page.click("[data-role=confirm]")
    page.wait_for_selector("[data-role=recorded]")
    question.refresh_from_db()
    assert (question.answer, question.answered_via) == ("little", "email")
    _shot(page, "email_link_recorded", width)

    page.goto(f"{url}/merge-question/?token=forged&answer=most")
    assert "This link does not work" in page.locator("main").inner_text()
    _shot(page, "email_link_forged", width)
    MergeQuestion.objects.filter(pk=question.pk).update(
        answer="", answered_at=None, answered_via=""
    )
    page.context.close()


def _sign_in_with_github(browser, url, width, team, member) -> None:
    page = login(browser, url, width, "bob", "password-bob")
    page.goto(f"{url}/teams/acme/your-pull-requests/")
    assert page.locator("[data-role=link-github]").is_visible()
    _shot(page, "sign_in", width)

    def github_authorizes(route) -> None:
        # GitHub's page, after the person pressed "Authorize": back with a code.
        query = parse_qs(urlparse(route.request.url).query)
        assert query["client_id"] == ["Iv23client"]
        callback = query["redirect_uri"][0]
        assert callback == f"{url}/github/sign-in/callback/"
        route.fulfill(
            status=302,
            headers={"Location": f"{callback}?code=one-time-code&state={query['state'][0]}"},
        )

    page.route("https://github.com/login/oauth/authorize**", github_authorizes)
    page.click("button:has-text('Sign in with GitHub')")
    page.wait_for_selector("text=Your account is linked to octocat on GitHub.")
    assert page.locator("[data-role=github-identity]").inner_text() == "On GitHub: octocat"
    assert page.locator("[data-role=open-questions] .question").count() == 1
    assert "Speed up the search list" in page.locator("[data-role=open-questions]").inner_text()
    _shot(page, "signed_in", width)

    # Declining on GitHub: a page that says so.
    page.unroute("https://github.com/login/oauth/authorize**")
    TeamMember.objects.filter(team=team, user=member).update(user=None)
    MergeQuestion.objects.filter(user=member).delete()
    page.goto(f"{url}/teams/acme/your-pull-requests/")
    page.route(
        "https://github.com/login/oauth/authorize**",
        lambda route: route.fulfill(
            status=302,
            headers={
                "Location": f"{url}/github/sign-in/callback/?error=access_denied&state="
                + parse_qs(urlparse(route.request.url).query)["state"][0]
            },
        ),
    )
    page.click("button:has-text('Sign in with GitHub')")
    page.wait_for_selector("text=You declined on GitHub, so nothing was linked.")
    _shot(page, "sign_in_declined", width)
    page.context.close()


def _dashboard(browser, url, width) -> None:
    page = login(browser, url, width, "alice", "password-alice")
    page.goto(f"{url}/teams/acme/?days=30")
    section = page.locator("[data-role=ai-survey]")
    assert section.locator("[data-answer]").count() == 5
    section.scroll_into_view_if_needed()
    _shot(page, "dashboard", width)
    section.screenshot(path=str(SCREENSHOTS / f"merge_question_dashboard_survey_{width}.png"))
    page.context.close()

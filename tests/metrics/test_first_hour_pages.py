"""The dashboard and its lists as a newcomer reads them: a period form that
keeps what was asked, lists with the columns their rows have, tables that say
when they show only their first rows, reverts that name what they reverted,
and a repository filter that offers only what has numbers."""

from __future__ import annotations

import json
import re

import pytest

from apps.integrations.models import Repository
from apps.metrics.models import PullRequest, TeamMember
from tests.metrics.figures_fixture import at, january_history, pull_request, review

pytestmark = pytest.mark.django_db

JANUARY = "from=2025-01-01&to=2025-01-31"


@pytest.fixture
def history(team):
    return january_history(team)


def _form(page: str) -> str:
    start = page.index('data-role="period-form"')
    return page[start : page.index("</form>", start)]


def _page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.content.decode()[-2000:]
    return response.content.decode()


# --- the period form (14) ------------------------------------------------------------


def test_it_keeps_a_period_it_cannot_show_in_the_form(client, member, history):
    client.force_login(member)
    response = client.get("/teams/acme/?from=2025-03-10&to=2025-03-01&repository=acme/api")
    assert response.status_code == 400
    page = response.content.decode()
    assert "&#x27;from&#x27; is after &#x27;to&#x27;. (2025-03-10 is after 2025-03-01" in page
    form = _form(page)
    assert '<option value="" selected>From \u2013 to</option>' in form
    assert 'name="from" value="2025-03-10"' in form
    assert 'name="to" value="2025-03-01"' in form
    assert '<option value="acme/api" selected>' in form
    assert "selected>Last" not in form


def test_it_shows_the_asked_dates_in_the_form(client, member, history):
    client.force_login(member)
    form = _page(client, f"/teams/acme/?{JANUARY}")
    assert '<option value="" selected>From \u2013 to</option>' in form
    assert 'name="from" value="2025-01-01"' in form


def test_it_names_a_number_of_days_that_is_no_preset(client, member, history):
    client.force_login(member)
    page = _page(client, "/teams/acme/?days=14")
    assert '<option value="14" selected>Last 14 days</option>' in page
    page = _page(client, "/teams/acme/")
    assert '<option value="30" selected>Last 30 days</option>' in page


@pytest.mark.parametrize("days", ["abc", "0", "366", "\u0661\u0664", "14<b>"])
def test_it_offers_no_period_for_days_that_are_no_number_of_days(client, member, days):
    client.force_login(member)

    response = client.get("/teams/acme/", {"days": days})

    assert response.status_code == 400
    assert "must be a whole number from 1 to 365" in response.content.decode()
    offered = re.findall(r'<option value="([^"]*)"[^>]*>Last ', response.content.decode())
    assert offered == ["7", "30", "90"]


# --- the drill-down's columns (15) ---------------------------------------------------


def _header(page: str) -> list[str]:
    table = page[page.index('data-role="pull-requests"') :]
    return re.findall(r"<th[^>]*>([^<]+)</th>", table[: table.index("</thead>")])


def test_it_shows_when_each_pull_request_was_merged(client, member, history):
    client.force_login(member)
    page = _page(client, f"/teams/acme/pull-requests/?{JANUARY}&figure=merged")
    assert _header(page) == [
        "Pull request",
        "Author",
        "AI",
        "Opened",
        "Merged",
        "Cycle",
        "Coding",
        "Pickup",
        "Review",
        "Merge",
        "Size",
        "Reviews",
    ]
    assert "latest merged first" in page
    merged = re.findall(r'data-role="merged">([^<]*)<span class="time">([^<]*)<', page)
    assert merged == [
        ("2025-01-26", "10:00"),
        ("2025-01-10", "06:00"),
        ("2025-01-06", "11:00"),
        ("2025-01-03", "14:00"),
    ]
    legend = page[page.index('data-role="legend"') :]
    assert '<span class="badge ok">approved</span>' in legend
    assert '<span class="badge warn">changes requested</span>' in legend


def test_it_shows_the_waiting_time_of_the_waiting_list(client, member, history):
    client.force_login(member)
    page = _page(client, f"/teams/acme/pull-requests/?{JANUARY}&figure=waiting")
    assert _header(page) == [
        "Pull request",
        "Author",
        "AI",
        "Waiting since",
        "Waiting",
        "Size",
    ]
    assert "longest waiting first" in page
    assert re.search(r'data-role="waiting">\d+\.\d d<', page)


def test_it_shows_an_open_or_closed_list_without_phase_columns(client, member, history):
    client.force_login(member)
    page = _page(client, f"/teams/acme/pull-requests/?{JANUARY}&figure=open_now")
    assert "Cycle" not in _header(page) and "Open for" in _header(page)
    page = _page(client, f"/teams/acme/pull-requests/?{JANUARY}&figure=closed_unmerged")
    assert _header(page) == [
        "Pull request",
        "Author",
        "AI",
        "Opened",
        "Closed",
        "Size",
        "Reviews",
    ]


def test_it_orders_the_waiting_list_by_how_long_each_has_waited(client, member, team, history):
    # Opened first, but a draft until late: it has waited the least.
    pull_request(
        team,
        history["repository"],
        pr_created_at=at("2025-01-01T08:00"),
        ready_for_review_at=at("2025-01-28T08:00"),
        title="Late draft",
    )
    client.force_login(member)
    page = _page(client, f"/teams/acme/pull-requests/?{JANUARY}&figure=waiting")
    titles = re.findall(r'rel="noopener">acme/api#\d+</a> ([^<\n]+)', page)
    assert [title.strip() for title in titles] == ["Waiting", "Late draft"]


def test_it_says_which_pull_request_a_revert_reverted(client, member, team, history):
    reverted = PullRequest.objects.filter(team=team, author__login="alice").earliest("merged_at")
    revert = PullRequest.objects.get(is_revert=True)
    revert.reverts = reverted
    revert.reverts_number = reverted.number
    revert.save()
    client.force_login(member)
    page = _page(client, f"/teams/acme/pull-requests/?{JANUARY}&figure=reverts")
    assert (
        f'revert of <a href="{reverted.html_url}" rel="noopener" title="{reverted.title}">'
        f"#{reverted.number}</a>"
    ) in page


def test_it_says_a_revert_names_a_pull_request_not_seen_yet(client, member, team, history):
    PullRequest.objects.filter(is_revert=True).update(reverts_number=4321)
    client.force_login(member)
    page = _page(client, f"/teams/acme/pull-requests/?{JANUARY}&figure=reverts")
    assert "revert of #4321" in page
    assert "(not seen)" in page


# --- tables that say when they are cut (16) -------------------------------------------


@pytest.fixture
def busy_reviews(team, history):
    """Four reviewers each reviewing five authors: 20 pairs."""
    repository = history["repository"]
    people = [
        TeamMember.objects.create(team=team, github_id=900 + n, login=f"dev{n}") for n in range(9)
    ]
    for a, author in enumerate(people[:5]):
        pr = pull_request(
            team, repository, author=author, pr_created_at=at(f"2025-01-{a + 2:02}T08:00")
        )
        for reviewer in people[5:]:
            review(pr, reviewer, "commented", f"2025-01-{a + 3:02}T08:00")


def test_it_says_who_reviews_whom_shows_15_of_20_pairs_and_offers_the_rest(
    client, member, busy_reviews
):
    client.force_login(member)
    page = _page(client, f"/teams/acme/?{JANUARY}")
    pairs = page[page.index('data-role="review-pairs"') :]
    pairs = pairs[: pairs.index("</table>")]
    # 20 people's pairs and the history's 2 (carol→alice, alice→bob).
    assert pairs.count("<tr") - 1 == 22
    assert pairs.count("<tr hidden data-more>") == 7
    note = page[page.index('data-role="pairs-note"') :]
    assert "The 15 busiest of 22 pairs." in note
    assert 'data-after="All 22 pairs."' in note
    assert '<button type="button" class="link" data-role="show-rows">Show all 22</button>' in note
    # Each reviewer leads to the pull requests they reviewed.
    assert "figure=reviewer&amp;value=dev5" in pairs


def test_it_counts_every_pair_in_the_json(client, member, busy_reviews):
    client.force_login(member)
    figures = json.loads(client.get(f"/api/teams/acme/metrics/?{JANUARY}").content)
    assert figures["review_pairs_count"] == 22
    assert len(figures["review_pairs"]) == 22
    assert figures["reviewers_count"] == 6


def test_it_says_nothing_more_when_a_table_is_whole(client, member, history):
    client.force_login(member)
    page = _page(client, f"/teams/acme/?{JANUARY}")
    assert 'data-role="pairs-note"' not in page
    assert "data-more" not in page


# --- the repository filter, and linked people (17) --------------------------------------


def test_it_offers_only_repositories_with_numbers_in_the_filter(client, member, team, history):
    installation = history["repository"].installation
    Repository.objects.create(installation=installation, github_id=1, full_name="acme/sandbox")
    untracked_with_history = Repository.objects.create(
        installation=installation, github_id=2, full_name="acme/old"
    )
    pull_request(team, untracked_with_history, pr_created_at=at("2025-01-02T08:00"))
    client.force_login(member)
    page = _page(client, f"/teams/acme/?{JANUARY}")
    form = _form(page)
    offered = re.findall(r'<option value="(acme/[^"]+)"', form)
    assert offered == ["acme/api", "acme/old", "acme/web"]


def test_it_shows_the_linked_account_beside_the_github_name(client, member, team, history):
    TeamMember.objects.filter(team=team, login="alice").update(user=member)
    client.force_login(member)
    page = _page(client, f"/teams/acme/pull-requests/?{JANUARY}&figure=merged")
    assert 'alice <span class="muted" data-role="account" title="linked account">(bob)</span>' in (
        page
    )
    dashboard = _page(client, f"/teams/acme/?{JANUARY}")
    yours = dashboard[dashboard.index('data-role="yours"') :]
    assert "figure=author&amp;value=alice" in yours[:400]


def test_it_lists_one_persons_pull_requests(client, member, history):
    client.force_login(member)
    page = _page(client, f"/teams/acme/pull-requests/?{JANUARY}&figure=author&value=bob")
    assert page.count("<tr data-number=") == 3  # the revert, the waiting one, #8
    assert "opened by one person in the period: bob" in page

"""Every figure of the dashboard and the JSON API against values computed by
hand from tests/metrics/figures_fixture.py (see the comments there)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.metrics.models import TeamMember
from apps.teams.models import Team
from tests.metrics.figures_fixture import at, january_history, pull_request

JANUARY = "/api/teams/acme/metrics/?from=2025-01-01&to=2025-01-31"


@pytest.fixture
def history(team):
    return january_history(team)


@pytest.fixture
def january(client, member, history):
    client.force_login(member)
    response = client.get(JANUARY)
    assert response.status_code == 200, response.content
    return response.json()


def test_it_gives_the_period(january):
    assert january["period"] == {
        "from": "2025-01-01",
        "to": "2025-01-31",
        "time_zone": "UTC",
        "days": 31,
        "repository": None,
    }


def test_it_counts_peoples_pull_requests(january):
    assert january["pull_requests"] == {
        "opened": 6,
        "merged": 4,
        "closed_unmerged": 1,
        "open_now": 1,
    }
    assert january["bots"] == {"opened": 1, "merged": 1}


def test_it_counts_open_ones_of_people_and_of_deleted_accounts_not_of_bots(
    client, member, team, history
):
    bot = TeamMember.objects.get(team=team, is_bot=True)
    pull_request(team, history["repository"], author=bot, pr_created_at=at("2025-01-21T08:00"))
    # A deleted account's: GitHub's "ghost", stored without an author.
    pull_request(team, history["repository"], author=None, pr_created_at=at("2025-01-22T08:00"))
    client.force_login(member)

    figures = client.get(JANUARY).json()

    assert figures["pull_requests"]["open_now"] == 2


def test_it_gives_cycle_time_percentiles_by_linear_interpolation(january):
    # Merged: 6, 24, 26, 28 h. Median (24+26)/2; p90 at 2.7: 26 + 0.7 x 2.
    assert january["cycle_time_hours"] == {"median": 25.0, "p90": 27.4, "mean": 21.0}


def test_it_gives_time_to_first_review_of_those_first_reviewed_in_the_period(january):
    # First reviews: 1, 2, 24 h (the bot's pull request left out). p90 at 1.8: 2 + 0.8 x 22.
    assert january["time_to_first_review_hours"] == {"median": 2.0, "p90": 19.6, "count": 3}


def test_it_breaks_the_cycle_time_down_into_phases_that_add_up(january):
    # coding 0+6+0+0, pickup 2+18+0+1, review 22+0+0+0, merge 4+2+6+23, over 4.
    phases = january["phases_hours"]
    assert phases == {"coding": 1.5, "pickup": 5.25, "review": 5.5, "merge": 8.75}
    assert sum(phases.values()) == pytest.approx(january["cycle_time_hours"]["mean"])


def test_it_counts_reverts_and_hotfixes_as_shares_of_merged(january):
    assert january["reverts"] == {"count": 1, "share": 0.25}
    assert january["hotfixes"] == {"count": 1, "share": 0.25}


def test_it_gives_weekly_figures_from_monday(january):
    weekly = {week["week"]: week for week in january["weekly"]}
    assert list(weekly) == ["2024-12-30", "2025-01-06", "2025-01-13", "2025-01-20", "2025-01-27"]
    assert [w["merged"] for w in weekly.values()] == [1, 2, 0, 1, 0]
    assert [w["cycle_time_median_hours"] for w in weekly.values()] == [28.0, 16.0, None, 24.0, None]
    assert weekly["2025-01-06"]["cycle_time_p90_hours"] == pytest.approx(24.0)
    assert weekly["2025-01-06"]["phases_hours"] == {
        "coding": 3.0,
        "pickup": 9.0,
        "review": 0.0,
        "merge": 4.0,
    }


def test_it_counts_reviews_per_reviewer_leaving_out_bots_and_self_reviews(january):
    assert january["reviewers"] == [
        {"login": "carol", "reviews": 3, "approvals": 1, "pull_requests": 2},
        {"login": "alice", "reviews": 1, "approvals": 1, "pull_requests": 1},
    ]
    assert january["review_pairs"] == [
        {"reviewer": "carol", "author": "alice", "reviews": 3},
        {"reviewer": "alice", "author": "bob", "reviews": 1},
    ]


def test_it_buckets_sizes_against_cycle_time(january):
    sizes = {
        size["size"]: (size["merged"], size["cycle_time_median_hours"]) for size in january["sizes"]
    }
    assert sizes == {
        "under_20": (1, 28.0),
        "20_100": (0, None),
        "100_250": (1, 26.0),
        "250_500": (0, None),
        "over_500": (1, 24.0),
        "unknown": (1, 6.0),
    }


def test_it_lists_pull_requests_waiting_for_a_first_review(january):
    [waiting] = january["waiting_for_review"]
    assert waiting["repository"] == "acme/api"
    assert waiting["title"] == "Waiting"
    assert waiting["author"] == "bob"
    assert waiting["hours_waiting"] > 24 * 300  # opened 2025-01-20, the test runs later


def test_it_gives_the_previous_period_of_the_same_length(january):
    previous = january["previous"]
    assert previous["period"] == {"from": "2024-12-01", "to": "2024-12-31", "time_zone": "UTC"}
    assert previous["pull_requests"]["merged"] == 1
    assert previous["cycle_time_hours"]["median"] == 48.0


def test_it_filters_by_repository(client, member, history):
    client.force_login(member)
    data = client.get(JANUARY + "&repository=acme/web").json()
    assert data["pull_requests"]["merged"] == 1
    assert data["cycle_time_hours"]["median"] == 24.0
    assert data["phases_hours"] == {"coding": 0.0, "pickup": 1.0, "review": 0.0, "merge": 23.0}
    assert data["waiting_for_review"] == []
    assert data["period"]["repository"] == "acme/web"


def test_it_gives_nulls_for_a_period_without_pull_requests(client, member, history):
    client.force_login(member)
    data = client.get("/api/teams/acme/metrics/?from=2030-01-01&to=2030-01-07").json()
    assert data["pull_requests"] == {"opened": 0, "merged": 0, "closed_unmerged": 0, "open_now": 1}
    assert data["cycle_time_hours"] == {"median": None, "p90": None, "mean": None}
    assert data["time_to_first_review_hours"]["median"] is None
    assert data["phases_hours"] == {"coding": None, "pickup": None, "review": None, "merge": None}
    assert data["reverts"] == {"count": 0, "share": None}
    assert data["reviewers"] == []


def test_it_counts_days_in_the_teams_time_zone(client, member, team, history):
    team.time_zone = "America/New_York"
    team.save()
    # 2025-02-01 03:00 UTC is still January 31 in New York.
    pull_request(
        team,
        history["repository"],
        pr_created_at=at("2025-01-31T20:00"),
        merged_at=at("2025-02-01T03:00"),
    )
    client.force_login(member)
    data = client.get(JANUARY).json()
    assert data["period"]["time_zone"] == "America/New_York"
    assert data["pull_requests"]["merged"] == 5
    assert data["weekly"][-1] == {**data["weekly"][-1], "week": "2025-01-27", "merged": 1}


def test_a_team_never_sees_another_teams_numbers(client, member, history):
    other = Team.objects.create(name="Other", slug="other")
    january_history(other)
    client.force_login(member)
    data = client.get(JANUARY).json()
    assert data["pull_requests"]["merged"] == 4
    assert data["reviewers"][0]["reviews"] == 3


def test_its_query_count_does_not_grow_with_the_pull_requests(client, member, team, history):
    client.force_login(member)
    with CaptureQueriesContext(connection) as few:
        client.get(JANUARY)
    for hour in range(30):
        pull_request(
            team,
            history["repository"],
            pr_created_at=at("2025-01-15T00:00"),
            merged_at=at(f"2025-01-16T{hour % 24:02d}:00"),
            first_review_at=at("2025-01-15T01:00"),
        )
    with CaptureQueriesContext(connection) as many:
        client.get(JANUARY)
    assert len(many) == len(few)
    assert len(few) <= 20

"""hours=, squad= and person= on the JSON API, the dashboard, its lists and CSV,
with figures computed by hand; squads through their API; the "me" view.

The team works in Europe/Berlin (UTC+1 in January), Monday to Friday
09:00-17:00. Squads: api = alice and bob, web = bob and carol (bob in both).

- #1 alice: opened Fri 10 Jan 16:00, reviewed by carol Mon 13 10:00, merged
  Mon 12:00. Calendar: first review 66 h, cycle 68 h. Working: 1 + 1 = 2 h, 4 h.
- #2 bob: opened Tue 14 Jan 10:00, reviewed by alice 14:00, merged Wed 15
  10:00. Calendar: 4 h, 24 h. Working: 4 h, 7 + 1 = 8 h.
- #3 carol: opened Mon 20 Jan 09:00, reviewed by dave 11:00, merged 13:00.
  Calendar and working: 2 h, 4 h.
"""

from __future__ import annotations

import json

import pytest

from apps.metrics.models import PullRequest, Squad, TeamMember
from apps.metrics.services.api_tokens import api_token_create
from apps.teams.models import Team
from tests.metrics.figures_fixture import at, pull_request, review

API = "/api/teams/acme/metrics/?from=2025-01-01&to=2025-01-31"
SQUADS = "/api/teams/acme/squads/"


@pytest.fixture
def people(team, repository):
    team.time_zone = "Europe/Berlin"
    team.save()
    found = {
        login: TeamMember.objects.create(team=team, github_id=index, login=login)
        for index, login in enumerate(["alice", "bob", "carol", "dave"], start=1)
    }
    api = Squad.objects.create(team=team, name="api")
    api.members.set([found["alice"], found["bob"]])
    web = Squad.objects.create(team=team, name="web")
    web.members.set([found["bob"], found["carol"]])
    for number, (author, reviewer, opened, reviewed, merged) in enumerate(
        [
            ("alice", "carol", "2025-01-10T15:00", "2025-01-13T09:00", "2025-01-13T11:00"),
            ("bob", "alice", "2025-01-14T09:00", "2025-01-14T13:00", "2025-01-15T09:00"),
            ("carol", "dave", "2025-01-20T08:00", "2025-01-20T10:00", "2025-01-20T12:00"),
        ],
        start=1,
    ):
        row = pull_request(
            team,
            repository,
            number=number,
            author=found[author],
            pr_created_at=at(opened),
            merged_at=at(merged),
        )
        review(row, found[reviewer], "approved", reviewed)
    return found


@pytest.fixture
def read_token(team, owner):
    return api_token_create(team=team, name="read", created_by=owner, scopes=["read"])[1]


@pytest.fixture
def admin_token(team, owner):
    return api_token_create(team=team, name="admin", created_by=owner, scopes=["admin"])[1]


def get(client, token, query=""):
    response = client.get(API + query, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize(
    ("query", "merged", "cycle", "first_review", "echo"),
    [
        ("", 3, 24.0, 4.0, ("calendar", None, None)),
        ("&hours=working", 3, 4.0, 2.0, ("working", None, None)),
        ("&squad=api", 2, 46.0, 35.0, ("calendar", "api", None)),
        ("&squad=api&hours=working", 2, 6.0, 3.0, ("working", "api", None)),
        ("&squad=web", 2, 14.0, 3.0, ("calendar", "web", None)),
        ("&squad=web&hours=working", 2, 6.0, 3.0, ("working", "web", None)),
        ("&person=alice", 1, 68.0, 66.0, ("calendar", None, "alice")),
        ("&person=ALICE&hours=working", 1, 4.0, 2.0, ("working", None, "alice")),
        ("&squad=web&person=bob", 1, 24.0, 4.0, ("calendar", "web", "bob")),
        ("&squad=api&person=carol", 0, None, None, ("calendar", "api", "carol")),
    ],
)
def test_it_gives_the_hand_computed_figures_of_each_scope(
    client, people, read_token, query, merged, cycle, first_review, echo
):
    figures = get(client, read_token, query)
    assert figures["pull_requests"]["merged"] == merged
    assert figures["cycle_time_hours"]["median"] == cycle
    assert figures["time_to_first_review_hours"]["median"] == first_review
    assert (figures["hours"], figures["squad"], figures["person"]) == echo


def test_it_uses_the_teams_default_hours(client, team, people, read_token):
    team.default_hours = "working"
    team.save()
    figures = get(client, read_token)
    assert figures["hours"] == "working"
    assert figures["cycle_time_hours"]["median"] == 4.0
    assert get(client, read_token, "&hours=calendar")["cycle_time_hours"]["median"] == 24.0


def test_it_shows_who_outside_the_squad_reviews_it(client, people, read_token):
    figures = get(client, read_token, "&squad=api")
    assert {(r["login"], r["in_squad"]) for r in figures["reviewers"]} == {
        ("carol", False),
        ("alice", True),
    }
    assert {
        (p["reviewer"], p["author"], p["reviewer_in_squad"]) for p in figures["review_pairs"]
    } == {
        ("carol", "alice", False),
        ("alice", "bob", True),
    }
    web = get(client, read_token, "&squad=web")
    assert {(r["login"], r["in_squad"]) for r in web["reviewers"]} == {
        ("alice", False),
        ("dave", False),
    }


def test_a_persons_review_load_is_what_they_gave_and_were_given(client, people, read_token):
    figures = get(client, read_token, "&person=alice")
    assert {(p["reviewer"], p["author"]) for p in figures["review_pairs"]} == {
        ("carol", "alice"),
        ("alice", "bob"),
    }


@pytest.mark.parametrize(
    "query",
    [
        "&squad=nope",
        "&person=nobody",
        "&hours=both",
        "&hours=working&hours=calendar",
        "&squad=api%00",
        "&person=" + "a" * 300,
        "&squad=theirs",
    ],
)
def test_it_refuses_a_scope_that_is_not_the_teams(client, people, read_token, query):
    other = Team.objects.create(name="Other", slug="other")
    Squad.objects.create(team=other, name="theirs")
    response = client.get(API + query, HTTP_AUTHORIZATION=f"Bearer {read_token}")
    assert response.status_code == 400
    assert response.json()["error"]


def test_the_drill_down_and_csv_take_the_scope(client, member, people):
    client.force_login(member)
    page = client.get("/teams/acme/pull-requests/?from=2025-01-01&to=2025-01-31&squad=web")
    assert page.status_code == 200
    numbers = {row.number for row in page.context["page"].object_list}
    assert numbers == {2, 3}
    assert b"squad web" in page.content
    working = client.get(
        "/teams/acme/pull-requests/?from=2025-01-01&to=2025-01-31&person=bob&hours=working"
    )
    assert [row.shown_hours["cycle_time"] for row in working.context["page"].object_list] == [8.0]
    assert b"&amp;hours=working" in working.content
    csv = client.get(
        "/teams/acme/pull-requests.csv?from=2025-01-01&to=2025-01-31&squad=api&hours=working"
    )
    lines = b"".join(csv.streaming_content).decode().splitlines()
    header = lines[0].split(",")
    rows = {
        line.split(",")[1]: dict(zip(header, line.split(","), strict=True)) for line in lines[1:]
    }
    assert set(rows) == {"1", "2"}
    assert (rows["1"]["cycle_time_hours"], rows["1"]["hours"]) == ("4.0", "working")
    assert rows["2"]["cycle_time_hours"] == "8.0"


def test_the_dashboard_filters_by_squad_and_hours(client, member, people):
    client.force_login(member)
    page = client.get("/teams/acme/?from=2025-01-01&to=2025-01-31&squad=api&hours=working")
    content = page.content.decode()
    assert page.status_code == 200
    assert 'data-figure="merged">2<' in content
    assert 'data-figure="cycle_median">6.0 h<' in content
    assert '<option value="api" selected>' in content
    # carol reviews api's pull requests from outside it; alice is in it.
    assert content.count('data-role="outside-squad"') == 1
    bad = client.get("/teams/acme/?squad=nope")
    assert bad.status_code == 400
    assert "Unknown squad" in bad.content.decode()


def test_me_is_the_dashboard_of_the_linked_person(client, owner, member, people):
    TeamMember.objects.filter(login="carol").update(user=owner)
    client.force_login(owner)
    response = client.get("/teams/acme/me/")
    assert response.status_code == 302
    assert response["Location"] == "/teams/acme/?person=carol"
    me = client.get(response["Location"]).content.decode()
    assert 'data-role="person-note"' in me
    assert 'href="?days=30">Everyone' in me
    client.force_login(member)
    unlinked = client.get("/teams/acme/me/")
    assert unlinked.status_code == 200
    assert b"not linked" in unlinked.content


# --- the squads API -------------------------------------------------------------


def send(client, method, token, url, body):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return getattr(client, method)(
        url, data=data, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )


def test_it_creates_lists_changes_and_deletes_a_squad(client, people, admin_token, repository):
    created = send(
        client,
        "post",
        admin_token,
        SQUADS,
        {"name": "platform", "members": ["Dave", "alice"], "repositories": [repository.full_name]},
    )
    assert created.status_code == 201, created.content
    squad = created.json()
    assert squad["members"] == ["alice", "dave"]
    assert squad["repositories"] == [repository.full_name]
    listed = client.get(SQUADS, HTTP_AUTHORIZATION=f"Bearer {admin_token}").json()["squads"]
    assert [s["name"] for s in listed] == ["api", "platform", "web"]
    url = f"{SQUADS}{squad['id']}/"
    changed = send(client, "put", admin_token, url, {"members": ["carol"], "repositories": []})
    assert changed.json()["members"] == ["carol"]
    assert changed.json()["repositories"] == []
    assert send(client, "delete", admin_token, url, "").status_code == 200
    assert not Squad.objects.filter(name="platform").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "api"}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x\x00"}, "name"),
        ({"name": 5}, "name"),
        ({"members": ["x"]}, "name"),
        ({"name": "n", "members": ["nobody"]}, "members"),
        ({"name": "n", "members": "alice"}, "members"),
        ({"name": "n", "members": ["alice\x00"]}, "members"),
        ({"name": "n", "repositories": ["acme/nowhere"]}, "repositories"),
        ({"name": "n", "repositories": ["not a name"]}, "repositories"),
        ({"name": "n", "colour": "red"}, "colour"),
    ],
)
def test_it_refuses_a_bad_squad_with_a_400_naming_the_field(
    client, people, admin_token, body, field
):
    response = send(client, "post", admin_token, SQUADS, body)
    assert response.status_code == 400
    assert response.json()["error"].startswith(f"{field}:")
    assert Squad.objects.count() == 2


def test_it_refuses_a_duplicate_name_on_change(client, people, admin_token):
    web = Squad.objects.get(name="web")
    response = send(client, "put", admin_token, f"{SQUADS}{web.pk}/", {"name": "api"})
    assert response.status_code == 400
    assert "already" in response.json()["error"]


def test_no_squad_crosses_teams(client, people, admin_token):
    other = Team.objects.create(name="Other", slug="other")
    theirs = Squad.objects.create(team=other, name="theirs")
    stranger = TeamMember.objects.create(team=other, github_id=99, login="stranger")
    url = f"{SQUADS}{theirs.pk}/"
    assert send(client, "put", admin_token, url, {"name": "mine"}).status_code == 404
    assert send(client, "delete", admin_token, url, "").status_code == 404
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {admin_token}").status_code == 404
    refused = send(client, "post", admin_token, SQUADS, {"name": "n", "members": [stranger.login]})
    assert refused.status_code == 400
    assert Squad.objects.get(pk=theirs.pk).name == "theirs"


def test_a_read_token_and_a_member_cannot_change_squads(client, people, read_token, member):
    assert send(client, "post", read_token, SQUADS, {"name": "n"}).status_code == 403
    client.force_login(member)
    assert client.get(SQUADS).status_code == 200
    assert client.post(SQUADS, data="{}", content_type="application/json").status_code == 403
    assert client.post("/teams/acme/squads/", {"name": "n"}).status_code == 403
    assert Squad.objects.count() == 2


def test_an_admin_manages_squads_on_the_page(client, owner, people):
    client.force_login(owner)
    added = client.post("/teams/acme/squads/", {"name": "mobile", "members": ["dave", "bob"]})
    assert added.status_code == 302
    squad = Squad.objects.get(name="mobile")
    assert set(squad.members.values_list("login", flat=True)) == {"bob", "dave"}
    refused = client.post("/teams/acme/squads/", {"name": "mobile"})
    assert refused.status_code == 400
    assert b"already has a squad" in refused.content
    client.post(f"/teams/acme/squads/{squad.pk}/", {"name": "mobile", "members": ["dave"]})
    assert list(squad.members.values_list("login", flat=True)) == ["dave"]
    client.post(f"/teams/acme/squads/{squad.pk}/", {"delete": "1"})
    assert not Squad.objects.filter(name="mobile").exists()
    assert PullRequest.objects.count() == 3


# --- targets --------------------------------------------------------------------


def test_it_shows_each_target_whether_it_was_met_and_the_share_within(
    client, team, people, read_token
):
    team.targets = {
        "first_review": {"within": 4, "unit": "working_hours", "percentile": 50},
        # Half a working day: 4 working hours.
        "cycle_time": {"within": 0.5, "unit": "working_days", "percentile": 50},
    }
    team.save()
    targets = get(client, read_token)["targets"]
    # Working first reviews 2, 4, 2: p50 2 <= 4, all three within.
    assert targets["first_review"] == {
        "within": 4.0,
        "unit": "working_hours",
        "percentile": 50,
        "label": "time to first review p50 within 4 working hours",
        "hours": "working",
        "limit_hours": 4.0,
        "value_hours": 2.0,
        "met": True,
        "count": 3,
        "count_within": 3,
        "count_outside": 0,
        "share_within": 1.0,
    }
    # Working cycle times 4, 8, 4: p50 4 <= 4; #2 (8 h) is outside.
    cycle = targets["cycle_time"]
    assert (cycle["limit_hours"], cycle["value_hours"], cycle["met"]) == (4.0, 4.0, True)
    assert (cycle["count"], cycle["count_outside"], cycle["share_within"]) == (3, 1, 0.6667)
    # The same in a squad: api's are #1 (4 h) and #2 (8 h).
    squad = get(client, read_token, "&squad=api")["targets"]["cycle_time"]
    assert (squad["value_hours"], squad["met"], squad["share_within"]) == (6.0, False, 0.5)


def test_a_calendar_target_is_read_in_calendar_hours_whatever_the_page_shows(
    client, team, people, read_token
):
    team.targets = {"cycle_time": {"within": 1, "unit": "days", "percentile": 90}}
    team.save()
    # Calendar cycle times 4, 24, 68: p90 by interpolation 24 + 0.8 * 44 = 59.2.
    cycle = get(client, read_token, "&hours=working")["targets"]["cycle_time"]
    assert (cycle["limit_hours"], cycle["value_hours"], cycle["met"]) == (24.0, 59.2, False)
    assert (cycle["hours"], cycle["count_within"], cycle["count_outside"]) == ("calendar", 2, 1)


def test_the_dashboard_shows_targets_and_the_list_of_those_outside(client, team, member, people):
    team.targets = {"cycle_time": {"within": 0.5, "unit": "working_days"}}
    team.save()
    client.force_login(member)
    page = client.get("/teams/acme/?from=2025-01-01&to=2025-01-31").content.decode()
    assert 'data-role="target-met">met<' in page
    assert 'data-role="target-share">67%<' in page
    assert "figure=outside_target&amp;value=cycle_time" in page
    outside = client.get(
        "/teams/acme/pull-requests/?from=2025-01-01&to=2025-01-31&figure=outside_target&value=cycle_time"
    )
    assert [row.number for row in outside.context["page"].object_list] == [2]
    no_target = client.get(
        "/teams/acme/pull-requests/?from=2025-01-01&to=2025-01-31&figure=outside_target&value=first_review"
    )
    assert no_target.status_code == 400


def test_the_dashboard_says_when_its_figures_are_being_recomputed(client, team, member, people):
    from apps.metrics.services.recompute import recompute_run_start

    client.force_login(member)
    assert b'data-role="recomputing"' not in client.get("/teams/acme/").content
    recompute_run_start(team=team, reason="calendar changed")
    assert b'data-role="recomputing"' in client.get("/teams/acme/").content


def test_working_hours_stay_in_hours_on_the_page(client, team, member, people):
    """70 working hours are not "2.9 d": a day of working hours is not 24."""
    PullRequest.objects.filter(number=1).update(cycle_time_working_hours=70.0)
    client.force_login(member)
    page = client.get("/teams/acme/?from=2025-01-01&to=2025-01-31&person=alice&hours=working")
    assert 'data-figure="cycle_median">70.0 h<' in page.content.decode()
    calendar = client.get("/teams/acme/?from=2025-01-01&to=2025-01-31&person=alice")
    assert 'data-figure="cycle_median">2.8 d<' in calendar.content.decode()


def test_a_squad_with_repositories_counts_only_its_repositories(
    client, team, people, read_token, repository
):
    from apps.integrations.models import Repository

    other = Repository.objects.create(
        installation=repository.installation, github_id=777, full_name="acme/web", tracked=True
    )
    pull_request(
        team,
        other,
        number=9,
        author=people["alice"],
        pr_created_at=at("2025-01-27T09:00"),
        merged_at=at("2025-01-27T10:00"),
    )
    assert get(client, read_token, "&squad=api")["pull_requests"]["merged"] == 3
    Squad.objects.get(name="api").repositories.set([repository])
    figures = get(client, read_token, "&squad=api")
    assert figures["pull_requests"]["merged"] == 2
    assert figures["cycle_time_hours"]["median"] == 46.0
    # The other repository, in a squad that has only acme/api: a clear 400.
    refused = client.get(
        API + "&squad=api&repository=acme/web", HTTP_AUTHORIZATION=f"Bearer {read_token}"
    )
    assert refused.status_code == 400
    assert "is not one" in refused.json()["error"]
    assert (
        get(client, read_token, "&squad=api&repository=" + repository.full_name)["pull_requests"][
            "merged"
        ]
        == 2
    )


def test_a_member_reads_the_squads_page(client, member, people):
    client.force_login(member)
    page = client.get("/teams/acme/squads/")
    assert page.status_code == 200
    assert b'data-squad="web"' in page.content
    assert b"Add a squad" not in page.content


def test_a_squad_with_no_one_in_it_has_no_figures(client, member, team, people, read_token):
    Squad.objects.create(team=team, name="new")
    figures = get(client, read_token, "&squad=new")
    assert figures["pull_requests"] == {
        "opened": 0,
        "merged": 0,
        "closed_unmerged": 0,
        "open_now": 0,
    }
    assert figures["cycle_time_hours"]["median"] is None
    assert figures["reviewers"] == []
    client.force_login(member)
    assert client.get("/teams/acme/?squad=new").status_code == 200
    assert client.get("/teams/acme/pull-requests/?squad=new").status_code == 200
    assert client.get("/teams/acme/pull-requests.csv?squad=new").status_code == 200


def test_time_waiting_for_review_is_in_the_hours_asked_for(
    client, team, member, people, read_token, repository, monkeypatch
):
    # Opened Friday 17 Jan 16:00 in Berlin; it is now Monday 20 Jan 10:00 there.
    pull_request(
        team, repository, number=5, author=people["dave"], pr_created_at=at("2025-01-17T15:00")
    )
    monkeypatch.setattr("django.utils.timezone.now", lambda: at("2025-01-20T09:00"))
    calendar = get(client, read_token)["waiting_for_review"]
    working = get(client, read_token, "&hours=working")["waiting_for_review"]
    assert [(row["number"], row["hours_waiting"]) for row in calendar] == [(5, 66.0)]
    assert [(row["number"], row["hours_waiting"]) for row in working] == [(5, 2.0)]
    client.force_login(member)
    page = client.get("/teams/acme/pull-requests/?figure=waiting&hours=working")
    assert [row.waiting_hours for row in page.context["page"].object_list] == [2.0]


def test_the_lead_time_of_a_squad_is_its_pull_requests(client, people, read_token):
    from apps.metrics.services.recompute import pull_requests_recompute

    # Each deployed a day (24 calendar hours) after it was merged.
    for row in PullRequest.objects.select_related("team"):
        row.deployed_at = row.merged_at + (at("2025-01-02T00:00") - at("2025-01-01T00:00"))
        row.save()
    pull_requests_recompute(list(PullRequest.objects.select_related("team")))
    # Lead times: #1 68 + 24 = 92, #2 24 + 24 = 48, #3 4 + 24 = 28.
    everyone = get(client, read_token)["deployments"]["lead_time_hours"]
    assert (everyone["median"], everyone["count"]) == (48.0, 3)
    web = get(client, read_token, "&squad=web")["deployments"]["lead_time_hours"]
    assert (web["median"], web["count"]) == (38.0, 2)
    alice = get(client, read_token, "&person=alice")["deployments"]["lead_time_hours"]
    assert (alice["median"], alice["count"]) == (92.0, 1)

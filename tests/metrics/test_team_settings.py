"""The team settings: the page (admins change, members read) and
GET/PUT /api/teams/<slug>/settings/, with a 400 naming each bad field; a change
of calendar recomputes the team's stored durations."""

from __future__ import annotations

import datetime
import json

import pytest
from django.test import Client

from apps.metrics.models import PullRequest, RecomputeRun
from apps.metrics.services.api_tokens import api_token_create
from apps.metrics.services.recompute import recompute_run_continue, recompute_run_start
from apps.teams.models import Team
from tests.metrics.figures_fixture import at, pull_request

URL = "/api/teams/acme/settings/"
PAGE = "/teams/acme/settings/"


@pytest.fixture
def admin_token(team, owner):
    _row, token = api_token_create(team=team, name="settings", created_by=owner, scopes=["admin"])
    return token


@pytest.fixture
def read_token(team, owner):
    _row, token = api_token_create(team=team, name="read", created_by=owner, scopes=["read"])
    return token


def put(client: Client, token: str, body: object, url: str = URL):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.put(
        url, data=data, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )


def test_it_gives_the_defaults_to_a_read_token(client, team, read_token):
    response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {read_token}")
    assert response.status_code == 200
    assert response.json() == {
        "name": "Acme",
        "time_zone": "UTC",
        "working_days": [1, 2, 3, 4, 5],
        "working_hours": {"start": "09:00", "end": "17:00"},
        "holidays": [],
        "holiday_country": "",
        "default_hours": "calendar",
        "targets": {},
        "recompute": None,
    }


def test_it_changes_every_setting_with_an_admin_token(team, admin_token):
    client = Client(enforce_csrf_checks=True)
    body = {
        "time_zone": "Europe/Berlin",
        "working_days": [5, 1, 2],
        "working_hours": {"start": "08:30", "end": "16:00"},
        "holidays": ["2025-12-24", "2025-12-31"],
        "holiday_country": "de",
        "default_hours": "working",
        "targets": {
            "first_review": {"within": 4, "unit": "working_hours"},
            "cycle_time": {"within": 2, "unit": "working_days", "percentile": 50},
        },
    }
    response = put(client, admin_token, body)
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["working_days"] == [1, 2, 5]
    assert answer["holiday_country"] == "DE"
    assert answer["targets"]["first_review"] == {
        "within": 4.0,
        "unit": "working_hours",
        "percentile": 50,
    }
    team.refresh_from_db()
    assert team.time_zone == "Europe/Berlin"
    assert (team.work_starts_at, team.work_ends_at) == (datetime.time(8, 30), datetime.time(16))
    assert team.default_hours == "working"


def test_it_refuses_a_read_token_a_member_and_another_team(client, team, read_token, member):
    assert put(client, read_token, {"default_hours": "working"}).status_code == 403
    client.force_login(member)
    refused = client.put(URL, data="{}", content_type="application/json")
    assert refused.status_code == 403
    _row, other = api_token_create(
        team=Team.objects.create(name="Other", slug="other"),
        name="x",
        created_by=None,
        scopes=["admin"],
    )
    assert put(client, other, {"default_hours": "working"}).status_code == 404
    team.refresh_from_db()
    assert team.default_hours == "calendar"


def test_it_needs_the_csrf_token_of_a_logged_in_admin(team, owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    response = client.put(URL, data='{"default_hours": "working"}', content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"time_zone": "Europe/Berlin\x00"}, "time_zone"),
        ({"time_zone": 7}, "time_zone"),
        # Listed by zoneinfo on Debian, but no place: the server's own zone, tzdata's placeholder.
        ({"time_zone": "localtime"}, "time_zone"),
        ({"time_zone": "Factory"}, "time_zone"),
        ({"working_days": [0, 1]}, "working_days"),
        ({"working_days": [1, 8]}, "working_days"),
        ({"working_days": [1, 1]}, "working_days"),
        ({"working_days": ["1"]}, "working_days"),
        ({"working_days": [True]}, "working_days"),
        ({"working_days": []}, "working_days"),
        ({"working_hours": {"start": "25:00", "end": "26:00"}}, "working_hours.start"),
        ({"working_hours": {"start": "09:00", "end": "09:00"}}, "working_hours"),
        ({"working_hours": {"start": "17:00", "end": "09:00"}}, "working_hours"),
        (
            {"working_hours": {"start": "\u0660\u0669:\u0660\u0660", "end": "17:00"}},
            "working_hours.start",
        ),
        ({"working_hours": {"start": "9:00", "end": "17:00"}}, "working_hours.start"),
        ({"working_hours": {"start": "09:00"}}, "working_hours"),
        ({"working_hours": "09:00-17:00"}, "working_hours"),
        ({"holidays": ["2025-02-30"]}, "holidays"),
        ({"holidays": ["\u0662\u0660\u0662\u0665-\u0660\u0661-\u0660\u0661"]}, "holidays"),
        ({"holidays": "2025-01-01"}, "holidays"),
        ({"holidays": ["2025-01-01"] * 1001}, "holidays"),
        ({"holiday_country": "XX"}, "holiday_country"),
        ({"default_hours": "both"}, "default_hours"),
        ({"targets": {"velocity": {"within": 1, "unit": "hours"}}}, "targets"),
        ({"targets": {"cycle_time": {"within": 0, "unit": "hours"}}}, "targets.cycle_time.within"),
        (
            {"targets": {"cycle_time": {"within": "2", "unit": "hours"}}},
            "targets.cycle_time.within",
        ),
        ({"targets": {"cycle_time": {"within": 2, "unit": "weeks"}}}, "targets.cycle_time.unit"),
        ({"targets": {"cycle_time": {"within": 2, "unit": []}}}, "targets.cycle_time.unit"),
        ({"targets": {"cycle_time": {"within": 2, "unit": {}}}}, "targets.cycle_time.unit"),
        (
            {"targets": {"cycle_time": {"within": 2, "unit": "hours", "percentile": 75}}},
            "targets.cycle_time.percentile",
        ),
        ({"colour": "blue"}, "colour"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
    ],
)
def test_it_refuses_a_bad_field_with_a_400_naming_it(client, team, admin_token, body, field):
    response = put(client, admin_token, body)
    assert response.status_code == 400
    assert response.json()["error"].startswith(f"{field}:")
    team.refresh_from_db()
    assert (team.time_zone, team.working_days, team.default_hours) == (
        "UTC",
        [1, 2, 3, 4, 5],
        "calendar",
    )


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b"\xff\xfe",
        b"{" + b" " * 70_000 + b"}",
        b" " * 3_000_000,
        # Nested past what the json module can read (RecursionError: a 500).
        b"[" * 5_000 + b"]" * 5_000,
        b'{"name": ' + b'{"a": ' * 3_000 + b"1" + b"}" * 3_001,
        # A lone surrogate, which no database can store (UnicodeEncodeError: a 500).
        b'{"name": "\\ud800"}',
    ],
)
def test_it_refuses_a_body_that_is_no_json_object(client, team, admin_token, body):
    response = put(client, admin_token, body)
    assert response.status_code == 400
    assert "JSON" in response.json()["error"]


@pytest.mark.django_db(transaction=True)
def test_a_calendar_change_recomputes_every_old_row(team, admin_token, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    # Friday 16:00 to Monday 10:00 UTC: 2 working hours.
    rows = [
        pull_request(
            team, None, pr_created_at=at("2025-01-10T16:00"), merged_at=at("2025-01-13T10:00")
        )
        for _ in range(3)
    ]
    assert {row.cycle_time_working_hours for row in rows} == {2.0}

    response = put(Client(), admin_token, {"time_zone": "Europe/Berlin", "working_days": [1, 5]})

    assert response.status_code == 200
    run = RecomputeRun.objects.get(team=team)
    recompute_run_continue(run_id=run.pk, batches=None)
    # In Berlin: Friday 17:00 ends the day (no working time), Monday 11:00: 2 hours.
    assert set(PullRequest.objects.values_list("cycle_time_working_hours", flat=True)) == {2.0}
    put(Client(), admin_token, {"working_days": [1, 2, 3, 4, 5, 6, 7]})
    recompute_run_continue(run_id=RecomputeRun.objects.latest("pk").pk, batches=None)
    # Saturday and Sunday 09:00-17:00 Berlin count now: 16 + 2.
    assert set(PullRequest.objects.values_list("cycle_time_working_hours", flat=True)) == {18.0}


def test_a_change_that_keeps_the_calendar_queues_nothing(client, team, admin_token):
    assert put(client, admin_token, {"default_hours": "working"}).status_code == 200
    assert put(client, admin_token, {"working_days": [1, 2, 3, 4, 5]}).status_code == 200
    assert not RecomputeRun.objects.exists()


def test_a_member_reads_the_page_but_cannot_change_it(client, team, member):
    client.force_login(member)
    page = client.get(PAGE)
    assert page.status_code == 200
    assert b"read only" in page.content
    assert b" disabled" in page.content
    refused = client.post(PAGE, {"name": "Mine", "time_zone": "UTC"})
    assert refused.status_code == 403
    team.refresh_from_db()
    assert team.name == "Acme"


def test_an_outsider_gets_404(client, team, outsider):
    client.force_login(outsider)
    assert client.get(PAGE).status_code == 404


FORM = {
    "name": "Acme",
    "time_zone": "America/New_York",
    "working_days": ["1", "2", "3", "4"],
    "work_start": "10:00",
    "work_end": "18:00",
    "holidays": "2025-07-03\n2025-12-24",
    "holiday_country": "US",
    "default_hours": "working",
    "first_review_within": "4",
    "first_review_unit": "working_hours",
    "first_review_percentile": "50",
    "cycle_time_within": "",
}


def test_an_admin_saves_the_page_and_sees_the_recompute(client, team, owner):
    client.force_login(owner)
    response = client.post(PAGE, FORM)
    assert response.status_code == 302
    team.refresh_from_db()
    assert team.working_days == [1, 2, 3, 4]
    assert team.holidays == ["2025-07-03", "2025-12-24"]
    assert team.targets == {
        "first_review": {"within": 4.0, "unit": "working_hours", "percentile": 50}
    }
    page = client.get(PAGE)
    assert b"being recomputed" in page.content
    assert b'http-equiv="refresh"' in page.content
    assert b"Settings saved. Durations are being recomputed" in page.content


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("work_end", "09:00"),
        ("working_days", "\u0663"),
        ("time_zone", "Nowhere"),
        ("holidays", "tomorrow"),
    ],
)
def test_the_page_refuses_a_bad_field_and_keeps_what_was_sent(client, team, owner, field, value):
    client.force_login(owner)
    # A recompute under way: the refused form does not reload (what was sent stays).
    recompute_run_start(team=team)
    response = client.post(PAGE, {**FORM, field: value})
    assert response.status_code == 400
    assert b"Not saved" in response.content
    assert b'http-equiv="refresh"' not in response.content
    assert b"America/New_York" in response.content or field == "time_zone"
    team.refresh_from_db()
    assert team.time_zone == "UTC"

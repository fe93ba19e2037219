"""The working-hours calendar: hours counted only inside a team's working
intervals, in its local time, computed by hand below."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.metrics.models import PullRequest
from apps.metrics.services.durations import EVERY_HOUR, team_calendars
from apps.metrics.services.working_hours import WorkingHours
from tests.metrics.figures_fixture import pull_request

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"


def local(zone: str, text: str) -> datetime:
    """A wall time in ``zone``, as the instant the database gives back (UTC:
    Python subtracts two times of one zone by their wall clocks)."""
    return datetime.fromisoformat(text).replace(tzinfo=zoneinfo.ZoneInfo(zone)).astimezone(UTC)


def test_it_counts_friday_evening_to_monday_morning_as_the_mornings_hour_and_a_half():
    calendar = WorkingHours(time_zone=BERLIN)
    friday = local(BERLIN, "2025-01-10T18:00")
    monday = local(BERLIN, "2025-01-13T10:30")
    assert calendar.hours_between(friday, monday) == 1.5
    assert EVERY_HOUR.hours_between(friday, monday) == 64.5


def test_it_counts_the_last_hour_of_friday_and_the_first_of_monday():
    calendar = WorkingHours(time_zone=BERLIN)
    assert (
        calendar.hours_between(local(BERLIN, "2025-01-10T16:00"), local(BERLIN, "2025-01-13T10:00"))
        == 2.0
    )


def test_it_skips_a_teams_own_holiday():
    calendar = WorkingHours(time_zone=BERLIN, holidays=frozenset({date(2025, 1, 13)}))
    # Friday 16:00-17:00 and Tuesday 09:00-10:00; Monday is off.
    assert (
        calendar.hours_between(local(BERLIN, "2025-01-10T16:00"), local(BERLIN, "2025-01-14T10:00"))
        == 2.0
    )


def test_it_skips_a_countrys_public_holidays():
    calendar = WorkingHours(time_zone=BERLIN, holiday_country="DE")
    # Tuesday 23 Dec 16:00-17:00 (1), Wednesday 24 (8), Thursday 25 and Friday
    # 26 December are public holidays in Germany, Monday 29 09:00-10:00 (1).
    start, end = local(BERLIN, "2025-12-23T16:00"), local(BERLIN, "2025-12-29T10:00")
    assert calendar.hours_between(start, end) == 10.0
    assert WorkingHours(time_zone=BERLIN).hours_between(start, end) == 26.0


def test_it_refuses_a_country_the_library_does_not_know():
    calendar = WorkingHours(time_zone=BERLIN, holiday_country="XX")
    with pytest.raises(ValueError, match="XX"):
        calendar.hours_between(local(BERLIN, "2025-01-10T16:00"), local(BERLIN, "2025-01-13T10:00"))


@pytest.mark.parametrize(
    ("zone", "friday", "monday", "calendar_hours"),
    [
        # March: the clocks go forward on Sunday (Berlin 30 March, New York 9 March),
        # so the weekend is an hour shorter; the working hours do not change.
        (BERLIN, "2025-03-28T16:00", "2025-03-31T10:00", 65.0),
        (NEW_YORK, "2025-03-07T16:00", "2025-03-10T10:00", 65.0),
        # October / November: the clocks go back, the weekend is an hour longer.
        (BERLIN, "2025-10-24T16:00", "2025-10-27T10:00", 67.0),
        (NEW_YORK, "2025-10-31T16:00", "2025-11-03T10:00", 67.0),
    ],
)
def test_it_counts_working_hours_across_a_daylight_saving_weekend(
    zone, friday, monday, calendar_hours
):
    start, end = local(zone, friday), local(zone, monday)
    assert WorkingHours(time_zone=zone).hours_between(start, end) == 2.0
    assert EVERY_HOUR.hours_between(start, end) == calendar_hours


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        # 01:00-05:00 on the day of the change is 3 real hours in March (02:00
        # becomes 03:00) and 5 in October/November (03:00/02:00 happens twice).
        (BERLIN, "2025-03-30", 3.0),
        (BERLIN, "2025-10-26", 5.0),
        (NEW_YORK, "2025-03-09", 3.0),
        (NEW_YORK, "2025-11-02", 5.0),
        (BERLIN, "2025-03-29", 4.0),
    ],
)
def test_it_counts_real_elapsed_time_in_a_working_interval_the_change_falls_in(zone, day, hours):
    calendar = WorkingHours(
        time_zone=zone, working_days=frozenset(range(1, 8)), start=time(1), end=time(5)
    )
    midnight = local(zone, f"{day}T00:00")
    next_midnight = local(
        zone, (date.fromisoformat(day) + timedelta(days=1)).isoformat() + "T00:00"
    )
    assert calendar.hours_between(midnight, next_midnight) == hours


def test_it_counts_a_review_outside_working_hours_up_to_the_days_end():
    calendar = WorkingHours(time_zone=BERLIN)
    opened = local(BERLIN, "2025-01-06T10:00")
    assert calendar.hours_between(opened, local(BERLIN, "2025-01-06T22:00")) == 7.0
    # A review on Saturday of a pull request opened on Saturday: no working time.
    assert (
        calendar.hours_between(local(BERLIN, "2025-01-11T10:00"), local(BERLIN, "2025-01-12T09:00"))
        == 0.0
    )
    # Reviewed at 07:00 the next morning: still only Monday's 7 hours.
    assert calendar.hours_between(opened, local(BERLIN, "2025-01-07T07:00")) == 7.0


def test_it_is_negative_when_the_end_comes_first():
    calendar = WorkingHours(time_zone=BERLIN)
    start, end = local(BERLIN, "2025-01-10T16:00"), local(BERLIN, "2025-01-13T10:00")
    assert calendar.hours_between(end, start) == -2.0


def test_it_takes_moments_in_any_zone():
    calendar = WorkingHours(time_zone=BERLIN)
    # 08:00Z and 10:00Z on a Monday in January are 09:00 and 11:00 in Berlin.
    start = datetime(2025, 1, 6, 8, tzinfo=UTC)
    assert calendar.hours_between(start, start + timedelta(hours=2)) == 2.0
    # Two wall times of the zone itself, across the March change: real time.
    zone = zoneinfo.ZoneInfo(BERLIN)
    everyday = WorkingHours(
        time_zone=BERLIN, working_days=frozenset(range(1, 8)), start=time(1), end=time(5)
    )
    assert (
        everyday.hours_between(
            datetime(2025, 3, 30, 1, tzinfo=zone), datetime(2025, 3, 30, 5, tzinfo=zone)
        )
        == 3.0
    )


def test_it_refuses_hours_that_end_before_they_start():
    with pytest.raises(ValueError, match="end after"):
        WorkingHours(time_zone=BERLIN, start=time(17), end=time(9))


MOMENT = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
)
ZONES = st.sampled_from([BERLIN, NEW_YORK, "UTC", "Asia/Kolkata", "Australia/Lord_Howe"])


@settings(max_examples=200, deadline=None)
@given(zone=ZONES, a=MOMENT, b=MOMENT, c=MOMENT, days=st.sets(st.integers(1, 7), min_size=1))
def test_it_is_additive_and_never_more_than_calendar_hours(zone, a, b, c, days):
    calendar = WorkingHours(
        time_zone=zone,
        working_days=frozenset(days),
        holidays=frozenset({date(2025, 1, 1), date(2025, 12, 25)}),
    )
    a, b, c = sorted((a, b, c))
    whole = calendar.hours_between(a, c)
    assert calendar.hours_between(a, b) + calendar.hours_between(b, c) == pytest.approx(
        whole, abs=1e-9
    )
    assert 0 <= whole <= EVERY_HOUR.hours_between(a, c) + 1e-9
    assert calendar.hours_between(c, a) == -whole


@pytest.mark.django_db
def test_it_stores_both_slots_on_the_row_in_the_teams_calendar(team):
    team.time_zone = BERLIN
    team.holidays = ["2025-01-13"]
    team.save()
    row = pull_request(
        team,
        None,
        pr_created_at=local(BERLIN, "2025-01-10T16:00"),
        first_review_at=local(BERLIN, "2025-01-14T10:00"),
        merged_at=local(BERLIN, "2025-01-14T12:00"),
    )
    row = PullRequest.objects.get(pk=row.pk)
    assert row.review_time_working_hours == 2.0
    assert row.cycle_time_working_hours == 4.0
    assert row.review_time_hours == 90.0
    assert row.cycle_time_hours == 92.0
    assert set(team_calendars(team)) == {"hours", "working_hours"}


@pytest.mark.django_db(transaction=True)
def test_it_gives_hand_computed_figures_through_the_write_path_and_recomputes_on_a_change(
    team, owner, repository, settings
):
    """New York, Monday to Friday 09:00-17:00, US public holidays; pull requests
    arriving as webhook events (the one entry):

    - A: Fri 7 Mar 2025 16:00 EST -> Mon 10 Mar 10:00 EDT (clocks forward on
      Sunday): 65 calendar hours, 1 + 1 = 2 working.
    - B: Fri 17 Jan 16:00 EST -> Tue 21 Jan 10:00 (Monday 20 is Martin Luther
      King Jr. Day): 90 calendar hours, 1 + 1 = 2 working.
    - C: Wed 12 Mar 09:00 EDT -> 20:00 EDT (merged after hours): 11 and 8.
    """
    from django.test import Client

    from apps.metrics.services.api_tokens import api_token_create
    from github_app.webhook_payloads import pull_request_payload
    from tests.metrics.events import apply_events, metrics_event

    settings.CELERY_TASK_ALWAYS_EAGER = True
    team.time_zone, team.holiday_country = NEW_YORK, "US"
    team.save()
    for number, (opened, merged) in enumerate(
        [
            ("2025-03-07T21:00:00Z", "2025-03-10T14:00:00Z"),
            ("2025-01-17T21:00:00Z", "2025-01-21T15:00:00Z"),
            ("2025-03-12T13:00:00Z", "2025-03-13T00:00:00Z"),
        ],
        start=1,
    ):
        fields = {"pr_id": number, "number": number, "created_at": opened}
        apply_events(
            [
                metrics_event(
                    "pull_request",
                    team=team,
                    repository=repository,
                    payload=pull_request_payload("opened", updated_at=opened, **fields),
                ),
                metrics_event(
                    "pull_request",
                    team=team,
                    repository=repository,
                    payload=pull_request_payload(
                        "closed",
                        updated_at=merged,
                        state="closed",
                        merged=True,
                        merged_at=merged,
                        closed_at=merged,
                        **fields,
                    ),
                ),
            ]
        )
    _row, token = api_token_create(team=team, name="t", created_by=owner, scopes=["admin"])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    def cycle(query: str) -> tuple[float, float, str]:
        figures = client.get(f"/api/teams/acme/metrics/?{query}").json()
        return (
            figures["cycle_time_hours"]["median"],
            figures["cycle_time_hours"]["mean"],
            figures["hours"],
        )

    quarter = "from=2025-01-01&to=2025-03-31"
    assert cycle(quarter) == (65.0, 55.333, "calendar")
    assert cycle(quarter + "&hours=working") == (2.0, 4.0, "working")
    assert cycle("from=2025-03-01&to=2025-03-31&hours=working") == (5.0, 5.0, "working")

    # Saturdays become working days: A and B gain one Saturday's 8 hours.
    response = client.put(
        "/api/teams/acme/settings/",
        data={"working_days": [1, 2, 3, 4, 5, 6]},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert sorted(
        PullRequest.objects.filter(team=team).values_list("cycle_time_working_hours", flat=True)
    ) == [8.0, 10.0, 10.0]
    assert cycle(quarter + "&hours=working") == (10.0, 9.333, "working")
    assert cycle(quarter) == (65.0, 55.333, "calendar")

"""The durations engine: one named set of durations per calendar, computed in
Python from a pull request's timestamps, stored on the row by the write path."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.metrics.models import PullRequest
from apps.metrics.services import durations
from apps.metrics.services.durations import (
    DURATIONS,
    EVERY_HOUR,
    PullRequestTimes,
    durations_compute,
    durations_store,
)
from github_app.webhook_payloads import pull_request_payload, review_payload
from tests.metrics.events import apply_events, metrics_event


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def times(**moments: str | None) -> PullRequestTimes:
    values = {
        "opened_at": None,
        "ready_for_review_at": None,
        "first_review_at": None,
        "first_approval_at": None,
        "merged_at": None,
        "first_commit_at": None,
        "deployed_at": None,
    }
    values.update({key: at(value) if value else None for key, value in moments.items()})
    return PullRequestTimes(**values)


@dataclass(frozen=True)
class Weekdays:
    """A calendar where only Monday to Friday count (all their hours), to show
    that every duration is counted by the calendar it is given."""

    def hours_between(self, start: datetime, end: datetime) -> float:
        if end < start:
            return -self.hours_between(end, start)
        counted, moment = 0.0, start
        while moment < end:
            midnight = datetime.combine(moment.date() + timedelta(days=1), datetime.min.time(), UTC)
            until = min(end, midnight)
            if moment.weekday() < 5:
                counted += (until - moment).total_seconds() / 3600
            moment = until
        return counted


def test_it_gives_the_cycle_time_of_the_definition():
    # docs/metrics.md: opened 2025-01-01 10:00 UTC, merged 2025-01-02 15:00 UTC.
    found = durations_compute(
        times(opened_at="2025-01-01T10:00", merged_at="2025-01-02T15:00"), calendar=EVERY_HOUR
    )
    assert found["cycle_time"] == 29.0


def test_it_gives_the_named_set_with_phases_that_add_up():
    found = durations_compute(
        times(
            opened_at="2025-01-06T09:00",
            ready_for_review_at="2025-01-06T15:00",
            first_review_at="2025-01-07T09:00",
            first_approval_at="2025-01-07T10:00",
            merged_at="2025-01-07T12:00",
        ),
        calendar=EVERY_HOUR,
    )
    assert found == {
        "cycle_time": 27.0,
        "review_time": 24.0,
        "coding": 6.0,
        "pickup": 18.0,
        "review": 1.0,
        "merge": 2.0,
        "lead_time": None,  # not deployed
    }
    assert list(found) == list(DURATIONS)


def test_a_boundary_that_did_not_happen_gives_its_time_to_the_next_phase():
    found = durations_compute(
        times(
            opened_at="2025-01-06T09:00",
            first_review_at="2025-01-08T09:00",  # after the merge: no review happened before it
            merged_at="2025-01-07T09:00",
        ),
        calendar=EVERY_HOUR,
    )
    assert (found["coding"], found["pickup"], found["review"], found["merge"]) == (
        0.0,
        0.0,
        0.0,
        24.0,
    )
    assert found["review_time"] == 48.0


def test_an_open_pull_request_has_a_review_time_and_no_cycle_time_or_phases():
    found = durations_compute(
        times(opened_at="2025-01-06T09:00", first_review_at="2025-01-06T11:00"),
        calendar=EVERY_HOUR,
    )
    assert found == {
        "cycle_time": None,
        "review_time": 2.0,
        "coding": None,
        "pickup": None,
        "review": None,
        "merge": None,
        "lead_time": None,
    }


def test_it_gives_the_lead_time_from_the_first_commit_to_the_deployment():
    found = durations_compute(
        times(
            first_commit_at="2025-01-05T09:00",
            opened_at="2025-01-06T09:00",
            merged_at="2025-01-06T12:00",
            deployed_at="2025-01-06T15:00",
        ),
        calendar=EVERY_HOUR,
    )
    assert found["lead_time"] == 30.0
    assert found["cycle_time"] == 3.0


def test_a_pull_request_with_no_known_commit_starts_its_lead_time_at_its_opening():
    found = durations_compute(
        times(
            opened_at="2025-01-06T09:00",
            merged_at="2025-01-06T12:00",
            deployed_at="2025-01-06T15:00",
        ),
        calendar=EVERY_HOUR,
    )
    assert found["lead_time"] == 6.0


def test_a_first_commit_after_the_opening_does_not_shorten_the_lead_time():
    # A pull request opened empty (or rebased later): the work started at the opening.
    found = durations_compute(
        times(
            opened_at="2025-01-06T09:00",
            first_commit_at="2025-01-06T11:00",
            merged_at="2025-01-06T12:00",
            deployed_at="2025-01-06T15:00",
        ),
        calendar=EVERY_HOUR,
    )
    assert found["lead_time"] == 6.0


def test_an_undeployed_pull_request_has_no_lead_time():
    found = durations_compute(
        times(
            first_commit_at="2025-01-05T09:00",
            opened_at="2025-01-06T09:00",
            merged_at="2025-01-06T12:00",
        ),
        calendar=EVERY_HOUR,
    )
    assert found["lead_time"] is None


def test_every_duration_is_counted_by_the_calendar_it_is_given():
    # Opened Friday 12:00, reviewed Monday 12:00, merged Monday 14:00.
    friday_to_monday = times(
        opened_at="2025-01-03T12:00",
        first_review_at="2025-01-06T12:00",
        first_approval_at="2025-01-06T12:00",
        merged_at="2025-01-06T14:00",
    )
    every_hour = durations_compute(friday_to_monday, calendar=EVERY_HOUR)
    weekdays = durations_compute(friday_to_monday, calendar=Weekdays())
    assert every_hour["cycle_time"] == 74.0
    assert weekdays["cycle_time"] == 26.0  # the weekend does not count
    assert weekdays["review_time"] == weekdays["pickup"] == 24.0
    assert weekdays["merge"] == 2.0


MOMENT = st.integers(min_value=-3 * 24 * 60, max_value=20 * 24 * 60)


@given(
    ready=st.one_of(st.none(), MOMENT),
    reviewed=st.one_of(st.none(), MOMENT),
    approved=st.one_of(st.none(), MOMENT),
    merged=st.integers(min_value=0, max_value=30 * 24 * 60),
)
def test_the_phases_add_up_to_the_cycle_time_in_any_calendar(ready, reviewed, approved, merged):
    opened = at("2025-01-03T09:00")

    def moment(minutes):
        return None if minutes is None else opened + timedelta(minutes=minutes)

    pull_request = PullRequestTimes(
        opened, moment(ready), moment(reviewed), moment(approved), moment(merged)
    )
    for calendar in (EVERY_HOUR, Weekdays()):
        found = durations_compute(pull_request, calendar=calendar)
        phases = [found[name] for name in durations.PHASES]
        assert all(phase >= -1e-9 for phase in phases), phases
        assert sum(phases) == pytest.approx(found["cycle_time"], abs=1e-9)


def test_a_row_stores_one_set_per_slot_without_changing_its_callers(monkeypatch):
    """A second calendar (a team's working hours) is a slot: its set lands in
    `<duration>_<slot>` columns through the same `durations_store`."""
    monkeypatch.setattr(durations, "SLOTS", ("hours", "working_hours"))
    row = SimpleNamespace(
        pr_created_at=at("2025-01-03T12:00"),
        ready_for_review_at=None,
        first_review_at=None,
        first_approval_at=None,
        merged_at=at("2025-01-06T14:00"),
        first_commit_at=None,
        deployed_at=None,
    )
    durations_store(row, calendars={"hours": EVERY_HOUR, "working_hours": Weekdays()})
    assert row.cycle_time_hours == 74.0
    assert row.cycle_time_working_hours == 26.0
    assert row.merge_working_hours == 26.0


@pytest.mark.django_db
def test_the_write_path_stores_every_duration_as_events_arrive(team, repository):
    def pr_event(action, updated, **fields):
        payload = pull_request_payload(
            action,
            pr_id=7,
            number=7,
            created_at="2025-01-06T09:00:00Z",
            updated_at=updated,
            **fields,
        )
        return metrics_event("pull_request", team=team, repository=repository, payload=payload)

    def review_event(review_id, state, submitted):
        payload = review_payload(
            pr_id=7,
            number=7,
            review_id=review_id,
            review_state=state,
            submitted_at=submitted,
            created_at="2025-01-06T09:00:00Z",
        )
        return metrics_event(
            "pull_request_review", team=team, repository=repository, payload=payload
        )

    apply_events([pr_event("opened", "2025-01-06T09:00:00Z", draft=True)])
    apply_events([pr_event("ready_for_review", "2025-01-06T15:00:00Z")])
    apply_events([review_event(1, "commented", "2025-01-07T09:00:00Z")])
    apply_events([review_event(2, "approved", "2025-01-07T10:00:00Z")])
    apply_events(
        [
            pr_event(
                "closed",
                "2025-01-07T12:00:00Z",
                state="closed",
                merged=True,
                merged_at="2025-01-07T12:00:00Z",
                closed_at="2025-01-07T12:00:00Z",
            )
        ]
    )

    row = PullRequest.objects.get(team=team, github_id=7)
    assert row.first_approval_at == at("2025-01-07T10:00")
    assert (row.cycle_time_hours, row.review_time_hours) == (27.0, 24.0)
    assert (row.coding_hours, row.pickup_hours, row.review_hours, row.merge_hours) == (
        6.0,
        18.0,
        1.0,
        2.0,
    )

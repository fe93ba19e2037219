"""`manage.py metrics_recompute [--team SLUG]`: every stored duration and derived
value derived again from stored timestamps and reviews, in batches, resumable,
safe while webhooks arrive; also a task a page can queue, and beat's resumer."""

from __future__ import annotations

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from apps.integrations.models import Installation, Repository
from apps.metrics.models import PullRequest, RecomputeRun
from apps.metrics.services.recompute import (
    recompute_queue,
    recompute_run_start,
    recompute_run_step,
)
from apps.metrics.tasks import resume_recompute_runs
from apps.teams.models import Team
from github_app.webhook_payloads import pull_request_payload, review_payload
from tests.metrics.events import apply_pull_request_event, apply_review_event
from tests.sessions import OtherSession, wait_until_another_session_waits_for_a_lock

STORED = (
    "first_review_at",
    "first_approval_at",
    "cycle_time_hours",
    "review_time_hours",
    "coding_hours",
    "pickup_hours",
    "review_hours",
    "merge_hours",
    "is_hotfix",
    "is_revert",
)


def at(hour: int, day: int = 3) -> datetime:
    return datetime(2025, 1, day, hour, tzinfo=UTC)


def merged_history(team: Team, repository: Repository, count: int, *, first: int = 1) -> None:
    """``count`` pull requests through the write path, each reviewed, approved and merged."""
    for number in range(first, first + count):
        apply_pull_request_event(
            team=team,
            repository=repository,
            payload=pull_request_payload(
                "closed",
                pr_id=number,
                number=number,
                title=f"hotfix {number}" if number % 2 else f"Change {number}",
                created_at="2025-01-03T09:00:00Z",
                state="closed",
                merged=True,
                merged_at="2025-01-06T14:00:00Z",
                closed_at="2025-01-06T14:00:00Z",
                repository_id=repository.github_id,
                repository_full_name=repository.full_name,
                installation_id=repository.installation.installation_id,
            ),
        )
        apply_review_event(
            team=team,
            repository=repository,
            payload=review_payload(
                pr_id=number,
                number=number,
                review_id=number,
                submitted_at="2025-01-03T12:00:00Z",
                repository_id=repository.github_id,
                repository_full_name=repository.full_name,
            ),
        )


def stored(team: Team) -> dict[int, tuple]:
    rows = PullRequest.objects.filter(team=team).values_list("github_id", *STORED)
    return {github_id: tuple(values) for github_id, *values in rows}


def forget_derived(team: Team | None = None) -> None:
    """What rows written before a definition existed look like."""
    rows = PullRequest.objects.all() if team is None else PullRequest.objects.filter(team=team)
    rows.update(
        first_review_at=None,
        first_approval_at=None,
        cycle_time_hours=None,
        review_time_hours=None,
        coding_hours=None,
        pickup_hours=None,
        review_hours=None,
        merge_hours=None,
        is_hotfix=False,
    )


@pytest.fixture
def other_team(db):
    team = Team.objects.create(name="Other", slug="other")
    installation = Installation.objects.create(installation_id=77, team=team, account_login="other")
    repository = Repository.objects.create(
        installation=installation, github_id=770, full_name="other/app", tracked=True
    )
    return team, repository


@pytest.mark.django_db
def test_it_fills_what_the_write_path_would_have_stored(team, repository):
    merged_history(team, repository, 5)
    written = stored(team)
    assert written[1][STORED.index("pickup_hours")] == 3.0
    forget_derived(team)

    out = StringIO()
    call_command("metrics_recompute", stdout=out, stderr=StringIO())

    assert stored(team) == written
    assert "done: 5 pull requests, 5 changed." in out.getvalue()
    run = RecomputeRun.objects.get()
    assert (run.status, run.total, run.done, run.changed) == ("done", 5, 5, 5)


@pytest.mark.django_db
def test_it_changes_nothing_when_nothing_changed(team, repository):
    merged_history(team, repository, 3)
    written = stored(team)
    out = StringIO()
    call_command("metrics_recompute", stdout=out, stderr=StringIO())
    assert stored(team) == written
    assert "done: 3 pull requests, 0 changed." in out.getvalue()


@pytest.mark.django_db
def test_a_calendar_change_reaches_old_rows(team, repository):
    merged_history(team, repository, 2)
    # Friday 09:00 to Monday 14:00 (UTC): 77 hours, of which 8 + 5 working.
    assert set(
        PullRequest.objects.filter(team=team).values_list(
            "cycle_time_hours", "cycle_time_working_hours"
        )
    ) == {(77.0, 13.0)}
    team.working_days = [1, 2, 3, 4, 5, 6, 7]
    team.save()

    call_command("metrics_recompute", "--team", team.slug, stdout=StringIO(), stderr=StringIO())

    # The weekend's 09:00-17:00 now count too.
    assert set(
        PullRequest.objects.filter(team=team).values_list(
            "cycle_time_hours", "cycle_time_working_hours"
        )
    ) == {(77.0, 29.0)}


@pytest.mark.django_db
def test_it_recomputes_one_team_only(team, repository, other_team):
    merged_history(team, repository, 2)
    merged_history(*other_team, 2, first=100)
    forget_derived()

    call_command("metrics_recompute", "--team", "other", stdout=StringIO(), stderr=StringIO())

    assert not PullRequest.objects.filter(team=team, cycle_time_hours__isnull=False).exists()
    assert not PullRequest.objects.filter(
        team=other_team[0], cycle_time_hours__isnull=True
    ).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("slug", ["nobody", "x" * 300, "acme\x00"])
def test_it_refuses_a_team_that_does_not_exist(team, slug):
    with pytest.raises(CommandError, match="No team with the slug"):
        call_command("metrics_recompute", "--team", slug, stdout=StringIO(), stderr=StringIO())
    assert not RecomputeRun.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("size", ["0", "-1", "1e3", "٣", "99999999999"])
def test_it_refuses_a_batch_size_out_of_range(size):
    with pytest.raises(CommandError):
        call_command(
            "metrics_recompute", "--batch-size", size, stdout=StringIO(), stderr=StringIO()
        )


@pytest.mark.django_db
def test_an_interrupted_run_resumes_after_its_last_batch(team, repository, other_team):
    merged_history(team, repository, 3)
    merged_history(*other_team, 3, first=100)
    written = stored(team), stored(other_team[0])
    forget_derived()
    run = recompute_run_start(team=None)
    step = recompute_run_step(run_id=run.pk, batch_size=4)  # then the process is killed
    assert (step.kind, step.run.done) == ("continue", 4)
    first_batch = PullRequest.objects.filter(cycle_time_hours__isnull=False).count()
    assert first_batch == 4

    out = StringIO()
    call_command("metrics_recompute", "--batch-size", "2", stdout=out, stderr=StringIO())

    assert f"(run {run.pk})" in out.getvalue()
    run.refresh_from_db()
    assert (run.status, run.done, run.total) == ("done", 6, 6)
    assert (stored(team), stored(other_team[0])) == written


@pytest.mark.django_db
def test_a_page_queues_a_run_that_a_worker_does(
    team, repository, django_capture_on_commit_callbacks
):
    merged_history(team, repository, 2)
    forget_derived(team)
    with django_capture_on_commit_callbacks(execute=True):
        run = recompute_queue(team=team, reason="calendar changed")
    run.refresh_from_db()
    assert (run.status, run.done, run.reason) == ("done", 2, "calendar changed")
    assert not PullRequest.objects.filter(team=team, cycle_time_hours__isnull=True).exists()


@pytest.mark.django_db
def test_beat_resumes_a_run_queued_by_the_upgrade(team, repository):
    merged_history(team, repository, 2)
    forget_derived(team)
    # What the migration that added the stored phases leaves for existing rows.
    run = RecomputeRun.objects.create(reason="stored phases and first approval (upgrade)")

    assert resume_recompute_runs() == 1

    run.refresh_from_db()
    assert run.status == "done"
    assert resume_recompute_runs() == 0
    assert not PullRequest.objects.filter(team=team, coding_hours__isnull=True).exists()


@pytest.mark.django_db
def test_a_second_request_joins_the_run_under_way(team):
    first = recompute_run_start(team=team)
    assert recompute_run_start(team=team) == first
    assert recompute_run_start(team=None) != first


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_waits_for_a_webhooks_batch_and_keeps_what_it_wrote(team, repository):
    merged_history(team, repository, 1)
    forget_derived(team)
    run = recompute_run_start(team=team)
    recompute = OtherSession(lambda: recompute_run_step(run_id=run.pk))
    with transaction.atomic():
        # A review earlier than the first one arrives: its batch holds the row.
        apply_review_event(
            team=team,
            repository=repository,
            payload=review_payload(
                pr_id=1,
                number=1,
                review_id=2,
                reviewer_id=777,
                reviewer_login="early",
                submitted_at="2025-01-03T10:00:00Z",
            ),
        )
        recompute.start()
        wait_until_another_session_waits_for_a_lock()
    assert recompute.finish().kind == "done"

    row = PullRequest.objects.get(team=team, github_id=1)
    assert row.first_review_at == at(10)
    assert (row.review_time_hours, row.coding_hours, row.pickup_hours) == (1.0, 0.0, 1.0)
    assert row.cycle_time_hours == 77.0

"""The day facts (apps/metrics/services/day_facts.py) give the figures the rows
give: random histories, every scope, read through the JSON API with the day
facts and without them (the plain computation), while every day is stale
(read from the rows), once all are built (read from the arrays), after rows
changed, moved, were deleted and people became bots (a mix), and after a second
build. PostgreSQL only: SQLite keeps no day facts."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client

from apps.metrics.models import (
    DayFacts,
    DayFactsStale,
    Deployment,
    MergeQuestion,
    PRReview,
    PullRequest,
    TeamMember,
)
from apps.metrics.services import day_facts
from apps.metrics.services.day_facts import day_facts_refresh, day_facts_refresh_all
from apps.metrics.tasks import refresh_day_facts
from tests.metrics.random_history import (
    DAYS,
    PAGES,
    _figures,
    _moment,
)

pytestmark = pytest.mark.postgres


def _assert_exact(client: Client, monkeypatch) -> None:
    for query in PAGES:
        fast = _figures(client, query)
        with monkeypatch.context() as plain:
            plain.setattr(day_facts, "available", lambda: False)
            expected = _figures(client, query)
        assert fast == expected, query


def _read_from_arrays(client: Client) -> bool:
    """Whether a page's figures read the arrays and the packed records (not
    only the rows)."""
    queries: list[str] = []

    def record(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        _figures(client, PAGES[1])
    return any("unnest(d.at" in sql for sql in queries) and any(
        "d.packed_keys" in sql for sql in queries
    )


def test_it_gives_the_rows_figures_stale_built_changed_and_rebuilt(history, monkeypatch):
    client, rows, people, rng = (
        history["client"],
        history["rows"],
        history["people"],
        history["rng"],
    )
    # Every day the rows touch is marked stale by the database itself.
    assert DayFactsStale.objects.exists()
    assert not DayFacts.objects.exists()
    _assert_exact(client, monkeypatch)

    built = day_facts_refresh_all(days=25)
    assert built > DAYS
    assert not DayFactsStale.objects.exists()
    assert DayFacts.objects.filter(kind=DayFacts.Kind.REVIEW).exists()
    assert _read_from_arrays(client)
    _assert_exact(client, monkeypatch)

    # Lines changed past int's range (two int columns' sum): counted, not an error
    # that would stop every refresh of the day.
    huge = rng.choice([row for row in rows if row.merged_at])
    PullRequest.objects.filter(pk=huge.pk).update(additions=2_147_483_647, deletions=9)
    _assert_exact(client, monkeypatch)
    day_facts_refresh_all()
    assert not DayFactsStale.objects.exists()
    _assert_exact(client, monkeypatch)

    # Days built by a release before the packed records (its refresh running
    # after this one's migration): read from the rows, not taken as empty.
    for kind in (DayFacts.Kind.MERGED, DayFacts.Kind.FIRST_REVIEW, DayFacts.Kind.REVIEW):
        days = list(DayFacts.objects.filter(kind=kind).values_list("pk", flat=True)[::3])
        DayFacts.objects.filter(pk__in=days).update(
            packed_keys=b"", packed_hours=b"", packed_working_hours=b""
        )
    _assert_exact(client, monkeypatch)

    # Rows change after they were summarised.
    for row in rng.sample(rows, 60):
        row.merged_at = _moment(rng) if row.merged_at else None
        row.cycle_time_hours = rng.uniform(0, 50)
        row.review_time_working_hours = rng.uniform(0, 50)
        row.additions = rng.randint(0, 2000)
        row.state = PullRequest.State.CLOSED if row.state == PullRequest.State.OPEN else row.state
        row.closed_at = row.closed_at or _moment(rng)
        row.author = rng.choice(people)
        row.save()
    PullRequest.objects.filter(pk__in=[row.pk for row in rows[:15]]).delete()
    PRReview.objects.filter(pk__in=PRReview.objects.order_by("pk").values("pk")[:40]).update(
        state=PRReview.State.APPROVED, submitted_at=_moment(rng)
    )
    # What the AI figures read of other rows: answers, a deployment found
    # failed, a revert merged.
    for question in MergeQuestion.objects.filter(status=MergeQuestion.Status.ASKED)[:10]:
        question.answer = rng.choice(MergeQuestion.Answer.values)
        question.save()
    MergeQuestion.objects.filter(pk__in=MergeQuestion.objects.values("pk")[:3]).delete()
    Deployment.objects.filter(failed=False).update(failed=True)
    merged = [row for row in rows[15:] if row.merged_at]
    revert = rng.choice(merged)
    revert.reverts = rng.choice(merged)
    revert.save()
    PullRequest.objects.filter(pk__in=[row.pk for row in merged[:30]]).update(
        is_ai_assisted=True, review_rounds=7
    )
    # A person found to be a bot: no day is stale, the figures read them anew.
    TeamMember.objects.filter(login="bob").update(is_bot=True)
    assert DayFactsStale.objects.exists()
    _assert_exact(client, monkeypatch)

    assert day_facts_refresh(days=10) == 10
    _assert_exact(client, monkeypatch)
    day_facts_refresh_all()
    assert not DayFactsStale.objects.exists()
    _assert_exact(client, monkeypatch)


def test_it_marks_the_days_a_write_touches_and_not_others(history):
    day_facts_refresh_all()
    row = next(row for row in history["rows"] if row.merged_at and row.pr_created_at)
    row.title = "Only the title changed"
    row.save()
    assert not DayFactsStale.objects.exists()
    # A recompute in the team's new working hours changes one duration.
    PullRequest.objects.filter(pk=row.pk).update(cycle_time_working_hours=1234.5)
    assert set(DayFactsStale.objects.values_list("day", flat=True)) >= {
        row.merged_at.astimezone(UTC).date()
    }
    day_facts_refresh_all()
    # A review given later marks its own day.
    PRReview.objects.create(
        team=row.team,
        pull_request=row,
        github_id=999_999,
        reviewer=history["people"][2],
        state=PRReview.State.APPROVED,
        submitted_at=datetime(2031, 2, 3, 4, 5, tzinfo=UTC),
    )
    assert list(DayFactsStale.objects.values_list("day", flat=True)) == [
        datetime(2031, 2, 3).date()
    ]
    day_facts_refresh_all()
    old_day = row.merged_at.astimezone(UTC).date()
    row.merged_at = datetime(2030, 6, 1, 23, 30, tzinfo=UTC)
    row.save()
    stale = set(DayFactsStale.objects.values_list("day", flat=True))
    assert {old_day, datetime(2030, 6, 1).date()} <= stale


def test_it_drops_the_days_of_a_deleted_team(history):
    team_id = history["rows"][0].team_id
    history["rows"][0].team.delete()
    assert DayFactsStale.objects.filter(team_id=team_id).exists()
    day_facts_refresh_all()
    assert not DayFactsStale.objects.exists()
    assert not DayFacts.objects.exists()


def test_it_rebuilds_every_stale_day_from_the_command(history):
    stale = day_facts.day_facts_stale_count()
    assert stale > DAYS
    out = io.StringIO()
    call_command("metrics_day_facts", "--days", "7", stdout=out)
    assert f"{stale} team days rebuilt; 0 stale." in out.getvalue()
    assert DayFacts.objects.filter(kind=DayFacts.Kind.MERGED).exists()


def test_it_rebuilds_stale_days_on_beats_tick(history):
    assert refresh_day_facts() > DAYS
    assert not DayFactsStale.objects.exists()
    assert refresh_day_facts() == 0


def test_it_refuses_a_batch_size_out_of_range(history):
    for bad in ("0", "5001", "\u0661\u0660", "-3", "x"):
        with pytest.raises(CommandError):
            call_command("metrics_day_facts", "--days", bad)


def test_it_is_on_beats_schedule_every_30_seconds(settings):
    from celery import current_app

    entry = settings.CELERY_BEAT_SCHEDULE["refresh-day-facts"]
    assert entry == {"task": "apps.metrics.tasks.refresh_day_facts", "schedule": 30.0}
    assert entry["task"] in current_app.tasks


def _stale_days() -> set:
    return set(DayFactsStale.objects.values_list("day", flat=True))


def _merged_day(row: PullRequest):
    return row.merged_at.astimezone(UTC).date()


def test_it_marks_the_merged_day_of_an_answer_a_failed_deployment_and_a_revert(
    history, monkeypatch
):
    client = history["client"]
    day_facts_refresh_all()

    question = MergeQuestion.objects.filter(status=MergeQuestion.Status.ASKED).first()
    question.answer = "all" if question.answer != "all" else "none"
    question.save()
    assert _stale_days() == {_merged_day(question.pull_request)}
    _assert_exact(client, monkeypatch)
    day_facts_refresh_all()

    deployment = Deployment.objects.filter(
        failed=False, pull_requests__merged_at__isnull=False
    ).first()
    deployment.failed = True
    deployment.save()
    shipped = deployment.pull_requests.filter(merged_at__isnull=False)
    assert _stale_days() == {_merged_day(row) for row in shipped}
    _assert_exact(client, monkeypatch)
    day_facts_refresh_all()

    merged = [row for row in history["rows"] if row.merged_at and row.reverts_id is None]
    revert, reverted = merged[0], merged[1]
    revert.reverts = reverted
    revert.save()
    assert _merged_day(reverted) in _stale_days()
    _assert_exact(client, monkeypatch)


def test_it_reads_who_is_left_out_once_per_page(history):
    day_facts_refresh_all()
    queries: list[str] = []

    def record(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        _figures(history["client"], PAGES[0])
    # scope.uncounted_people: bots or deleted accounts, by id.
    left_out = [sql for sql in queries if 'OR "metrics_teammember"."is_deleted_account"' in sql]
    assert len(left_out) == 1, left_out

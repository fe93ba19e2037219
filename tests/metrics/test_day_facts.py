"""The day facts (apps/metrics/services/day_facts.py) give the figures the rows
give: random histories, every scope, read through the JSON API with the day
facts and without them (the plain computation), while every day is stale
(read from the rows), once all are built (read from the arrays), after rows
changed, moved, were deleted and people became bots (a mix), and after a second
build. PostgreSQL only: SQLite keeps no day facts."""

from __future__ import annotations

import io
import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client

from apps.integrations.models import Repository
from apps.metrics.models import (
    DayFacts,
    DayFactsStale,
    Deployment,
    MergeQuestion,
    PRReview,
    PullRequest,
    Squad,
    TeamMember,
)
from apps.metrics.services import day_facts
from apps.metrics.services.api_tokens import api_token_create
from apps.metrics.services.day_facts import day_facts_refresh, day_facts_refresh_all
from apps.metrics.tasks import refresh_day_facts

pytestmark = pytest.mark.postgres

START = datetime(2025, 1, 1, tzinfo=UTC)
DAYS = 150
DURATIONS = (
    "cycle_time",
    "coding",
    "pickup",
    "review",
    "merge",
    "review_time",
)
PAGES = [
    "from=2025-03-01&to=2025-04-29",
    "from=2025-01-01&to=2025-05-30",
    "from=2025-02-10&to=2025-02-16",
    "from=2025-03-01&to=2025-04-29&repository=acme/web",
    "from=2025-01-01&to=2025-05-30&squad=core",
    "from=2025-01-01&to=2025-05-30&person=alice",
    "from=2025-01-01&to=2025-05-30&person=carol&hours=working",
    "from=2025-01-01&to=2025-05-30&hours=working&squad=empty",
]


def _moment(rng: random.Random) -> datetime:
    return START + timedelta(seconds=rng.randint(0, DAYS * 86_400))


def _history(team, repositories, people, rng: random.Random, count: int) -> list[PullRequest]:
    deployments = [
        Deployment.objects.create(
            team=team,
            key=f"deploy-{index}",
            source=Deployment.Source.values[0],
            is_production=True,
            failed=index % 3 == 0,
        )
        for index in range(6)
    ]
    users = [get_user_model().objects.create_user(f"person-{index}") for index in range(4)]
    rows = []
    for number in range(1, count + 1):
        opened = _moment(rng) if rng.random() < 0.95 else None
        base = opened or _moment(rng)
        merged = base + timedelta(hours=rng.uniform(0.5, 200)) if rng.random() < 0.6 else None
        closed = merged or (
            base + timedelta(hours=rng.uniform(1, 90)) if rng.random() < 0.2 else None
        )
        first_review = base + timedelta(hours=rng.uniform(0.1, 50)) if rng.random() < 0.7 else None
        fields = {
            f"{name}_{slot}": (rng.choice([None, round(rng.uniform(0, 300), 6)]))
            for name in DURATIONS
            for slot in ("hours", "working_hours")
        }
        rows.append(
            PullRequest(
                team=team,
                repository=rng.choice([*repositories, None]),
                github_id=number,
                number=number,
                author=rng.choice([*people, None]),
                state=(
                    PullRequest.State.MERGED
                    if merged
                    else PullRequest.State.CLOSED
                    if closed
                    else PullRequest.State.OPEN
                ),
                pr_created_at=opened,
                merged_at=merged,
                closed_at=closed,
                first_review_at=first_review,
                additions=rng.choice([None, rng.randint(0, 900)]),
                deletions=rng.choice([None, rng.randint(0, 300)]),
                is_revert=rng.random() < 0.1,
                is_hotfix=rng.random() < 0.1,
                is_ai_assisted=rng.random() < 0.3,
                review_rounds=rng.randint(0, 4),
                deployment=rng.choice([*deployments, None, None]),
                **fields,
            )
        )
    PullRequest.objects.bulk_create(rows)
    merged = [row for row in rows if row.merged_at]
    for row in rng.sample(merged, 20):
        row.reverts = rng.choice(merged)
        row.save(update_fields=["reverts"])
    for row in rng.sample(merged, 60):
        asked = rng.random() < 0.8
        MergeQuestion.objects.create(
            team=team,
            pull_request=row,
            user=rng.choice(users),
            status=MergeQuestion.Status.ASKED if asked else MergeQuestion.Status.NOT_ASKED,
            asked_at=row.merged_at,
            expires_at=row.merged_at + MergeQuestion.LIFETIME,
            answer=rng.choice(["", *MergeQuestion.Answer.values]) if asked else "",
        )
    reviews = []
    for row in rows:
        for _ in range(rng.randint(0, 3)):
            reviews.append(
                PRReview(
                    team=team,
                    pull_request=row,
                    github_id=len(reviews) + 1,
                    reviewer=rng.choice([*people, None]),
                    state=rng.choice([*PRReview.State.values]),
                    submitted_at=_moment(rng) if rng.random() < 0.95 else None,
                )
            )
    PRReview.objects.bulk_create(reviews)
    return rows


@pytest.fixture
def history(team, installation):
    team.time_zone = "America/Los_Angeles"
    team.save()
    repositories = [
        Repository.objects.create(
            installation=installation, github_id=500 + index, full_name=name, tracked=True
        )
        for index, name in enumerate(["acme/api", "acme/web"])
    ]
    people = [
        TeamMember.objects.create(team=team, github_id=index, login=login, **extra)
        for index, (login, extra) in enumerate(
            [
                ("alice", {}),
                ("bob", {}),
                ("carol", {}),
                ("dependabot[bot]", {"is_bot": True}),
                ("ghost", {"is_deleted_account": True}),
            ],
            start=1,
        )
    ]
    Squad.objects.create(team=team, name="core").members.set(people[:2])
    Squad.objects.create(team=team, name="empty")
    rng = random.Random(2807)
    rows = _history(team, repositories, people, rng, 400)
    owner = get_owner(team)
    _row, token = api_token_create(team=team, name="facts", created_by=owner)
    return {
        "rows": rows,
        "people": people,
        "rng": rng,
        "client": Client(HTTP_AUTHORIZATION=f"Bearer {token}"),
    }


def get_owner(team):
    from apps.teams.models import Membership

    user = get_user_model().objects.create_user("owner")
    Membership.objects.create(user=user, team=team, role=Membership.Role.ADMIN)
    return user


def _figures(client: Client, query: str) -> dict:
    response = client.get(f"/api/teams/acme/metrics/?{query}")
    assert response.status_code == 200, response.content
    document = json.loads(response.content)
    # How long each has waited is counted up to the moment of the request.
    document.pop("waiting_for_review")
    return document


def _assert_exact(client: Client, monkeypatch) -> None:
    for query in PAGES:
        fast = _figures(client, query)
        with monkeypatch.context() as plain:
            plain.setattr(day_facts, "available", lambda: False)
            expected = _figures(client, query)
        assert fast == expected, query


def _read_from_arrays(client: Client) -> bool:
    """Whether a page's figures read the arrays (not only the rows)."""
    queries: list[str] = []

    def record(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        _figures(client, PAGES[1])
    return any("unnest(d.at" in sql for sql in queries)


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

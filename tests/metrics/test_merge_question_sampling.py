"""The merge question's weekly cap per person, and how the merges asked are
drawn: at random over the week (never the first ones that come), the rest
stored as not asked with the reason and the chance they had."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from apps.metrics.models import MergeQuestion, PullRequestEvent, TeamMember
from apps.metrics.services.merge_questions import (
    merge_question_ask,
    merge_questions_catch_up,
    week_start,
)
from tests.metrics.figures_fixture import pull_request

pytestmark = pytest.mark.django_db
Status = MergeQuestion.Status


class Draws(random.Random):
    """Draws given in advance, in order."""

    def __init__(self, *values: float) -> None:
        super().__init__(0)
        self.values = list(values)

    def random(self) -> float:
        return self.values.pop(0)


@pytest.fixture
def person(team, member):
    return TeamMember.objects.create(team=team, github_id=583231, login="octocat", user=member)


def merge(team, person, at: datetime):
    return pull_request(
        team, None, author=person, pr_created_at=at - timedelta(hours=5), merged_at=at
    )


def ask(team, person, clock, draws=None):
    """A merge of `person` now, decided as the consumer decides it."""
    return merge_question_ask(pull_request=merge(team, person, clock.now), draws=draws)


def test_it_asks_every_merge_of_a_person_under_the_cap(team, person, clock):
    decided = [ask(team, person, clock) for _ in range(3)]

    assert [q.status for q in decided] == [Status.ASKED] * 3
    assert {q.sample_probability for q in decided} == {1.0}


def test_merges_beyond_the_cap_in_one_week_are_not_asked_and_a_new_week_starts_again(
    team, person, clock
):
    team.merge_questions_per_week = 2
    team.save()

    statuses = []
    for _ in range(4):
        statuses.append(ask(team, person, clock).status)
        clock.advance(hours=6)
    clock.advance(days=7)
    statuses.append(ask(team, person, clock).status)

    assert statuses == [
        Status.ASKED,
        Status.ASKED,
        Status.NOT_ASKED,
        Status.NOT_ASKED,
        Status.ASKED,
    ]
    reasons = MergeQuestion.objects.filter(status=Status.NOT_ASKED).values_list(
        "not_asked_reason", "sample_probability"
    )
    assert set(reasons) == {("weekly_cap", 0.0)}


def test_a_cap_of_zero_asks_no_one(team, person, clock):
    team.merge_questions_per_week = 0
    team.save()

    assert ask(team, person, clock).status == Status.NOT_ASKED


def test_the_cap_counts_each_person_apart(team, person, owner, clock):
    team.merge_questions_per_week = 1
    team.save()
    other = TeamMember.objects.create(team=team, github_id=1, login="hubot-human", user=owner)

    assert ask(team, person, clock).status == Status.ASKED
    assert ask(team, other, clock).status == Status.ASKED
    assert ask(team, person, clock).status == Status.NOT_ASKED


def _busy_past(team, person, clock, *, per_week: int) -> None:
    """Four weeks of merges before now, `per_week` a week, evenly spread."""
    total = per_week * 4
    step = timedelta(days=28) / total
    for n in range(total):
        merge(team, person, clock.now - timedelta(days=28) + step * n + timedelta(minutes=1))


def test_a_busy_persons_merges_are_drawn_not_first_come(team, person, clock):
    # 10 merges a week over the last four weeks and a cap of 5: a merge is
    # asked by a draw, its chance the week's places left over the merges
    # expected in the rest of the week (Wednesday noon: 4.5 days of 7).
    _busy_past(team, person, clock, per_week=10)
    draws = Draws(0.99, 0.01, 0.99, 0.01, 0.99, 0.01)

    decided = [ask(team, person, clock, draws) for _ in range(6)]

    assert [q.status for q in decided] == [Status.NOT_ASKED, Status.ASKED] * 3
    rooms = [5, 5, 4, 4, 3, 3]
    assert [q.sample_probability for q in decided] == [
        pytest.approx(room / ((40 + n) / 4 * 4.5 / 7), abs=1e-5)
        for n, room in zip(range(1, 7), rooms, strict=True)
    ]
    assert {q.not_asked_reason for q in decided if q.status == Status.NOT_ASKED} == {"sampled_out"}


def test_over_many_weeks_late_merges_are_asked_as_often_as_early_ones(team, person, clock):
    """First come, first asked would ask the first five merges of every week and
    never the last five. Drawn, both halves of the week are asked alike, and
    the person is asked about as many as the cap a week."""
    _busy_past(team, person, clock, per_week=10)
    draws = random.Random(26)
    asked_by_place: Counter[int] = Counter()
    weeks = 16
    monday = week_start(team=team, at=clock.now) + timedelta(days=7)
    for week in range(weeks):
        for place in range(10):
            clock.now = monday + timedelta(days=7 * week, hours=6 + 14 * place)
            if ask(team, person, clock, draws).status == Status.ASKED:
                asked_by_place[place] += 1

    early = sum(asked_by_place[place] for place in range(5))
    late = sum(asked_by_place[place] for place in range(5, 10))
    assert late > 0.6 * early
    assert 3.5 <= (early + late) / weeks <= 5


def test_a_week_is_the_teams_monday_to_sunday(team):
    team.time_zone = "America/Los_Angeles"
    # Monday 06:00 UTC is still Sunday night in Los Angeles.
    monday_morning_utc = datetime(2025, 1, 13, 6, tzinfo=UTC)
    start = week_start(team=team, at=monday_morning_utc)

    assert start.isoformat() == "2025-01-06T00:00:00-08:00"


def _live_merge(team, person, at):
    pr = merge(team, person, at)
    PullRequestEvent.objects.create(
        team=team, pull_request=pr, kind="merged", occurred_at=at, source="webhook", live=True
    )
    return pr


class Recorded(random.Random):
    def __init__(self) -> None:
        super().__init__(0)
        self.populations: list[list[int]] = []

    def sample(self, population, k, **_):
        self.populations.append([pr.pk for pr in population])
        return list(population)[-k:]


def test_linking_later_samples_the_merges_uniformly_down_to_the_weeks_room(team, person, clock):
    team.merge_questions_per_week = 3
    team.save()
    ask(team, person, clock)  # one asked already this week: room for two
    merges = [_live_merge(team, person, clock.now - timedelta(days=d)) for d in (12, 9, 5, 2, 1)]
    draws = Recorded()

    asked_ids = merge_questions_catch_up(member=person, draws=draws)

    assert draws.populations == [[pr.pk for pr in merges]]
    assert len(asked_ids) == 2
    merges_asked = set(
        MergeQuestion.objects.filter(pk__in=asked_ids).values_list("pull_request_id", flat=True)
    )
    assert merges_asked == {merges[3].pk, merges[4].pk}
    left_out = MergeQuestion.objects.filter(pull_request__in=merges, status=Status.NOT_ASKED)
    assert set(left_out.values_list("not_asked_reason", "sample_probability")) == {
        ("sampled_out", 0.4)
    }


def test_linking_later_skips_history_and_what_is_already_decided(team, person, clock):
    decided = _live_merge(team, person, clock.now - timedelta(days=3))
    merge_question_ask(pull_request=decided)
    merge(team, person, clock.now - timedelta(days=2))  # history: no live event
    old = _live_merge(team, person, clock.now - timedelta(days=15))
    fresh = _live_merge(team, person, clock.now - timedelta(days=1))

    asked = merge_questions_catch_up(member=person)

    assert list(
        MergeQuestion.objects.filter(pk__in=asked).values_list("pull_request_id", flat=True)
    ) == [fresh.pk]
    assert not MergeQuestion.objects.filter(pull_request=old).exists()
    assert MergeQuestion.objects.count() == 2

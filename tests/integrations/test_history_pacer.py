"""The pacer of an installation's GraphQL requests: GitHub's CPU-time budget
filled but never overrun, its points kept, its refusals honoured by every run of
the installation. A clock of the test's own; GitHub faked at its real path."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import respx
from django.utils import timezone

from apps.integrations import tasks
from apps.integrations.models import HistoryRun
from apps.integrations.services import history, history_pacer
from apps.integrations.services.history_pacer import (
    MemoryStore,
    Pacer,
    PacerLimits,
    PacerWait,
    Permit,
    RedisStore,
)
from apps.metrics.models import PullRequest
from tests.integrations.conftest import github_app_settings, installation_for, iso, repository_for
from tests.payloads.graphql import FakeGraphQL, pr_node, secondary_limit_answer

API = "https://api.github.com"
INSTALLATION_ID = 42


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def pacer(clock: Clock, **limits: float) -> Pacer:
    return Pacer(store=MemoryStore(), limits=PacerLimits(**limits), clock=clock, sleep=clock.sleep)


def measured(p: Pacer, clock: Clock, *durations: float) -> None:
    """Requests one after another, each taking its duration on the clock."""
    for seconds in durations:
        permit = p.acquire(INSTALLATION_ID)
        clock.now += seconds
        p.release(permit, seconds=seconds)


def test_it_fills_the_cpu_time_budget_and_waits_for_it_to_leave_the_window():
    clock = Clock()
    p = pacer(clock)  # 60 s of response time per 60 s, filled to 95 %: 57 s
    measured(p, clock, *[1.5] * 37)  # 55.5 s used within the window

    last = p.try_acquire(INSTALLATION_ID)  # 55.5 + 1.5 = 57: fits
    assert isinstance(last, Permit)
    refused = p.try_acquire(INSTALLATION_ID)  # 58.5 would not

    assert isinstance(refused, PacerWait) and refused.reason == "CPU time"
    # The first request finished 1.5 s after the start: it leaves the window 60 s later.
    assert refused.until == pytest.approx(1_000_000.0 + 1.5 + 60, abs=0.01)


def test_it_keeps_the_long_run_share_of_the_budget_between_90_and_95_percent():
    clock = Clock()
    p = pacer(clock)
    busy = 0.0
    start = clock.now
    # Two workers taking turns as fast as the pacer lets them, for ten minutes.
    while clock.now - start < 600:
        permit = p.acquire(INSTALLATION_ID, max_wait=120)
        clock.now += 1.5
        busy += 1.5
        p.release(permit, seconds=1.5)
    share = busy / (clock.now - start)
    assert 0.9 <= share <= 0.96


def test_it_starts_with_one_request_in_flight_and_goes_to_two():
    clock = Clock()
    p = pacer(clock)
    first = p.try_acquire(INSTALLATION_ID)
    assert isinstance(first, Permit)
    assert isinstance(p.try_acquire(INSTALLATION_ID), PacerWait)  # nothing measured yet
    clock.now += 1
    p.release(first, seconds=1)  # GitHub's time known: two at once from now on

    held = [p.try_acquire(INSTALLATION_ID) for _ in range(3)]

    assert [type(answer) for answer in held] == [Permit, Permit, PacerWait]
    assert held[2].reason == "requests in flight"


def test_a_refusal_holds_every_request_of_the_installation_but_the_refused_ones():
    clock = Clock()
    p = pacer(clock)
    permit = p.acquire(INSTALLATION_ID, owner="history-run-1")
    p.refused(permit, seconds=0.2, until=clock.now + 30, owner="history-run-1")

    with pytest.raises(PacerWait) as waited:
        p.acquire(INSTALLATION_ID, owner="history-run-2", max_wait=5)
    assert waited.value.until == clock.now + 30
    # The refused run schedules its own wait (with its backoff); when it asks again it goes.
    assert isinstance(p.try_acquire(INSTALLATION_ID, owner="history-run-1"), Permit)
    assert isinstance(p.try_acquire(43), Permit)  # another installation has its own budget
    clock.now += 30
    assert p.figures(INSTALLATION_ID).refusals == 1


def test_it_keeps_the_hours_points_and_a_reserve():
    clock = Clock()
    p = pacer(clock)
    reset = clock.now + 600
    permit = p.acquire(INSTALLATION_ID)
    p.release(permit, seconds=1, cost=2, remaining=52, reset_at=reset)
    permit = p.try_acquire(INSTALLATION_ID)  # 52 - 2 = 50 kept back
    assert isinstance(permit, Permit)
    p.release(permit, seconds=1, cost=2, remaining=51, reset_at=reset)

    answer = p.try_acquire(INSTALLATION_ID)
    assert isinstance(answer, PacerWait) and answer.until == reset
    clock.now = reset + 1  # the hour is over: the points are back
    assert isinstance(p.try_acquire(INSTALLATION_ID), Permit)


def test_it_keeps_the_points_per_minute():
    clock = Clock()
    p = pacer(clock, points=10)  # 90 % of 10: 9 queries a minute
    measured(p, clock, *[0.01] * 9)

    answer = p.try_acquire(INSTALLATION_ID)

    assert isinstance(answer, PacerWait) and answer.reason == "points per minute"
    assert answer.until == pytest.approx(1_000_000.0 + 60)


def test_a_request_whose_worker_died_stops_counting():
    clock = Clock()
    p = pacer(clock)
    p.acquire(INSTALLATION_ID)  # never released
    assert isinstance(p.try_acquire(INSTALLATION_ID), PacerWait)
    clock.now += 301
    assert isinstance(p.try_acquire(INSTALLATION_ID), Permit)


@pytest.mark.redis
def test_processes_share_one_budget_through_redis():
    clock = Clock()
    url = os.environ["REDIS_URL"]
    installation_id = 900_000 + uuid.uuid4().int % 100_000
    one = Pacer(store=RedisStore(url), clock=clock, sleep=clock.sleep)
    other = Pacer(store=RedisStore(url), clock=clock, sleep=clock.sleep)

    permit = one.acquire(installation_id)
    assert isinstance(other.try_acquire(installation_id), PacerWait)  # one in flight at first
    clock.now += 1
    one.release(permit, seconds=1, cost=2, remaining=4000, reset_at=clock.now + 600)

    figures = other.figures(installation_id)
    assert (figures.requests, figures.remaining, figures.share_used) == (1, 4000, 1 / 60)
    one.store.forget_all()


def test_without_its_shared_state_it_admits_nothing_and_says_when_to_ask_again():
    clock = Clock()
    away = Pacer(store=RedisStore("redis://127.0.0.1:1/0"), clock=clock, sleep=clock.sleep)

    with pytest.raises(PacerWait) as waited:
        away.acquire(INSTALLATION_ID, max_wait=5)

    assert waited.value.until == clock.now + 30
    # A report lost with the state does not lose the answer it was about.
    away.release(Permit(INSTALLATION_ID, "t", clock.now), seconds=1.0)


# --- the runs of an installation go through its pacer ------------------------------


@pytest.fixture
def github_app_env(settings):
    github_app_settings(settings, api=API)


@pytest.fixture
def installation(team, github_app_env):
    return installation_for(team=team, installation_id=INSTALLATION_ID, login="acme")


@pytest.fixture
def github():
    fake = FakeGraphQL(repository_id=100, full_name="acme/api")
    with respx.mock(base_url=API, assert_all_called=False) as mock:
        mock.post(f"/app/installations/{INSTALLATION_ID}/access_tokens").respond(
            201, json={"token": "ghs_p", "expires_at": iso(datetime.now(UTC) + timedelta(hours=1))}
        )
        mock.post("/graphql").mock(side_effect=fake.respond)
        yield fake


@pytest.mark.django_db
def test_a_refusal_holds_the_installations_other_runs_without_asking_github(installation, github):
    api = repository_for(installation=installation, github_id=100, full_name="acme/api")
    web = repository_for(installation=installation, github_id=101, full_name="acme/web")
    github.add(pr_node(number=1))
    github.queue(secondary_limit_answer(retry_after=30))
    first = history.history_run_start(repository=api)
    tasks.continue_history_run(first.pk)
    asked = len(github.requests)

    second = history.history_run_start(repository=web)
    tasks.continue_history_run(second.pk)

    second.refresh_from_db()
    assert asked == 1 and len(github.requests) == 1  # the second run did not ask
    assert second.status == HistoryRun.Status.WAITING
    assert timezone.now() + timedelta(seconds=25) < second.resume_at
    assert second.resume_at <= timezone.now() + timedelta(seconds=31)
    assert (second.error, second.secondary_limits) == ("", 0)


@pytest.mark.django_db
def test_a_run_re_queues_itself_for_when_the_budget_has_room(installation, github, monkeypatch):
    clock = Clock()
    clock.now = timezone.now().timestamp()
    busy = pacer(clock)
    monkeypatch.setattr(history_pacer, "history_pacer", lambda: busy)
    measured(busy, clock, 20, 17, 20)  # 57 s of GitHub's time in the last minute
    repository = repository_for(installation=installation, github_id=100, full_name="acme/api")
    github.add(pr_node(number=1))

    run = history.history_run_start(repository=repository)
    tasks.continue_history_run(run.pk)

    run.refresh_from_db()
    assert github.requests == []
    assert run.status == HistoryRun.Status.WAITING
    # Room for one more of the slowest (20 s) when the first of those requests
    # leaves the window, in 23 s: more than a worker waits (5 s), so it did not wait.
    assert run.resume_at.timestamp() == pytest.approx(clock.now + 23, abs=0.01)
    assert PullRequest.objects.count() == 0


@pytest.mark.django_db
def test_each_page_reports_its_time_and_githubs_figures_to_the_pacer(installation, github):
    repository = repository_for(installation=installation, github_id=100, full_name="acme/api")
    github.add(pr_node(number=1))

    run = history.history_run_start(repository=repository)
    tasks.continue_history_run(run.pk)

    figures = history_pacer.pacer_figures(installation_id=INSTALLATION_ID)
    assert (figures.requests, figures.remaining, figures.in_flight) == (1, github.remaining, 0)
    assert figures.reset_at == github.reset_at.timestamp()


# --- the settings page: the installation's history as a whole ----------------------


def _settings_page(client, team) -> str:
    response = client.get(f"/teams/{team.slug}/github/")
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
def test_the_settings_page_shows_the_organisations_progress_budget_and_time_left(
    client, owner, team, installation
):
    client.force_login(owner)
    repositories = [
        repository_for(installation=installation, github_id=200 + n, full_name=f"acme/r{n}")
        for n in range(4)
    ]
    done = dict(status=HistoryRun.Status.DONE, pages_done=10, pull_requests_stored=1000)
    HistoryRun.objects.create(repository=repositories[0], **done)
    HistoryRun.objects.create(repository=repositories[1], **done)
    # 4 of 10 pages loaded: 6 left; the queued run counts as long as the others (10).
    HistoryRun.objects.create(
        repository=repositories[2],
        status=HistoryRun.Status.RUNNING,
        pages_done=4,
        page_size=100,
        pull_requests_stored=400,
        total_count=1000,
    )
    HistoryRun.objects.create(repository=repositories[3])
    # GitHub answered in 1.5 s a page; 45 s of its time in the last minute.
    busy = history_pacer.history_pacer()
    for _ in range(30):
        permit = busy.acquire(INSTALLATION_ID, max_wait=5)
        reset = timezone.now().timestamp() + 1800
        busy.release(permit, seconds=1.5, cost=2, remaining=4210, reset_at=reset)

    page = _settings_page(client, team)

    assert 'data-role="history-repositories">2 of 4<' in page
    assert 'data-role="history-pull-requests">2,400<' in page
    assert 'data-role="history-budget">75 %<' in page
    assert 'data-role="history-points">4,210<' in page
    # 16 pages of 1.5 s at 95 % of GitHub's time: 25 s.
    assert 'data-role="history-time-left">&lt; 1 min<' in page


@pytest.mark.django_db
def test_the_time_left_waits_for_the_hours_points_when_they_are_short(
    client, owner, team, installation
):
    client.force_login(owner)
    repository = repository_for(installation=installation, github_id=300, full_name="acme/big")
    HistoryRun.objects.create(
        repository=repository,
        status=HistoryRun.Status.RUNNING,
        pages_done=100,
        page_size=100,
        pull_requests_stored=10_000,
        total_count=60_000,
    )
    busy = history_pacer.history_pacer()
    permit = busy.acquire(INSTALLATION_ID)
    reset = timezone.now().timestamp() + 20 * 60
    busy.release(permit, seconds=1.5, cost=2, remaining=100, reset_at=reset)

    page = _settings_page(client, team)

    # 500 pages need 1,000 points: 100 now, the rest after the reset (20 min)
    # at 5,000 an hour (11 min): about 31 minutes, more than the 13 min of GitHub's time.
    assert 'data-role="history-time-left">31 min<' in page
    assert 'data-role="history-repositories">0 of 1<' in page


@pytest.mark.django_db
def test_the_settings_page_shows_no_history_summary_before_any_run(
    client, owner, team, installation
):
    client.force_login(owner)
    repository_for(installation=installation, github_id=400, full_name="acme/new")

    assert 'data-role="history-summary"' not in _settings_page(client, team)

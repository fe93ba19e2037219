"""History's pages pipelined within a step: the request for page N+1 goes while
page N is applied, and nothing about the run changes but the time it takes.
GitHub's GraphQL faked at its real path; the order of things shown with events,
never with sleeps or clocks."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from apps.integrations.models import HistoryRun
from apps.integrations.services import history, history_pacer
from apps.metrics.models import PullRequest
from tests.integrations.conftest import github_app_settings, installation_for, iso, repository_for
from tests.payloads.graphql import (
    FakeGraphQL,
    _cursor,
    partial_answer,
    pr_node,
    rate_limited_answer,
)

pytestmark = pytest.mark.django_db

API = "https://api.github.com"
INSTALLATION_ID = 42
# Long enough for a loaded machine; only reached when the overlap is missing.
RENDEZVOUS = 10.0


@pytest.fixture(autouse=True)
def github_app_env(settings):
    github_app_settings(settings, api=API)


@pytest.fixture
def repository(team):
    installation = installation_for(team=team, installation_id=INSTALLATION_ID, login="acme")
    return repository_for(installation=installation, github_id=100, full_name="acme/api")


@dataclass
class PageRead:
    """A page request as the fake saw it arrive."""

    after: str | None
    first: int
    # Pages applied (their apply over) when it arrived.
    applied: int
    on_main_thread: bool


@dataclass
class Watched:
    """The fake GitHub, the pacer and the applies of the pages, watched: how many
    pages were applied when each page request arrived and when each read asked
    the pacer; a page's answer replaced (`fail`); hooks run as a page request
    arrives (`on_read`) and as a page's apply begins (`on_apply`)."""

    fake: FakeGraphQL
    reads: list[PageRead] = field(default_factory=list)
    # For each read asked of the pacer, in order: the pages applied then.
    paced: list[int] = field(default_factory=list)
    applies: int = 0
    applied: int = 0
    fail: dict[str | None, httpx.Response] = field(default_factory=dict)
    on_read: Callable[[str | None], None] | None = None
    on_apply: Callable[[int], None] | None = None
    changed: threading.Condition = field(default_factory=threading.Condition)

    def respond(self, request: httpx.Request) -> httpx.Response:
        variables = json.loads(request.content).get("variables") or {}
        if "name" in variables and "first" in variables:  # a page of pull requests
            after = variables.get("after")
            on_main_thread = threading.current_thread() is threading.main_thread()
            with self.changed:
                self.reads.append(PageRead(after, variables["first"], self.applied, on_main_thread))
            if self.on_read is not None:
                self.on_read(after)
            if after in self.fail:
                self.fake.requests.append(variables)
                return self.fail.pop(after)
        return self.fake.respond(request)

    def apply(self, real: Callable[..., Any]) -> Callable[..., Any]:
        def watched(*, events):
            self.applies += 1
            if self.on_apply is not None:
                self.on_apply(self.applies)
            answer = real(events=events)
            with self.changed:
                self.applied += 1
            return answer

        return watched

    def pace(self, real: Callable[..., Any]) -> Callable[..., Any]:
        def watched(**kwargs):
            with self.changed:
                self.paced.append(self.applied)
                self.changed.notify_all()
            return real(**kwargs)

        return watched

    def asked_pacer(self, reads: int) -> bool:
        """Wait until `reads` reads have asked the pacer; whether they did in time."""
        with self.changed:
            return self.changed.wait_for(lambda: len(self.paced) >= reads, RENDEZVOUS)

    def hold_apply_until_read(self, apply_number: int, reads: int) -> None:
        """Page `apply_number`'s apply waits (a while at most) for the next page's
        read to ask the pacer: with the read sent ahead, it does so during it."""
        earlier = self.on_apply

        def on_apply(number: int) -> None:
            if earlier is not None:
                earlier(number)
            if number == apply_number:
                self.asked_pacer(reads)

        self.on_apply = on_apply


@pytest.fixture
def github(monkeypatch) -> Iterator[Watched]:
    watched = Watched(FakeGraphQL(repository_id=100, full_name="acme/api"))
    monkeypatch.setattr(history, "events_apply", watched.apply(history.events_apply))
    monkeypatch.setattr(history, "pacer_call", watched.pace(history.pacer_call))
    with respx.mock(base_url=API, assert_all_called=False) as mock:
        expires = iso(datetime.now(UTC) + timedelta(hours=1))
        mock.post(f"/app/installations/{INSTALLATION_ID}/access_tokens").respond(
            201, json={"token": "ghs_ahead", "expires_at": expires}
        )
        mock.post("/graphql").mock(side_effect=watched.respond)
        yield watched


def add_pull_requests(github: Watched, count: int) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    github.fake.add(
        *[
            pr_node(number=n, updated_at=iso(start + timedelta(minutes=n)))
            for n in range(1, count + 1)
        ]
    )


def start_run(repository, *, page_size: int = 1) -> HistoryRun:
    """A run whose pages are 1, 2, 4, … pull requests (the size doubles after each)."""
    run = history.history_run_start(repository=repository)
    HistoryRun.objects.filter(pk=run.pk).update(page_size=page_size)
    return run


def no_read_ahead_thread() -> bool:
    return not any(t.name.startswith("history-run-") for t in threading.enumerate())


def test_the_next_page_is_asked_for_while_this_one_is_applied(repository, github):
    add_pull_requests(github, 3)  # pages of 1 and 2
    page_two_asked = threading.Event()
    apply_started = threading.Event()
    seen_during_apply: list[bool] = []

    def on_read(after: str | None) -> None:
        if after is not None:
            page_two_asked.set()
            # Answer only once page 1's apply has begun: both are under way at once.
            apply_started.wait(RENDEZVOUS)

    def on_apply(number: int) -> None:
        if number == 1:
            apply_started.set()
            seen_during_apply.append(page_two_asked.wait(RENDEZVOUS))

    github.on_read, github.on_apply = on_read, on_apply
    run = start_run(repository)

    assert history.history_run_step(run_id=run.pk).kind == "done"

    assert seen_during_apply == [True]
    # Page 2's request arrived before page 1's apply was over.
    assert [(r.after, r.first, r.applied) for r in github.reads] == [
        (None, 1, 0),
        (_cursor(1), 2, 0),
    ]
    # The network on a thread of its own, which is gone with the step.
    assert [r.on_main_thread for r in github.reads] == [True, False]
    assert no_read_ahead_thread()
    run.refresh_from_db()
    assert (run.status, run.pages_done, run.pull_requests_stored) == ("done", 2, 3)
    assert (run.requests_made, run.points_used) == (2, github.fake.points)
    assert PullRequest.objects.count() == 3
    # The request read ahead went through the installation's pacer like any other.
    figures = history_pacer.pacer_figures(installation_id=INSTALLATION_ID)
    assert (figures.requests, figures.in_flight) == (2, 0)


def _refused_query() -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "data": None,
            "errors": [{"type": "FORBIDDEN", "message": "Resource not accessible by integration"}],
        },
    )


# Page 1 of the smallest size, then page 2 of twice that, whose read fails.
FIRST = history.MIN_PAGE_SIZE
PAGE_ONE_END = _cursor(FIRST)
RESET_AT = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
HELD_UNTIL = datetime(2030, 1, 1, 13, 0, tzinfo=UTC)


def _hold_the_installation(github: Watched) -> None:
    """Once page 1 is read, GitHub refuses another run of the installation: the
    pacer holds this run's next request until then (PacerWait)."""

    def on_read(after: str | None) -> None:
        if after is None:
            pacer = history_pacer.history_pacer()
            with pacer.store.locked(INSTALLATION_ID) as state:
                state.blocked_until = HELD_UNTIL.timestamp()
                state.blocked_by = "history-run-another"

    github.on_read = on_read


# Each with a fixed time (or none) where the run waits: the fields compare exactly.
FAILURES: dict[str, Callable[[Watched], None]] = {
    "rate limited": lambda g: g.fail.update({PAGE_ONE_END: rate_limited_answer(RESET_AT)}),
    "page too large": lambda g: g.fail.update({PAGE_ONE_END: partial_answer()}),
    "refused": lambda g: g.fail.update({PAGE_ONE_END: _refused_query()}),
    "pacer wait": _hold_the_installation,
}
COMPARED = [
    "status",
    "error",
    "cursor",
    "page_size",
    "pages_done",
    "pull_requests_stored",
    "reviews_stored",
    "total_count",
    "reached_updated_at",
    "failures",
    "resume_at",
    "secondary_limits",
    "points_used",
    "requests_made",
]


def _two_pages(repository, github: Watched, failure: str, *, pipelined: bool) -> dict[str, Any]:
    """Page 1, then page 2's read failing: in one step of two pages (read ahead
    during page 1's apply) or in two steps of one page each (read after it
    committed, as before the pipeline). The run's fields after, and what was read."""
    PullRequest.objects.all().delete()
    history_pacer.pacer_reset()
    github.reads.clear()
    github.paced.clear()
    github.applies = github.applied = 0
    github.on_apply = None
    github.fake.remaining = 5000
    FAILURES[failure](github)
    if pipelined:
        github.hold_apply_until_read(1, reads=2)
    run = start_run(repository, page_size=FIRST)
    steps = (
        [history.history_run_step(run_id=run.pk, pages=2)]
        if pipelined
        else [history.history_run_step(run_id=run.pk, pages=1) for _ in range(2)]
    )
    run.refresh_from_db()
    fields = {name: getattr(run, name) for name in COMPARED}
    fields["step"] = steps[-1]
    fields["reads"] = [(r.after, r.first) for r in github.reads]
    fields["stored"] = PullRequest.objects.count()
    github.on_read = None
    # Out of the way of the next scenario's run (one active run per repository).
    HistoryRun.objects.filter(pk=run.pk).update(status=HistoryRun.Status.DONE)
    return fields


@pytest.mark.parametrize("failure", list(FAILURES))
def test_a_failing_read_ahead_leaves_the_run_as_a_failing_read_did(repository, github, failure):
    add_pull_requests(github, 3 * FIRST)

    before = _two_pages(repository, github, failure, pipelined=False)
    paced_before = list(github.paced)
    after = _two_pages(repository, github, failure, pipelined=True)

    # Page 2's read asked the pacer once page 1 was applied before; during its apply now.
    assert paced_before == [0, 1]
    assert github.paced == [0, 0]
    assert after == before
    assert (before["pages_done"], before["cursor"], before["stored"]) == (1, PAGE_ONE_END, FIRST)
    assert no_read_ahead_thread()


def test_a_failed_apply_keeps_the_cursor_of_the_last_page_committed(repository, github):
    add_pull_requests(github, 7)  # pages of 1, 2 and 4
    page_three_asked = threading.Event()

    def on_read(after: str | None) -> None:
        if after == _cursor(3):
            page_three_asked.set()

    def on_apply(number: int) -> None:
        if number == 2:
            # Page 3's request is under way, its answer the next page's…
            page_three_asked.wait(RENDEZVOUS)
            # …but page 2 never commits.
            raise RuntimeError("the database went away")

    github.on_read, github.on_apply = on_read, on_apply
    github.hold_apply_until_read(1, reads=2)
    run = start_run(repository)

    with pytest.raises(RuntimeError, match="database went away"):
        history.history_run_step(run_id=run.pk)

    # Page 2 read during page 1's apply, page 3 during page 2's.
    assert [r.after for r in github.reads] == [None, _cursor(1), _cursor(3)]
    assert github.paced == [0, 0, 1]
    assert no_read_ahead_thread()
    run.refresh_from_db()
    assert (run.status, run.pages_done, run.cursor, run.page_size) == ("running", 1, _cursor(1), 2)
    assert PullRequest.objects.count() == 1

    # The next step goes on from the stored cursor: page 3 read ahead was not kept.
    github.on_apply = None
    assert history.history_run_step(run_id=run.pk).kind == "done"
    assert github.reads[3].after == _cursor(1)
    run.refresh_from_db()
    assert (run.status, run.pull_requests_stored) == ("done", 7)
    assert PullRequest.objects.count() == 7


@pytest.mark.parametrize(
    ("how", "error"),
    [("stopped", "Tracking was stopped."), ("untracked", "acme/api is not tracked by")],
)
def test_a_run_stopped_between_pages_does_not_apply_the_page_read_ahead(
    repository, github, how, error
):
    add_pull_requests(github, 3)

    def between_pages(run: HistoryRun) -> None:
        if run.pages_done != 1:
            return
        if how == "stopped":
            history.history_runs_stop(repositories=[repository], reason="Tracking was stopped.")
        else:
            type(repository).objects.filter(pk=repository.pk).update(tracked=False)

    github.hold_apply_until_read(1, reads=2)
    run = start_run(repository)

    step = history.history_run_step(run_id=run.pk, on_page=between_pages)

    assert step.kind == "stopped"
    # Page 2 was asked for during page 1's apply, and dropped.
    assert [r.after for r in github.reads] == [None, _cursor(1)]
    assert github.paced == [0, 0]
    assert github.applies == 1
    assert no_read_ahead_thread()
    run.refresh_from_db()
    assert (run.status, run.pages_done, run.cursor) == ("stopped", 1, _cursor(1))
    assert run.error.startswith(error)
    assert PullRequest.objects.count() == 1


def test_the_last_page_of_a_step_reads_nothing_ahead(repository, github):
    add_pull_requests(github, 20)
    run = start_run(repository)

    assert history.history_run_step(run_id=run.pk, pages=2).kind == "continue"

    # Pages 1 and 2 only: the step's last page leaves nothing in flight.
    assert [r.after for r in github.reads] == [None, _cursor(1)]
    assert no_read_ahead_thread()
    run.refresh_from_db()
    assert (run.pages_done, run.cursor) == (2, _cursor(3))
    # The next step starts from the stored cursor.
    assert history.history_run_step(run_id=run.pk, pages=1).kind == "continue"
    assert github.reads[2].after == _cursor(3)

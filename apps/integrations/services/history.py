"""History: a tracked repository's past pull requests and reviews, loaded page
by page from GitHub's GraphQL API into the metrics through the one entry.

A run is a `HistoryRun` row. `history_run_step` reads and stores a bounded
number of pages, each in its own transaction with the run's cursor, and says
what comes next (more pages, a wait for a rate limit, the end); the Celery task
in `apps/integrations/tasks.py` queues that continuation (through
`apps/integrations/scheduling/`), so no worker ever
sleeps on a limit and a killed worker's run resumes from its stored cursor.

Before each page the run asks `repository_eligibility` again: a repository
untracked, removed from the installation or disconnected stops its run.

Within one step the pages are pipelined: once a page has been read (with its
extra items and commits) and the run will go on, the request for the next page
is sent on a thread of its own (`_ReadAhead`) while this page is applied, so
GitHub's latency and the database's writes overlap. The cursor stored is only
ever that of a page applied and committed; a page read ahead is used only by
the next page of the same run at exactly the stored cursor, else dropped.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from githubkit import GitHub

from apps.integrations import scheduling
from apps.integrations.models import HistoryRun, Installation, Repository
from apps.integrations.pipeline.eligibility import Ineligible, repository_eligibility
from apps.integrations.services.app_config import github_app_config
from apps.integrations.services.commits import history_commit_events
from apps.integrations.services.deployment_history import deployment_history_queue
from apps.integrations.services.github_api import installation_github
from apps.integrations.services.history_pacer import PacerWait, pacer_call
from apps.metrics.services.processors import MetricsEvent, Source, events_apply
from github_app.commits import EVENT as COMMITS_EVENT
from github_app.commits import CommitsAnswer
from github_app.errors import GitHubError, NotConfigured, RateLimited, Unavailable
from github_app.history import (
    MAX_PAGE_SIZE,
    MIN_PAGE_SIZE,
    MORE_PER_QUERY,
    MoreField,
    MoreItems,
    MoreWanted,
    PageTooLarge,
    PullRequestPage,
    adapter_node,
    first_items,
    graphql_endpoint,
    more_items,
    pull_request_events,
    pull_request_page,
)
from github_app.values import timestamp_or_none

logger = logging.getLogger(__name__)

# Pages one task invocation reads before it re-queues itself: a worker is never
# held for long, and a deploy's restart loses at most this many pages' work.
PAGES_PER_STEP = 10
# A run whose row has not moved for this long lost its worker (or its message).
STALE_AFTER = timedelta(minutes=5)
# Transient failures (GitHub down) in a row before a run is failed.
MAX_FAILURES = 5
FAILURE_BACKOFF = timedelta(seconds=30)
SECONDARY_BACKOFF = timedelta(seconds=60)
# Seconds a worker waits for its installation's pacer before it re-queues the
# run for when there is room: the pacer's waits are mostly a fraction of a page.
PACER_MAX_WAIT = 5.0

# Ask for no more than this many more pages of a pull request's timeline
# (reviews) or labels.
MAX_ITEM_PAGES = 50

StepKind = Literal["continue", "wait", "done", "failed", "stopped", "busy"]


@dataclass(frozen=True, slots=True)
class Step:
    """What a run needs next: more pages now, a wait until `resume_at`, or nothing."""

    kind: StepKind
    resume_at: datetime | None = None


def history_window_start(
    *, days: int | None = None, now: datetime | None = None
) -> datetime | None:
    """The oldest last-update a run loads (None: everything)."""
    days = settings.TFORMANCE_HISTORY_DAYS if days is None else days
    if days <= 0:
        return None
    return (now or timezone.now()) - timedelta(days=days)


def history_run_start(*, repository: Repository, days: int | None = None) -> HistoryRun:
    """The repository's active run, or a new queued one (one at a time per repository)."""
    active = _active_run(repository)
    if active is not None:
        return active
    try:
        with transaction.atomic():
            return HistoryRun.objects.create(
                repository=repository, window_start=history_window_start(days=days)
            )
    except IntegrityError:
        # Another request started one a moment ago (the conditional unique constraint).
        found = _active_run(repository)
        if found is None:
            raise
        return found


def history_backfill_queue(*, repository: Repository, days: int | None = None) -> HistoryRun | None:
    """Start (or find) the repository's run and queue its task once this commits.

    None for the demo's repositories: their history is the demo's story, and
    GitHub has nothing for them."""
    if repository.installation.demo:
        return None
    run = history_run_start(repository=repository, days=days)
    scheduling.history_run_queue(run.pk)
    return run


def history_backfill_installation(*, installation: Installation) -> list[HistoryRun]:
    """Queue history for every repository the installation's team tracks (on claim)."""
    repositories = installation.repositories.filter(tracked=True, accessible=True)
    runs = [history_backfill_queue(repository=repository) for repository in repositories]
    return [run for run in runs if run is not None]


def history_runs_stop(*, repositories: Any, reason: str) -> int:
    """Stop the active runs of these repositories (a queryset or a list), saying why."""
    now = timezone.now()
    return HistoryRun.objects.filter(
        repository__in=repositories, status__in=HistoryRun.ACTIVE
    ).update(status=HistoryRun.Status.STOPPED, error=reason, finished_at=now, resume_at=None)


class HistoryRetryRefused(Exception):
    """The history cannot be loaded again now; the message says why."""


def history_run_retry(*, run: HistoryRun) -> HistoryRun:
    """A failed run again, as a new run from the start (re-reading is safe).

    Refused, with the reason, when it could only fail the same way: the
    repository untracked, the demo's, or no GitHub App to read it with."""
    repository = run.repository
    if not repository.tracked:
        raise HistoryRetryRefused(f"Track {repository.full_name} first.")
    if not repository.installation.demo:
        try:
            github_app_config()
        except NotConfigured as exc:
            raise HistoryRetryRefused(
                f"The history of {repository.full_name} cannot be loaded: {exc}."
            ) from None
    new_run = history_backfill_queue(repository=repository)
    if new_run is None:
        raise HistoryRetryRefused(
            f"{repository.full_name} is the demo's: its history is the demo's story, "
            "not read from GitHub."
        )
    return new_run


def history_runs_due(*, now: datetime | None = None) -> list[int]:
    """Runs to continue: waits that are over, and queued or running runs whose
    worker has not moved them for `STALE_AFTER` (killed, or its message lost)."""
    now = now or timezone.now()
    waits_over = HistoryRun.objects.filter(
        status=HistoryRun.Status.WAITING, resume_at__lte=now
    ).values_list("pk", flat=True)
    stale = HistoryRun.objects.filter(
        status__in=[HistoryRun.Status.QUEUED, HistoryRun.Status.RUNNING],
        updated_at__lt=now - STALE_AFTER,
    ).values_list("pk", flat=True)
    return sorted({*waits_over, *stale})


def history_run_step(
    *,
    run_id: int,
    pages: int = PAGES_PER_STEP,
    on_page: Callable[[HistoryRun], None] | None = None,
) -> Step:
    """Read and store up to `pages` pages of the run; what it needs next.

    Each page but the last sends the next one's request ahead while it is
    applied; the last does not, so nothing is left in flight when the step ends."""
    read_ahead = _ReadAhead()
    try:
        for number in range(1, pages + 1):
            step, run = _one_page(run_id, read_ahead=read_ahead, send_next=number < pages)
            if on_page is not None and run is not None:
                on_page(run)
            if step.kind != "continue":
                return step
        return Step("continue")
    finally:
        # A page read ahead and not used (the run stopped, waits, failed, or
        # this step raised) is dropped once its request is over: the request
        # was reported to the pacer by its thread, and no cursor moved for it.
        read_ahead.close()


@dataclass(frozen=True, slots=True)
class _PageAhead:
    """The request for a run's next page, sent while the page before is applied:
    at `after` (that page's end cursor), of `first` pull requests."""

    run_id: int
    after: str
    first: int
    answer: Future[PullRequestPage]


class _ReadAhead:
    """At most one page request in flight ahead of the page being applied, on a
    thread of its own for the network only: Django's database connections are
    per thread, so the thread is given everything it needs (the client, the
    cursor, the size), prepared in the run's thread, and never touches a model.

    Its answer, or its exception (a limit, a page too large, GitHub down, the
    pacer's wait), is the next page's read: `take` gives it back only for the
    same run at exactly the stored cursor and page size, so a failure comes out
    where today's read would fail, with the same outcome."""

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None
        self._pending: _PageAhead | None = None

    def send(
        self, *, run_id: int, after: str, first: int, read: Callable[[], PullRequestPage]
    ) -> None:
        self._drop()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix=f"history-run-{run_id}-ahead"
            )
        self._pending = _PageAhead(run_id, after, first, self._executor.submit(read))

    def take(self, run: HistoryRun) -> Future[PullRequestPage] | None:
        """The page read ahead if it is this run's next page as stored, else None
        (the one in flight is dropped)."""
        pending = self._pending
        if pending is None:
            return None
        if (pending.run_id, pending.after, pending.first) != (run.pk, run.cursor, run.page_size):
            # Another worker moved the run meanwhile: its stored cursor decides.
            self._drop()
            return None
        self._pending = None
        return pending.answer

    def close(self) -> None:
        self._drop()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def _drop(self) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            return
        # Its request cannot be called back: wait for it to end (its thread
        # reports it to the pacer), then forget its answer or its error.
        futures_wait([pending.answer])
        logger.info(
            "history run %s: the page read ahead after %s was not used",
            pending.run_id,
            pending.after,
        )


def _active_run(repository: Repository) -> HistoryRun | None:
    return HistoryRun.objects.filter(repository=repository, status__in=HistoryRun.ACTIVE).first()


def _one_page(
    run_id: int, *, read_ahead: _ReadAhead, send_next: bool
) -> tuple[Step, HistoryRun | None]:
    with transaction.atomic():
        # skip_locked: a second task for the same run (a duplicate message, the
        # resumer) leaves the page to the one already on it.
        run = (
            HistoryRun.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("repository__installation")
            .filter(pk=run_id)
            .first()
        )
        if run is None:
            return Step("busy"), None
        if not run.is_active:
            return Step(_finished_kind(run)), run
        now = timezone.now()
        if run.status == HistoryRun.Status.WAITING and run.resume_at and run.resume_at > now:
            return Step("wait", run.resume_at), run
        repository = run.repository
        eligibility = repository_eligibility(
            installation_id=repository.installation.installation_id,
            repository_github_id=repository.github_id,
        )
        if isinstance(eligibility, Ineligible):
            _finish(run, HistoryRun.Status.STOPPED, error=eligibility.reason)
            return Step("stopped"), run
        if run.started_at is None:
            run.started_at = now
        try:
            step = _load_page(
                run,
                team=eligibility.team,
                repository=eligibility.repository,
                read_ahead=read_ahead,
                send_next=send_next,
            )
        except PacerWait as wait:
            step = _wait_until(run, datetime.fromtimestamp(wait.until, UTC))
        except RateLimited as limit:
            step = _wait_for_limit(run, limit)
        except PageTooLarge as exc:
            step = _smaller_page(run, exc)
        except Unavailable as exc:
            step = _transient_failure(run, exc)
        except GitHubError as exc:
            _finish(run, HistoryRun.Status.FAILED, error=str(exc))
            step = Step("failed")
        return step, run


def _load_page(
    run: HistoryRun,
    *,
    team: Any,
    repository: Repository,
    read_ahead: _ReadAhead,
    send_next: bool,
) -> Step:
    installation_id = repository.installation.installation_id
    github = installation_github(installation_id=installation_id)
    # The read-ahead thread's own client, built here, in the run's thread:
    # building one may read the stored GitHub App from the database.
    github_ahead = installation_github(installation_id=installation_id) if send_next else None
    endpoint = graphql_endpoint(settings.GITHUB_API_URL)
    ahead = read_ahead.take(run)
    if ahead is not None:
        # Sent while the page before was applied; its exception, if it failed,
        # is raised here, where reading this page would have raised it.
        page = ahead.result()
    else:
        page = _paced(
            run,
            installation_id,
            lambda: pull_request_page(
                github,
                endpoint=endpoint,
                full_name=repository.full_name,
                first=run.page_size,
                after=run.cursor or None,
            ),
        )
    if page.repository_id is not None and page.repository_id != repository.github_id:
        raise GitHubError(
            f"{repository.full_name} on GitHub is another repository now (renamed or replaced): "
            "re-sync the installation's repositories, then track it again"
        )
    block = {"id": repository.github_id, "full_name": repository.full_name}
    events: list[MetricsEvent] = []
    kinds: list[str] = []
    oldest: datetime | None = None
    rate_limit = page.rate_limit
    run.points_used += rate_limit.cost
    run.requests_made += 1
    kept: list[tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]] = []
    wanted: dict[tuple[str, MoreField], tuple[list[dict[str, Any]], str]] = {}
    for node in page.nodes:
        updated_at = timestamp_or_none(node.get("updatedAt"))
        if updated_at is not None:
            oldest = updated_at if oldest is None else min(oldest, updated_at)
        if run.window_start is not None and (updated_at is None or updated_at < run.window_start):
            continue
        items, items_after = first_items(node, "timelineItems")
        labels, labels_after = first_items(node, "labels")
        kept.append((node, items, labels))
        node_id = node.get("id")
        if isinstance(node_id, str):
            if items_after is not None:
                wanted[(node_id, "timelineItems")] = (items, items_after)
            if labels_after is not None:
                wanted[(node_id, "labels")] = (labels, labels_after)
    # Only the pull requests with more than the page held cost more, and those
    # of one page share their queries (one point, one request for up to 50).
    for _ in range(MAX_ITEM_PAGES):
        if not wanted:
            break
        keys = list(wanted)
        for chunk_start in range(0, len(keys), MORE_PER_QUERY):
            chunk = keys[chunk_start : chunk_start + MORE_PER_QUERY]
            asks = [
                MoreWanted(node_id, field, wanted[(node_id, field)][1]) for node_id, field in chunk
            ]
            more: MoreItems = _paced(
                run,
                installation_id,
                lambda asks=asks: more_items(github, endpoint=endpoint, wanted=asks),
            )
            rate_limit = more.rate_limit
            run.points_used += rate_limit.cost
            run.requests_made += 1
            for key, answer in zip(chunk, more.pages, strict=True):
                found, _after = wanted.pop(key)
                found.extend(answer.nodes)
                if answer.has_next_page and answer.end_cursor:
                    wanted[key] = (found, answer.end_cursor)
    for node, items, labels in kept:
        shaped, reviews = adapter_node(node, items=items, labels=labels)
        for name, payload in pull_request_events(shaped, reviews=reviews, repository=block):
            events.append(
                MetricsEvent(
                    team=team,
                    repository=repository,
                    name=name,
                    payload=payload,
                    received_at=None,
                    source=Source.HISTORY,
                )
            )
            kinds.append(payload["action"] if name == "pull_request" else name)

    # The commits of the page's merged pull requests, after them (docs/ai.md),
    # each request admitted by the pacer and counted like the page's.
    def pace_commits(read: Callable[[], CommitsAnswer]) -> CommitsAnswer:
        answer = _paced(run, installation_id, read)
        run.points_used += answer.rate_limit.cost
        run.requests_made += 1
        return answer

    payloads, commits_limit = history_commit_events(
        github,
        endpoint=endpoint,
        repository=repository,
        nodes=[node for node, _, _ in kept],
        pace=pace_commits,
    )
    rate_limit = commits_limit or rate_limit
    for payload in payloads:
        events.append(
            MetricsEvent(
                team=team,
                repository=repository,
                name=COMMITS_EVENT,
                payload=payload,
                received_at=None,
                source=Source.HISTORY,
            )
        )
        kinds.append(COMMITS_EVENT)
    before_window = (
        run.window_start is not None and oldest is not None and oldest < run.window_start
    )
    last_page = not page.has_next_page or before_window or not page.nodes
    # Too few points left for another page: go on when they come back, not now.
    points_low = (
        rate_limit.reset_at is not None and 0 <= rate_limit.remaining < max(rate_limit.cost, 1) * 2
    )
    next_size = min(MAX_PAGE_SIZE, run.page_size * 2)
    if github_ahead is not None and not last_page and not points_low and page.end_cursor:
        # Everything that decides whether the next page is read is known now,
        # but for this page's apply and commit: its request goes while they run.
        read_ahead.send(
            run_id=run.pk,
            after=page.end_cursor,
            first=next_size,
            read=_page_reader(
                github_ahead,
                installation_id=installation_id,
                owner=_owner(run),
                endpoint=endpoint,
                full_name=repository.full_name,
                first=next_size,
                after=page.end_cursor,
            ),
        )
    results = events_apply(events=events) if events else []
    for kind, result in zip(kinds, results, strict=True):
        if not result.ok:
            logger.warning("history run %s: an event could not be read: %s", run.pk, result.error)
        elif kind == "history":
            run.pull_requests_stored += 1
        elif kind == "pull_request_review":
            run.reviews_stored += 1
    run.pages_done += 1
    run.cursor = page.end_cursor or run.cursor
    run.total_count = page.total_count
    if oldest is not None:
        run.reached_updated_at = oldest
    run.failures = 0
    run.secondary_limits = 0
    run.error = ""
    run.page_size = next_size
    if last_page:
        _finish(run, HistoryRun.Status.DONE)
        return Step("done")
    if points_low and rate_limit.reset_at is not None:
        return _wait_until(run, rate_limit.reset_at)
    run.status = HistoryRun.Status.RUNNING
    run.resume_at = None
    run.save()
    return Step("continue")


_Answer = TypeVar("_Answer", PullRequestPage, MoreItems, CommitsAnswer)


def _paced(run: HistoryRun, installation_id: int, read: Callable[[], _Answer]) -> _Answer:
    """One GraphQL request, admitted by the installation's pacer (shared by every
    run of the installation) and reported to it; GitHub's refusal holds the
    installation's other runs too."""
    return pacer_call(
        installation_id=installation_id,
        read=read,
        owner=_owner(run),
        max_wait=PACER_MAX_WAIT,
    )


def _owner(run: HistoryRun) -> str:
    return f"history-run-{run.pk}"


def _page_reader(
    github: GitHub[Any],
    *,
    installation_id: int,
    owner: str,
    endpoint: str,
    full_name: str,
    first: int,
    after: str,
) -> Callable[[], PullRequestPage]:
    """A page's read, paced as `_paced` paces, from plain values only: it runs on
    the read-ahead thread, which must not touch the run (a model) or the database."""

    def read() -> PullRequestPage:
        return pacer_call(
            installation_id=installation_id,
            read=lambda: pull_request_page(
                github, endpoint=endpoint, full_name=full_name, first=first, after=after
            ),
            owner=owner,
            max_wait=PACER_MAX_WAIT,
        )

    return read


def _wait_for_limit(run: HistoryRun, limit: RateLimited) -> Step:
    if not limit.secondary:
        return _wait_until(run, limit.reset_at)
    # GitHub: wait retry-after, or at least a minute, longer each time in a row.
    run.secondary_limits += 1
    backoff = SECONDARY_BACKOFF * (2 ** min(run.secondary_limits - 1, 5))
    return _wait_until(run, max(limit.reset_at, timezone.now() + backoff))


def _wait_until(run: HistoryRun, resume_at: datetime) -> Step:
    run.status = HistoryRun.Status.WAITING
    run.resume_at = max(resume_at, timezone.now())
    run.save()
    return Step("wait", run.resume_at)


def _smaller_page(run: HistoryRun, exc: PageTooLarge) -> Step:
    if run.page_size <= MIN_PAGE_SIZE:
        return _transient_failure(run, exc)
    run.page_size = max(MIN_PAGE_SIZE, run.page_size // 2)
    run.status = HistoryRun.Status.RUNNING
    run.save()
    logger.info("history run %s: %s; asking for %s next", run.pk, exc, run.page_size)
    return Step("continue")


def _transient_failure(run: HistoryRun, exc: GitHubError) -> Step:
    run.failures += 1
    if run.failures >= MAX_FAILURES:
        _finish(run, HistoryRun.Status.FAILED, error=f"{exc} ({run.failures} times in a row)")
        return Step("failed")
    run.error = str(exc)
    return _wait_until(run, timezone.now() + FAILURE_BACKOFF * (2 ** (run.failures - 1)))


def _finish(run: HistoryRun, status: str, *, error: str = "") -> None:
    run.status = status
    run.error = error
    run.resume_at = None
    run.finished_at = timezone.now()
    run.save()
    if status == HistoryRun.Status.DONE:
        # Its deployments next, over the same window: what each shipped finds
        # the pull requests now stored.
        deployment_history_queue(repository_id=run.repository_id, since=run.window_start)


def _finished_kind(run: HistoryRun) -> StepKind:
    if run.status == HistoryRun.Status.DONE:
        return "done"
    if run.status == HistoryRun.Status.FAILED:
        return "failed"
    return "stopped"


def history_pages_left(run: HistoryRun, *, now: datetime | None = None) -> int | None:
    """About how many pages the run has left, or None before its first page.

    By the repository's pull request count when everything is loaded; within a
    window, by how much of the window the pages read so far have covered."""
    if run.pages_done == 0 or run.total_count is None:
        return None
    per_page = max(run.page_size, 1)
    by_count = max(0, math.ceil((run.total_count - run.pull_requests_stored) / per_page))
    if run.window_start is None or run.reached_updated_at is None:
        return by_count
    now = now or timezone.now()
    window = (now - run.window_start).total_seconds()
    covered = (now - run.reached_updated_at).total_seconds()
    if window <= 0 or covered <= 0:
        return by_count
    fraction = min(1.0, covered / window)
    by_time = math.ceil(run.pages_done * (1 - fraction) / fraction)
    return min(by_count, by_time)

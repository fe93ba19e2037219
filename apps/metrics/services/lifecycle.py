"""Pull request lifecycle events: each real transition recorded once, the live ones announced.

The write path (the pull request kind, `pull_requests.PullRequestRows`) reads a
pull request's lifecycle state before and after each change it applies
(`lifecycle_state`), in memory; what moved (`transitions_between`), and the
reverts that a save links, are recorded here
as `PullRequestEvent` rows in the same transaction as the rows
(`lifecycle_events_record`). Two unique constraints (per pull request, kind and
GitHub time; and per pull request and kind for what happens once) make a
redelivery, a repeated event under a new delivery id, out-of-order arrival and
two racing workers write nothing twice: the insert skips what is there.

An event is live when its source is a live one (a webhook, a recovered
delivery, the demo) and GitHub dated it no earlier than its repository was
tracked; history and replay, and anything older, are recorded as historical and
never announced. Live events are announced after the commit
(`lifecycle_events_announce`): claimed once, then one Django signal per event,
in order per pull request (`apps.metrics.signals`). Docs: docs/lifecycle.md."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from apps.metrics import rules, signals
from apps.metrics.models import PRReview, PullRequest, PullRequestEvent
from apps.metrics.repositories import RepositoryRecord
from apps.metrics.services.commits_fetch import commits_fetch_on_merge
from apps.metrics.services.merge_questions import merge_question_on_merge

logger = logging.getLogger(__name__)

Kind = PullRequestEvent.Kind
# Events of the same moment are announced in the order a pull request goes through them.
KIND_ORDER = {kind: rank for rank, kind in enumerate(Kind)}
# Sources whose transitions may be live. History and replay read the past:
# announcing them would announce months-old merges as news.
LIVE_SOURCES = frozenset({"webhook", "recovery", "demo"})


@dataclass(frozen=True, slots=True)
class LifecycleState:
    """What of a pull request's state its lifecycle events follow."""

    opened_at: datetime | None = None
    state: str | None = None
    ready_for_review_at: datetime | None = None
    first_review_at: datetime | None = None
    # When its standing approval was given (None: not approved, or reviews unknown).
    approved_at: datetime | None = None
    merged_at: datetime | None = None
    closed_at: datetime | None = None
    updated_at: datetime | None = None


NOT_STORED = LifecycleState()


def lifecycle_state(
    row: PullRequest, *, reviews: Sequence[PRReview] | None, approved_at: datetime | None
) -> LifecycleState:
    """The row's lifecycle state. Its approval is read from `reviews` when they are
    known (a review change), else `approved_at` (as last read) stands."""
    if reviews is not None:
        approved_at = rules.standing_approval_at(reviews, author_id=row.author_id)
    return LifecycleState(
        opened_at=row.pr_created_at,
        state=row.state,
        ready_for_review_at=row.ready_for_review_at,
        first_review_at=row.first_review_at,
        approved_at=approved_at,
        merged_at=row.merged_at,
        closed_at=row.closed_at,
        updated_at=row.pr_updated_at,
    )


def transitions_between(
    before: LifecycleState, after: LifecycleState
) -> list[tuple[str, datetime]]:
    """The transitions (kind, when on GitHub) from one state to the next; one
    whose time GitHub did not give is left out (it could not be told apart)."""
    moved: list[tuple[str, datetime | None]] = []
    if before.opened_at is None and after.opened_at is not None:
        moved.append((Kind.OPENED, after.opened_at))
    if after.ready_for_review_at is not None and (
        before.ready_for_review_at is None or after.ready_for_review_at > before.ready_for_review_at
    ):
        # Back to draft and ready again is a second transition, later.
        moved.append((Kind.READY_FOR_REVIEW, after.ready_for_review_at))
    if before.first_review_at is None and after.first_review_at is not None:
        moved.append((Kind.FIRST_REVIEW, after.first_review_at))
    if before.approved_at is None and after.approved_at is not None:
        moved.append((Kind.APPROVED, after.approved_at))
    if before.merged_at is None and after.merged_at is not None:
        moved.append((Kind.MERGED, after.merged_at))
    closed = PullRequest.State.CLOSED
    if after.state == closed and before.state != closed:
        moved.append((Kind.CLOSED, after.closed_at))
    if before.state == closed and after.state == PullRequest.State.OPEN:
        moved.append((Kind.REOPENED, after.updated_at))
    return [(kind, at) for kind, at in moved if at is not None]


def is_live(*, source: str, occurred_at: datetime, repository: RepositoryRecord | None) -> bool:
    """Whether a transition is news: from a live source, and dated no earlier than
    its repository was tracked (a pull request merged before the team tracked
    the repository is history, whichever event tells of it)."""
    if source not in LIVE_SOURCES:
        return False
    tracked_at = repository.tracked_at if repository is not None else None
    return tracked_at is None or occurred_at >= tracked_at


@dataclass(frozen=True, slots=True)
class Transition:
    """A transition to record: of which pull request, when, told by which source."""

    team_id: int
    pull_request_id: int
    kind: str
    occurred_at: datetime
    source: str
    live: bool


# An event as its recorder knows it without reading it back: of which pull
# request, what, when on GitHub, and when recorded (to the microsecond).
RecordedKey = tuple[int, str, datetime, datetime]


def lifecycle_events_record(transitions: Sequence[Transition]) -> None:
    """Record the transitions not recorded yet, in the caller's transaction, and
    have the live ones this call recorded announced once it commits."""
    if not transitions:
        return
    # One transition may be noted twice in a batch: a revert and the pull request
    # it reverts arriving together (linked from either side). The first stands.
    unique: dict[tuple[int, str, datetime], Transition] = {}
    for t in transitions:
        # The kind's plain value: keys compare with what the database returns.
        unique.setdefault((t.pull_request_id, str(t.kind), t.occurred_at), t)
    events = [
        PullRequestEvent(
            team_id=t.team_id,
            pull_request_id=pull_request_id,
            kind=kind,
            occurred_at=occurred_at,
            source=t.source,
            live=t.live,
        )
        for (pull_request_id, kind, occurred_at), t in unique.items()
    ]
    # Insert-or-nothing: what another delivery, worker or source recorded stays
    # as it is. Of the rows there after the commit, those with our creation
    # time are the ones this call inserted (no read back here: it would cost
    # every batch a query).
    PullRequestEvent.objects.bulk_create(events, ignore_conflicts=True)
    live: list[RecordedKey] = [
        (e.pull_request_id, e.kind, e.occurred_at, e.created_at) for e in events if e.live
    ]
    if live:
        transaction.on_commit(lambda: _announce_after_commit(live))


def _announce_after_commit(recorded: list[RecordedKey]) -> None:
    # On commit, after the response's work is done: a failure here must not
    # fail what committed. The sweeper announces what this could not.
    try:
        lifecycle_events_announce(recorded=recorded)
    except Exception:
        logger.exception("announcing %s lifecycle events failed; the sweeper will", len(recorded))


def lifecycle_events_announce(
    *, recorded: Sequence[RecordedKey] | None = None, older_than: timedelta | None = None
) -> int:
    """Announce live events not announced yet: those just recorded (`recorded`),
    or every one recorded more than `older_than` ago (the sweeper's). Each is
    claimed first, so it is announced once however many callers race; then its
    kind's signal is sent, in order per pull request, and
    `lifecycle_events_announced` once with them all. How many were announced."""
    now = timezone.now()
    with transaction.atomic():
        pending = PullRequestEvent.objects.select_for_update(skip_locked=True, of=("self",)).filter(
            live=True, announced_at__isnull=True
        )
        if recorded is not None:
            pending = pending.filter(
                pull_request_id__in={key[0] for key in recorded},
                created_at__in={key[3] for key in recorded},
            )
        if older_than is not None:
            pending = pending.filter(created_at__lt=now - older_than)
        events = list(pending.select_related("team", "pull_request", "pull_request__repository"))
        if recorded is not None:
            ours = set(recorded)
            events = [
                e
                for e in events
                if (e.pull_request_id, e.kind, e.occurred_at, e.created_at) in ours
            ]
        PullRequestEvent.objects.filter(pk__in=[e.pk for e in events]).update(announced_at=now)
    events.sort(key=announcement_order)
    for event in events:
        event.announced_at = now
        _send(signals.LIFECYCLE_SIGNALS[Kind(event.kind)], event=event)
    if events:
        _send(signals.lifecycle_events_announced, events=events)
    return len(events)


def announcement_order(event: PullRequestEvent) -> tuple[int, datetime, int, int]:
    return (event.pull_request_id, event.occurred_at, KIND_ORDER[Kind(event.kind)], event.pk)


def _send(signal: signals.Signal, **kwargs: object) -> None:
    # send_robust: a receiver that fails does not keep the event from the others.
    for receiver, response in signal.send_robust(sender=PullRequestEvent, **kwargs):
        if isinstance(response, Exception):
            logger.error(
                "lifecycle receiver %s failed: %s",
                getattr(receiver, "__qualname__", receiver),
                response,
                exc_info=response,
            )


# --- consumers: slow work on announced events, each in its own Celery task -----


@dataclass(frozen=True, slots=True)
class Consumer:
    """Work to do on announced events of some kinds, slower than a signal's
    receiver should be (a survey, a notification, an outgoing webhook)."""

    kinds: frozenset[str]
    handle: Callable[[PullRequestEvent], None]


class ConsumerFailed(Exception):
    """A consumer failed on an event: it and the ones after it are still to do."""

    def __init__(self, *, remaining: list[int], reason: str) -> None:
        super().__init__(reason)
        self.remaining = remaining


def merged_pull_request_log(event: PullRequestEvent) -> None:
    """The example consumer: a log line per merged pull request."""
    pull_request = event.pull_request
    logger.info(
        "pull request merged: %s#%s by team %s after %s hours",
        pull_request.repository.full_name if pull_request.repository else "?",
        pull_request.number,
        event.team.slug,
        None if pull_request.cycle_time_hours is None else round(pull_request.cycle_time_hours, 1),
        extra={
            "team": event.team.slug,
            "pull_request": pull_request.pk,
            "merged_at": event.occurred_at.isoformat(),
        },
    )


# Consumer name -> what it does. A task takes a consumer by its name (tasks take
# names and ids), so renaming one drops the events queued for the old name.
CONSUMERS: dict[str, Consumer] = {
    "merged-log": Consumer(kinds=frozenset({Kind.MERGED}), handle=merged_pull_request_log),
    # The author's own answer: "How much of this pull request was written with
    # AI?" (services/merge_questions.py, docs/merge-question.md).
    "merge-question": Consumer(kinds=frozenset({Kind.MERGED}), handle=merge_question_on_merge),
    # The merged pull request's commits read from GitHub (its first commit time
    # and AI signals): services/commits_fetch.py, docs/ai.md.
    "pull-request-commits": Consumer(kinds=frozenset({Kind.MERGED}), handle=commits_fetch_on_merge),
}


def consumer_events(events: Sequence[PullRequestEvent]) -> dict[str, list[int]]:
    """For each consumer, the ids of the announced events it takes, in order."""
    ordered = sorted(events, key=announcement_order)
    fed = {
        name: [e.pk for e in ordered if e.kind in consumer.kinds]
        for name, consumer in CONSUMERS.items()
    }
    return {name: ids for name, ids in fed.items() if ids}


def lifecycle_events_consume(*, consumer: str, event_ids: Sequence[int]) -> int:
    """Feed the consumer these events, in order. Raises ConsumerFailed, with the
    events still to do, at the first it fails on. How many it handled."""
    handler = CONSUMERS.get(consumer)
    if handler is None:
        logger.error("no lifecycle consumer named %r; dropping %s events", consumer, len(event_ids))
        return 0
    by_pk = PullRequestEvent.objects.select_related(
        "team", "pull_request", "pull_request__repository"
    ).in_bulk(list(event_ids))
    # An event deleted since (its team or pull request deleted) is skipped.
    todo = [pk for pk in event_ids if pk in by_pk]
    for done, pk in enumerate(todo):
        try:
            handler.handle(by_pk[pk])
        except Exception as error:
            raise ConsumerFailed(
                remaining=todo[done:], reason=f"{type(error).__name__}: {error}"
            ) from error
    return len(todo)

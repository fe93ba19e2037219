"""The figures of a period that read most elements, from the day facts'
packed records (PostgreSQL; `services/day_facts.py` PACKED_KEYS): the merged
pull requests' aggregates of the period, its weeks and sizes and of the
previous period (`figures._merged_figures`), the AI-assisted pull requests'
(`figures_ai`), the time to first review (`figures._counts`) and the review
load (`figures._review_load`). The same numbers as the rows give
(tests/metrics/test_day_facts.py compares them).

Why records read whole rather than SQL over the arrays: at 365 days of
1,000,000 pull requests, SQL read each element out of the arrays (about a
microsecond each) and sorted the period's values again for every percentile
of the period, its weeks and its sizes. The records come as they are stored,
and numpy keeps, groups and sorts them (docs/metrics.md, "Packed records").

Exactness: a percentile is PostgreSQL's PERCENTILE_CONT (the same
interpolation, in the same floating-point steps); a mean is a running sum
over the count, as AVG adds; a week is the Monday of the moment's day in the
team's time zone, as DATE_TRUNC('week', ...), through the zone's own changes
of offset.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
from django.db import connection

from apps.metrics.models import DayFacts, TeamMember
from apps.metrics.periods import Period
from apps.metrics.scope import FigureScope
from apps.metrics.services.day_facts import (
    AI_ASSISTED,
    APPROVED,
    CREATED_KNOWN,
    DEPLOY_FAILED,
    DEPLOYED,
    HOTFIX,
    PACKED_ANSWERS,
    PACKED_DURATIONS,
    PACKED_KEYS,
    REVERT,
    REVERTED,
    SIZE_CODES,
    packed_days_sql,
)

_KEYS = {
    kind: np.dtype([(name, code) for name, code, _expression in record])
    for kind, record in PACKED_KEYS.items()
}
_DURATIONS = {
    kind: np.dtype([(name, ">f8") for name in names]) for kind, names in PACKED_DURATIONS.items()
}
# timestamptz's binary form counts microseconds from here.
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_DAY = 86_400_000_000
_SATURDAY = 5  # 2000-01-01's weekday (Monday 0)
_SAID_AI = [PACKED_ANSWERS.index(answer) for answer in ("little", "half", "most", "all")]
_NOT_ANSWERED = [PACKED_ANSWERS.index(None), PACKED_ANSWERS.index("")]
_SAID_NONE = PACKED_ANSWERS.index("none")


class _Facts:
    """Some of the facts of a packed kind over a time range: their records as
    read (the keys; the durations of merged facts), and which of them (an
    index). A field is taken out of the records, in native numbers
    (durations NaN where unknown), for these elements only, when first asked
    for: a selection costs an index, not a copy of every field."""

    def __init__(self, keys: np.ndarray, durations: np.ndarray | None, index: np.ndarray) -> None:
        self._keys = keys
        self._durations = durations
        self.index = index
        self._fields: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.index)

    def field(self, name: str) -> np.ndarray:
        found = self._fields.get(name)
        if found is None:
            records = self._keys
            if self._durations is not None and name in (self._durations.dtype.names or ()):
                records = self._durations
            found = records[name][self.index].astype(records.dtype[name].newbyteorder("="))
            self._fields[name] = found
        return found

    def where(self, keep: np.ndarray | slice) -> _Facts:
        """These elements, those ``keep`` selects (a mask, an order or a slice)."""
        chosen = _Facts(self._keys, self._durations, self.index[keep])
        if isinstance(keep, slice):  # a slice of a field is a view: nothing to copy
            chosen._fields = {name: values[keep] for name, values in self._fields.items()}
        return chosen


def _microseconds(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


def _fetch(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` in PostgreSQL's binary form, a bytea as its bytes
    (a client-side cursor, Django's, gets them only as hexadecimal text: twice
    the bytes, each decoded). Through Django's cursor wrapper, so that its
    execute wrappers and query logging see the statement."""
    connection.ensure_connection()
    raw = psycopg.Cursor(connection.connection)
    raw.format = psycopg.pq.Format.BINARY
    cursor = (
        connection.make_debug_cursor(raw)
        if connection.queries_logged
        else connection.make_cursor(raw)
    )
    with cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def _read(
    kind: str, scope: FigureScope, start_at: datetime, end_at: datetime, *, slot: str = ""
) -> _Facts:
    """The team's facts of the kind from start_at to end_at, every author's
    (with ``slot``, merged facts' durations in those hours)."""
    sql, params = packed_days_sql(
        kind, team_id=scope.team.pk, start_at=start_at, end_at=end_at, slot=slot
    )
    rows = _fetch(sql, params)
    keys = np.frombuffer(b"".join(bytes(row[1]) for row in rows), dtype=_KEYS[kind])
    durations = None
    if slot:
        durations = np.frombuffer(b"".join(bytes(row[2]) for row in rows), dtype=_DURATIONS[kind])
        if len(keys) != len(durations):
            raise RuntimeError("the packed facts' keys and durations differ in length")
    every = _Facts(keys, durations, np.arange(len(keys)))
    at = every.field("at")
    return every.where((at >= _microseconds(start_at)) & (at < _microseconds(end_at)))


def _in_scope(scope: FigureScope, facts: _Facts, *, reviews: bool = False) -> np.ndarray:
    """Which elements the scope takes (`figures_facts._scope_sql`; a person's
    reviews are those they gave or were given): a deleted account's (author
    0) are in no squad and no person's."""
    keep = np.ones(len(facts), dtype=bool)
    if scope.repository_ids is not None:
        keep &= np.isin(facts.field("repository"), _ids(scope.repository_ids))
    if scope.member_ids is not None:
        keep &= np.isin(facts.field("author"), _ids(scope.member_ids))
    if scope.person_id is not None:
        person = facts.field("author") == scope.person_id
        if reviews:
            person |= facts.field("reviewer") == scope.person_id
        keep &= person
    return keep


def _distinct(values: np.ndarray) -> np.ndarray:
    """The values, each once, in order: by sorting (numpy's np.unique hashes
    them when no more is asked, five times slower on 240,000 numbers)."""
    ordered = np.sort(values)
    if not len(ordered):
        return ordered
    first = np.empty(len(ordered), dtype=bool)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    return ordered[first]


def _ids(ids: Iterable[int]) -> np.ndarray:
    return np.array(sorted(ids), dtype=np.int64)


def _bots(scope: FigureScope, facts: _Facts) -> np.ndarray:
    bots, _not_reviewers = scope.uncounted_people
    return np.isin(facts.field("author"), _ids(bots))


def _has(flags: np.ndarray, bit: int) -> np.ndarray:
    return (flags & bit) != 0


def percentile_cont(ordered: np.ndarray, fraction: float) -> float | None:
    """PostgreSQL's PERCENTILE_CONT of values in ascending order, none NaN:
    the value at ``fraction * (n - 1)``, interpolated linearly between its two
    neighbours as float8_lerp does (``low + proportion * (high - low)``)."""
    count = len(ordered)
    if not count:
        return None
    position = fraction * (count - 1)
    first, second = math.floor(position), math.ceil(position)
    low = float(ordered[first])
    if second == first:
        return low  # as PostgreSQL: no interpolation (an infinite value stays one)
    high = float(ordered[second])
    return low + (position - first) * (high - low)


def _mean(values: np.ndarray) -> float | None:
    """AVG: the known values' sum over their count, None when none is known;
    summed one value at a time, in the order of days and pull requests, as
    AVG sums in the order it reads (numpy's sum adds in blocks: its last bit
    differs, and so, at a tie, the figure rounded for display)."""
    known = values[~np.isnan(values)]
    return float(np.cumsum(known)[-1]) / len(known) if len(known) else None


def _sorted_known(values: np.ndarray) -> np.ndarray:
    return np.sort(values[~np.isnan(values)])


def _local_days(at: np.ndarray, time_zone: str, start_at: datetime, end_at: datetime) -> np.ndarray:
    """Each moment's day in the zone, as days from 2000-01-01 (moments in
    [start_at, end_at))."""
    changes, offsets = _offsets(time_zone, start_at, end_at)
    index = np.searchsorted(changes, at, side="right") - 1
    return (at + offsets[index]) // _DAY


@functools.lru_cache(maxsize=64)
def _offsets(time_zone: str, start_at: datetime, end_at: datetime) -> tuple[np.ndarray, np.ndarray]:
    """The zone's UTC offsets from start_at to end_at, in microseconds: the
    moments it changes (start_at first) and the offset from each. Found day by
    day, and the moment of a change to the second (zones change on whole
    seconds, at most once a day)."""
    zone = ZoneInfo(time_zone)

    def offset(seconds: int) -> timedelta:
        found = (_EPOCH + timedelta(seconds=seconds)).astimezone(zone).utcoffset()
        return found if found is not None else timedelta()

    here = _microseconds(start_at) // 1_000_000
    end = -(-_microseconds(end_at) // 1_000_000)
    changes = [_microseconds(start_at)]
    offsets = [offset(here)]
    while here < end:
        step = min(here + 86_400, end)
        if offset(step) != offsets[-1]:
            low, high = here, step  # the offset of low is the last found; high's differs
            while high - low > 1:
                middle = (low + high) // 2
                if offset(middle) == offsets[-1]:
                    low = middle
                else:
                    high = middle
            changes.append(high * 1_000_000)
            offsets.append(offset(high))
        here = step
    return (
        np.array(changes, dtype=np.int64),
        np.array([value // _MICROSECOND for value in offsets], dtype=np.int64),
    )


_PHASES = ("coding", "pickup", "review", "merge")
_AGGREGATED = ("cycle_time", *_PHASES, "flags")  # the fields `_aggregates` reads


def _aggregates(merged: _Facts) -> tuple[Any, ...]:
    """`figures._MERGED_KEYS` of the elements, as `figures._merged_aggregates`
    gives them: the count; cycle time's mean, median and p90; each phase's
    mean; reverts and hotfixes (None when there is no element, as SUM)."""
    cycle = _sorted_known(merged.field("cycle_time"))
    count = len(merged)
    return (
        count,
        _mean(merged.field("cycle_time")),
        percentile_cont(cycle, 0.5),
        percentile_cont(cycle, 0.9),
        *(_mean(merged.field(name)) for name in _PHASES),
        int(_has(merged.field("flags"), REVERT).sum()) if count else None,
        int(_has(merged.field("flags"), HOTFIX).sum()) if count else None,
    )


def _grouped(merged: _Facts, groups: np.ndarray) -> dict[int, tuple[Any, ...]]:
    """`_aggregates` of each group that has elements (``groups`` one integer
    per element): the elements sorted by group once, each group a slice."""
    order = np.argsort(groups, kind="stable")
    ordered = merged.where(order)
    for name in _AGGREGATED:  # taken out once: each group's are slices of them
        ordered.field(name)
    keys, starts, counts = np.unique(groups[order], return_index=True, return_counts=True)
    found: dict[int, tuple[Any, ...]] = {}
    for key, start, count in zip(keys.tolist(), starts.tolist(), counts.tolist(), strict=True):
        found[key] = _aggregates(ordered.where(slice(start, start + count)))
    return found


def packed_merged_figures(scope: FigureScope) -> tuple[list[tuple[Any, ...]], dict[str, Any]]:
    """The merged figures of the scope's period from one read of its records
    and the previous period's: `figures._merged_figures`' rows, and the AI
    figures' aggregates (`_ai_found`)."""
    period = scope.period
    merged = _read(
        DayFacts.Kind.MERGED, scope, period.previous().start_at, period.end_at, slot=scope.slot
    )
    in_period = merged.field("at") >= _microseconds(period.start_at)
    return (
        _merged_aggregates(scope, merged, in_period=in_period),
        _ai_found(scope, merged.where(in_period)),
    )


def _merged_aggregates(
    scope: FigureScope, merged: _Facts, *, in_period: np.ndarray
) -> list[tuple[Any, ...]]:
    """`figures._merged_figures`' rows (kind, key, *figures): the period's
    people's merged pull requests whose opening is known, in the scope, and
    those of each week and size, and of the previous period (the others of
    ``merged``)."""
    period = scope.period
    counted = _has(merged.field("flags"), CREATED_KNOWN) & ~_bots(scope, merged)
    counted &= _in_scope(scope, merged)
    current = merged.where(counted & in_period)
    days = _local_days(current.field("at"), period.time_zone, period.start_at, period.end_at)
    mondays = days - (days + _SATURDAY) % 7
    rows: list[tuple[Any, ...]] = [("current", "", *_aggregates(current))]
    for monday, figures in _grouped(current, mondays).items():
        rows.append(("week", (date(2000, 1, 1) + timedelta(days=monday)).isoformat(), *figures))
    for code, figures in _grouped(current, current.field("size").astype(np.int64)).items():
        rows.append(("size", SIZE_CODES[code], *figures))
    rows.append(("previous", "", *_aggregates(merged.where(counted & ~in_period))))
    return rows


def _ai_group(merged: _Facts) -> dict[str, Any]:
    """`figures_ai.AI_GROUP_FIGURES` of one group's elements."""
    cycle = _sorted_known(merged.field("cycle_time"))
    review = _sorted_known(merged.field("review_time"))
    lines = np.sort(merged.field("lines")[merged.field("lines") >= 0]).astype(np.float64)
    return {
        "merged": len(merged),
        "cycle_median": percentile_cont(cycle, 0.5),
        "cycle_p90": percentile_cont(cycle, 0.9),
        "review_median": percentile_cont(review, 0.5),
        "review_p90": percentile_cont(review, 0.9),
        "size_median": percentile_cont(lines, 0.5),
        "rounds_mean": (
            int(merged.field("review_rounds").astype(np.int64).sum()) / len(merged)
            if len(merged)
            else None
        ),
        "reverted": int(_has(merged.field("flags"), REVERTED).sum()),
        "hotfixes": int(_has(merged.field("flags"), HOTFIX).sum()),
        "deployed": int(_has(merged.field("flags"), DEPLOYED).sum()),
        "deploy_failed": int(_has(merged.field("flags"), DEPLOY_FAILED).sum()),
    }


def _ai_found(scope: FigureScope, merged: _Facts) -> dict[str, Any]:
    """`figures_ai`'s aggregates of the period's merged pull requests
    (``merged``) by a person or an AI agent (`figures_ai.ai_population`: a
    bot's only when AI-assisted) whose opening is known, in the scope,
    assisted and other."""
    ai = _has(merged.field("flags"), AI_ASSISTED)
    population = merged.where(
        _has(merged.field("flags"), CREATED_KNOWN)
        & (~_bots(scope, merged) | ai)
        & _in_scope(scope, merged)
    )
    ai = _has(population.field("flags"), AI_ASSISTED)
    found: dict[str, Any] = {}
    for name, group in (("assisted", ai), ("other", ~ai)):
        found.update(
            {
                f"{name}__{figure}": value
                for figure, value in _ai_group(population.where(group)).items()
            }
        )
    answered = ~np.isin(population.field("answer"), _NOT_ANSWERED)
    said_ai = np.isin(population.field("answer"), _SAID_AI)
    found.update(
        {
            "merged": len(population),
            "answered": int(answered.sum()),
            "said_ai": int(said_ai.sum()),
            "either": int((ai | said_ai).sum()),
            "agree": int(
                (
                    answered & ((ai & said_ai) | (~ai & (population.field("answer") == _SAID_NONE)))
                ).sum()
            ),
        }
    )
    return found


def packed_review_pairs(scope: FigureScope) -> list[dict[str, Any]]:
    """`figures._review_load`'s rows: reviews, approvals and pull requests per
    reviewer and author's login in the period, of people's pull requests by
    counted reviewers other than the author (`rules.counted_reviewer`), in
    the scope. A pull request is counted once per reviewer and author (it has
    one author, so a reviewer's pairs add up to theirs)."""
    bots, not_reviewers = scope.uncounted_people
    reviews = _read(DayFacts.Kind.REVIEW, scope, scope.period.start_at, scope.period.end_at)
    author, reviewer = reviews.field("author"), reviews.field("reviewer")
    counted = ~np.isin(author, _ids(bots)) & ~np.isin(reviewer, _ids(not_reviewers))
    counted &= (author == 0) | (reviewer != author)
    reviews = reviews.where(counted & _in_scope(scope, reviews, reviews=True))
    if not len(reviews):
        return []
    # Each (reviewer, author) pair as one number, then each (pair, pull request).
    reviewers, reviewer_code = np.unique(reviews.field("reviewer"), return_inverse=True)
    authors, author_code = np.unique(reviews.field("author"), return_inverse=True)
    pairs, pair_of = np.unique(
        reviewer_code.astype(np.int64) * len(authors) + author_code, return_inverse=True
    )
    _pull_requests, pull_request_code = np.unique(
        reviews.field("pull_request"), return_inverse=True
    )
    reviewed = _distinct(pair_of.astype(np.int64) * len(_pull_requests) + pull_request_code)
    counts = {
        "reviews": np.bincount(pair_of, minlength=len(pairs)),
        "approvals": np.bincount(
            pair_of, weights=_has(reviews.field("flags"), APPROVED), minlength=len(pairs)
        ),
        "pull_requests": np.bincount(reviewed // len(_pull_requests), minlength=len(pairs)),
    }
    ids = {int(person) for person in (*reviewers.tolist(), *authors.tolist()) if person}
    logins = dict(TeamMember.objects.filter(pk__in=ids).values_list("pk", "login"))
    found: dict[tuple[int, str, str | None], dict[str, Any]] = {}
    for index, pair in enumerate(pairs.tolist()):
        reviewer_id = int(reviewers[pair // len(authors)])
        author_id = int(authors[pair % len(authors)])
        if reviewer_id not in logins:
            continue  # as the rows' join: a reviewer is one of the people
        key = (reviewer_id, logins[reviewer_id], logins.get(author_id) if author_id else None)
        row = found.setdefault(
            key,
            {
                "reviewer_id": key[0],
                "reviewer__login": key[1],
                "pull_request__author__login": key[2],
                "reviews": 0,
                "approvals": 0,
                "pull_requests": 0,
            },
        )
        for name, values in counts.items():
            row[name] += int(values[index])
    return list(found.values())


def packed_first_reviews(
    scope: FigureScope, periods: dict[str, Period]
) -> dict[str, dict[str, Any]]:
    """For each named period, people's pull requests first reviewed in it, in
    the scope, whose time to first review is known: how many, and that time's
    median and p90 (`figures._counts`' ``first_reviewed``,
    ``first_review_median``, ``first_review_p90``). One read of every period's
    records."""
    first_reviews = _read(
        DayFacts.Kind.FIRST_REVIEW,
        scope,
        min(period.start_at for period in periods.values()),
        max(period.end_at for period in periods.values()),
        slot=scope.slot,
    )
    review_time = first_reviews.field("review_time")
    counted = ~_bots(scope, first_reviews) & _in_scope(scope, first_reviews)
    counted &= ~np.isnan(review_time)
    at = first_reviews.field("at")
    found: dict[str, dict[str, Any]] = {}
    for name, period in periods.items():
        inside = (at >= _microseconds(period.start_at)) & (at < _microseconds(period.end_at))
        ordered = np.sort(review_time[counted & inside])
        found[name] = {
            "first_reviewed": len(ordered),
            "first_review_median": percentile_cont(ordered, 0.5),
            "first_review_p90": percentile_cont(ordered, 0.9),
        }
    return found

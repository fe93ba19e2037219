"""The dashboard's heaviest figures read from the day facts (PostgreSQL;
`services/day_facts.py`, docs/metrics.md "Day facts"): the counts and time to
first review of a period and the one before, the merged pull requests'
aggregates, and the review load. Each gives what `figures.py` computes from the
rows, the same numbers (tests/metrics/test_day_facts.py compares them), from a
few hundred rows of arrays instead of every row of the periods.

Who counts is decided here, by the team's people as they are now: bots'
pull requests apart, reviews by bots, deleted accounts and the author left out
(`rules.counted_reviewer`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.db import connection

from apps.metrics.models import DayFacts
from apps.metrics.periods import Period
from apps.metrics.scope import FigureScope
from apps.metrics.services.day_facts import (
    facts_days_sql,
    facts_sql,
)


@dataclass(frozen=True)
class _People:
    bots: list[int]
    not_reviewers: list[int]  # bots and deleted accounts


def _people(scope: FigureScope) -> _People:
    bots, not_reviewers = scope.uncounted_people
    return _People(bots=sorted(bots), not_reviewers=sorted(not_reviewers))


def _scope_sql(scope: FigureScope, *, reviews: bool = False) -> tuple[str, list[Any]]:
    """The scope's filter over facts ``f`` (`FigureScope.pull_requests_q`,
    `reviews_q` for reviews)."""
    clauses: list[str] = []
    params: list[Any] = []
    if scope.repository_ids is not None:
        clauses.append("f.repository = ANY(%s)")
        params.append(list(scope.repository_ids))
    if scope.member_ids is not None:
        clauses.append("f.author = ANY(%s)")
        params.append(sorted(scope.member_ids))
    if scope.person_id is not None:
        if reviews:
            clauses.append("(f.reviewer = %s OR f.author = %s)")
            params.extend([scope.person_id, scope.person_id])
        else:
            clauses.append("f.author = %s")
            params.append(scope.person_id)
    return " AND ".join(clauses) or "TRUE", params


def _scope_columns(scope: FigureScope) -> tuple[str, ...]:
    """The columns `_scope_sql` reads beyond the author."""
    return ("repository",) if scope.repository_ids is not None else ()


_HUMAN = "(f.author IS NULL OR NOT f.author = ANY(%s))"
_BOT = "(f.author = ANY(%s))"


# How many of a day's facts are by the given authors, from its array of authors.
_BY_AUTHORS = (
    "(SELECT COALESCE(SUM(cardinality(array_positions(f.author, x))), 0) "
    "FROM unnest(%s::bigint[]) x)"
)
# A squad larger than this is counted element by element: a day's array is
# searched once per member.
_DAY_COUNT_MEMBERS = 16


def _day_counts(scope: FigureScope, people: _People) -> dict[str, tuple[str, list[Any]]] | None:
    """How many of a day's facts count as people's ("human") and as bots'
    ("bot") in the scope, as expressions over the day's array of authors
    (`_HUMAN` and `_BOT` with the scope's filter, for a whole day); None where
    the scope's filter needs each element (a repository, a large squad)."""
    if scope.repository_ids is not None:
        return None
    members: set[int] | None = None
    if scope.member_ids is not None:
        members = set(scope.member_ids)
    if scope.person_id is not None:
        members = {scope.person_id} if members is None else members & {scope.person_id}
    bots = set(people.bots)
    if members is None:
        # Deleted accounts' (no author) are people's.
        return {
            "human": (f"cardinality(f.author) - {_BY_AUTHORS}", [sorted(bots)]),
            "bot": (_BY_AUTHORS, [sorted(bots)]),
        }
    if len(members) > _DAY_COUNT_MEMBERS:
        return None
    return {
        "human": (_BY_AUTHORS, [sorted(members - bots)]),
        "bot": (_BY_AUTHORS, [sorted(members & bots)]),
    }


def _whole_days(period: Period) -> tuple[datetime, datetime] | None:
    """The period's whole UTC days, from the first midnight in it to the
    last; None when it holds none."""
    start = period.start_at.astimezone(UTC)
    first = datetime.combine(start.date(), time(), tzinfo=UTC)
    if first < start:
        first += timedelta(days=1)
    end = period.end_at.astimezone(UTC)
    last = datetime.combine(end.date(), time(), tzinfo=UTC)
    return (first, last) if first < last else None


def facts_counts(scope: FigureScope, periods: dict[str, Period]) -> dict[str, dict[str, Any]]:
    """`figures._counts` without open_now and the first reviews
    (`figures_packed.packed_first_reviews`): for each named period, opened,
    closed unmerged, bots' opened and merged. One statement of one aggregate
    per kind and period, each reading only its own facts and figures (90 days
    at 1,000,000 pull requests: 66 ms, 77 with both periods' elements read
    together and each tested against both periods' bounds for every figure)."""
    people = _people(scope)
    where, where_params = _scope_sql(scope)
    # (kind, the facts' extra columns, a filter on them, [(figure, aggregate, condition)])
    plans: list[tuple[str, tuple[str, ...], str, list[tuple[str, str, str]]]] = [
        (
            DayFacts.Kind.CREATED,
            (),
            "TRUE",
            [("opened", "COUNT(*)", _HUMAN), ("bots_opened", "COUNT(*)", _BOT)],
        ),
        (DayFacts.Kind.CLOSED, (), "TRUE", [("closed_unmerged", "COUNT(*)", _HUMAN)]),
        (DayFacts.Kind.MERGED, (), _BOT, [("bots_merged", "COUNT(*)", "TRUE")]),
    ]
    day_counts = _day_counts(scope, people)
    selects: list[str] = []
    params: list[Any] = []
    names: list[tuple[str, str]] = []
    for kind, extra, prefilter, figures in plans:
        # Each period's facts read apart: no element is tested against the
        # other period's bounds for every figure.
        for name, period in periods.items():
            aggregates: list[str] = []
            aggregate_params: list[Any] = []
            for index, (figure, aggregate, condition) in enumerate(figures):
                aggregates.append(f"{aggregate} FILTER (WHERE {condition}) AS c{index}")
                aggregate_params.extend([people.bots] if "%s" in condition else [])
                names.append((name, figure))
            counts_only = not extra and all(
                aggregate == "COUNT(*)" for _figure, aggregate, _condition in figures
            )
            whole = _whole_days(period) if counts_only and day_counts is not None else None
            # The figures' aggregates over some facts ``f``, in the scope.
            head = f"SELECT {', '.join(aggregates)} FROM ("  # noqa: S608
            tail = f") f WHERE {prefilter} AND {where}"
            tail_params = [*([people.bots] if "%s" in prefilter else []), *where_params]
            if whole is None or day_counts is None:
                sql, found = facts_sql(
                    kind,
                    team_id=scope.team.pk,
                    start_at=period.start_at,
                    end_at=period.end_at,
                    columns=("author", *_scope_columns(scope), *extra),
                )
                selects.append(f"({head}{sql}{tail}) AS {kind}_{name}")
                params.extend([*aggregate_params, *found, *tail_params])
                continue
            # Counts only: the whole days' from their arrays of authors, with
            # no element read; the ends of the period (parts of a day, in the
            # team's time zone) element by element.
            first, last = whole
            days_sql, days_params = facts_days_sql(
                kind,
                team_id=scope.team.pk,
                first_day=first.date(),
                last_day=(last - timedelta(days=1)).date(),
                columns=("author",),
            )
            sums: list[str] = []
            sum_params: list[Any] = []
            for _figure, _aggregate, condition in figures:
                # The prefilter and the figure's condition: people's or bots'.
                who = "bot" if _BOT in (prefilter, condition) else "human"
                expression, expression_params = day_counts[who]
                sums.append(f"COALESCE(SUM({expression}), 0)::bigint")
                sum_params.extend(expression_params)
            # Each end an empty range where the period starts or ends at a
            # UTC midnight: read anyway, one statement's shape for every period.
            ends: list[str] = []
            ends_params: list[Any] = []
            for start_at, end_at in ((period.start_at, first), (last, period.end_at)):
                sql, found = facts_sql(
                    kind,
                    team_id=scope.team.pk,
                    start_at=start_at,
                    end_at=end_at,
                    columns=("author", *_scope_columns(scope)),
                )
                ends.append(f"({sql})")
                ends_params.extend(found)
            total = ", ".join(f"w.c{index} + e.c{index}" for index in range(len(figures)))
            whole_part = ", ".join(f"{sql} AS c{index}" for index, sql in enumerate(sums))
            selects.append(
                f"(SELECT {total} FROM (SELECT {whole_part} FROM ({days_sql}) f) w, "  # noqa: S608
                f"({head}{' UNION ALL '.join(ends)}{tail}) e) AS {kind}_{name}"
            )
            params.extend(
                [*sum_params, *days_params, *aggregate_params, *ends_params, *tail_params]
            )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {', '.join(selects)}", params)  # noqa: S608
        values = cursor.fetchone()
    found_figures: dict[str, dict[str, Any]] = {name: {} for name in periods}
    for (name, figure), value in zip(names, values, strict=True):
        found_figures[name][figure] = value
    return found_figures


def facts_target_aggregates(
    scope: FigureScope, measured: dict[str, tuple[str, str, float, float]]
) -> dict[str, Any]:
    """`figures_targets.target_figures`' aggregates from the facts: for each
    metric, ``(kind, column, limit, fraction)``: how many people's pull
    requests in the scope have the column in the period of the kind's moment,
    how many are within the limit, and the column's percentile, as
    ``<metric>__count``, ``__within`` and ``__value``. One statement, each
    metric reading its own facts (90 days at 1,000,000 pull requests: read
    from the rows, 153 ms)."""
    people = _people(scope)
    where, where_params = _scope_sql(scope)
    selects: list[str] = []
    params: list[Any] = []
    names: list[str] = []
    for metric, (kind, column, limit, fraction) in measured.items():
        sql, found = facts_sql(
            kind,
            team_id=scope.team.pk,
            start_at=scope.period.start_at,
            end_at=scope.period.end_at,
            columns=("author", column, *_scope_columns(scope)),
        )
        selects.append(
            f"(SELECT COUNT(*), COUNT(*) FILTER (WHERE f.{column} <= %s), "  # noqa: S608
            f"PERCENTILE_CONT(%s) WITHIN GROUP (ORDER BY f.{column}) FROM ({sql}) f "
            f"WHERE f.{column} IS NOT NULL AND {_HUMAN} AND {where}) AS {metric}"
        )
        params.extend([limit, fraction, *found, people.bots, *where_params])
        names.extend(f"{metric}__{figure}" for figure in ("count", "within", "value"))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {', '.join(selects)}", params)  # noqa: S608
        values = cursor.fetchone()
    return dict(zip(names, values, strict=True))

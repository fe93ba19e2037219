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

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.db import connection, transaction

from apps.metrics.figures_ai import AI_ANSWERS, AI_GROUP_FIGURES
from apps.metrics.models import DayFacts
from apps.metrics.periods import Period
from apps.metrics.scope import FigureScope
from apps.metrics.services.day_facts import (
    AI_ASSISTED,
    APPROVED,
    CREATED_KNOWN,
    DEPLOY_FAILED,
    DEPLOYED,
    HOTFIX,
    REVERT,
    REVERTED,
    SIZE_CODES,
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
    """`figures._counts` without open_now: for each named period, opened,
    closed unmerged, first reviewed (and its median and p90), bots' opened and
    merged. One statement of one aggregate per kind and period, each reading
    only its own facts and figures (90 days at 1,000,000 pull requests: 66 ms,
    77 with both periods' elements read together and each tested against
    both periods' bounds for every figure)."""
    people = _people(scope)
    review_time = scope.column("review_time")
    where, where_params = _scope_sql(scope)
    reviewed = f"{_HUMAN} AND f.{review_time} IS NOT NULL"
    # (kind, the facts' extra columns, a filter on them, [(figure, aggregate, condition)])
    plans: list[tuple[str, tuple[str, ...], str, list[tuple[str, str, str]]]] = [
        (
            DayFacts.Kind.CREATED,
            (),
            "TRUE",
            [("opened", "COUNT(*)", _HUMAN), ("bots_opened", "COUNT(*)", _BOT)],
        ),
        (DayFacts.Kind.CLOSED, (), "TRUE", [("closed_unmerged", "COUNT(*)", _HUMAN)]),
        (
            DayFacts.Kind.FIRST_REVIEW,
            (review_time,),
            reviewed,
            [
                ("first_reviewed", "COUNT(*)", "TRUE"),
                (
                    "first_review_median",
                    f"PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY f.{review_time})",
                    "TRUE",
                ),
                (
                    "first_review_p90",
                    f"PERCENTILE_CONT(0.9) WITHIN GROUP (ORDER BY f.{review_time})",
                    "TRUE",
                ),
            ],
        ),
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


def facts_merged_aggregates(
    scope: FigureScope, shown: dict[str, str], aggregates: Callable[[str], str]
) -> list[tuple[Any, ...]]:
    """`figures._aggregate_merged`'s rows from the merged facts, as (kind, key,
    *figures): ``aggregates`` (over the rows named as its argument, with the
    columns `figures._merged_rows` names; ``shown`` names each duration's) of
    the period, its weeks and sizes in one pass of grouping sets, and of the
    previous period, each period's elements read once. A week and a size's
    name are worked out for the period's elements and groups only (90 days at
    1,000,000 pull requests: 188 ms as four passes over both periods' elements
    kept in a CTE, each with its week and size name; 118 ms)."""
    period = scope.period
    people = _people(scope)
    where, where_params = _scope_sql(scope)
    durations = ", ".join(f"f.{scope.column(name)} AS {alias}" for name, alias in shown.items())

    def merged_in(within: Period) -> tuple[str, list[Any]]:
        sql, params = facts_sql(
            DayFacts.Kind.MERGED,
            team_id=scope.team.pk,
            start_at=within.start_at,
            end_at=within.end_at,
            columns=(
                "author",
                "flags",
                "size",
                *_scope_columns(scope),
                *(scope.column(name) for name in shown),
            ),
        )
        select = (
            f"SELECT {durations}, (f.flags & {REVERT}) <> 0 AS is_revert, "  # noqa: S608
            f"(f.flags & {HOTFIX}) <> 0 AS is_hotfix, f.at, f.size FROM ({sql}) f "
            f"WHERE (f.flags & {CREATED_KNOWN}) <> 0 AND {_HUMAN} AND {where}"
        )
        return select, [*params, people.bots, *where_params]

    current, current_params = merged_in(period)
    previous, previous_params = merged_in(period.previous())
    sizes = " ".join(f"WHEN {code} THEN '{key}'" for code, key in enumerate(SIZE_CODES))
    query = (
        "SELECT CASE WHEN GROUPING(m.week) = 0 THEN 'week' "  # noqa: S608 (no user text in it)
        "WHEN GROUPING(m.size) = 0 THEN 'size' ELSE 'current' END, "
        f"COALESCE(CAST(m.week AS TEXT), CASE m.size {sizes} END, ''), {aggregates('m')} "
        "FROM (SELECT c.*, DATE_TRUNC('week', c.at AT TIME ZONE %s)::date AS week "
        f"FROM ({current}) c) m "
        "GROUP BY GROUPING SETS ((m.week), (m.size), ()) "
        f"UNION ALL SELECT 'previous', '', {aggregates('m')} FROM ({previous}) m"
    )
    with connection.cursor() as cursor:
        cursor.execute(query, [period.time_zone, *current_params, *previous_params])
        return cursor.fetchall()


def facts_review_pairs(scope: FigureScope) -> list[dict[str, Any]]:
    """`figures._review_load`'s rows: reviews, approvals and pull requests per
    reviewer and author's login in the period."""
    people = _people(scope)
    sql, params = facts_sql(
        DayFacts.Kind.REVIEW,
        team_id=scope.team.pk,
        start_at=scope.period.start_at,
        end_at=scope.period.end_at,
        columns=("pull_request", "author", "reviewer", "flags", *_scope_columns(scope)),
    )
    where, where_params = _scope_sql(scope, reviews=True)
    # Counted by ids first, each pull request once per reviewer (it has one
    # author, so the pull requests of a reviewer and an author are counted
    # exactly), and only then joined to the logins: a few dozen rows, where
    # joining and grouping every review cost 118 ms of 90 days at 1,000,000.
    query = (
        "SELECT g.reviewer, reviewer.login, author.login, SUM(g.reviews)::bigint, "  # noqa: S608
        "SUM(g.approvals)::bigint, SUM(g.pull_requests)::bigint FROM ("
        "SELECT p.reviewer, p.author, SUM(p.reviews) AS reviews, "
        "SUM(p.approvals) AS approvals, COUNT(*) AS pull_requests FROM ("
        "SELECT f.reviewer, f.author, f.pull_request, COUNT(*) AS reviews, "
        f"COUNT(*) FILTER (WHERE (f.flags & {APPROVED}) <> 0) AS approvals "
        f"FROM ({sql}) f "
        f"WHERE {_HUMAN} AND NOT f.reviewer = ANY(%s) "
        f"AND (f.author IS NULL OR f.reviewer <> f.author) AND {where} "
        "GROUP BY f.reviewer, f.author, f.pull_request) p "
        "GROUP BY p.reviewer, p.author) g "
        "JOIN metrics_teammember reviewer ON reviewer.id = g.reviewer "
        "LEFT JOIN metrics_teammember author ON author.id = g.author "
        "GROUP BY g.reviewer, reviewer.login, author.login"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        # PostgreSQL guesses 10 elements for an array's unnest, so it would group
        # the period's reviews (55,000 of 90 days at 1,000,000 pull requests) by
        # sorting them, on disk; hashing them takes two thirds of the time
        # (82 -> 54 ms). For this statement only: LOCAL, and reset after it for
        # a caller's transaction that goes on.
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(query, [*params, people.bots, people.not_reviewers, *where_params])
        rows = cursor.fetchall()
        cursor.execute("RESET enable_sort")
    return [
        {
            "reviewer_id": reviewer_id,
            "reviewer__login": reviewer_login,
            "pull_request__author__login": author_login,
            "reviews": reviews,
            "approvals": approvals,
            "pull_requests": pull_requests,
        }
        for reviewer_id, reviewer_login, author_login, reviews, approvals, pull_requests in rows
    ]


def facts_ai_found(scope: FigureScope) -> dict[str, Any]:
    """`figures_ai`'s aggregates of the period's merged pull requests by a
    person or an AI agent (`figures_ai.ai_population`), assisted and other,
    from the merged facts: one query."""
    period = scope.period
    people = _people(scope)
    cycle_time, review_time = scope.column("cycle_time"), scope.column("review_time")
    sql, params = facts_sql(
        DayFacts.Kind.MERGED,
        team_id=scope.team.pk,
        start_at=period.start_at,
        end_at=period.end_at,
        columns=(
            "author",
            "flags",
            "lines",
            "review_rounds",
            "answer",
            cycle_time,
            review_time,
            *_scope_columns(scope),
        ),
    )
    where, where_params = _scope_sql(scope)
    ai = f"(f.flags & {AI_ASSISTED}) <> 0"
    said_ai = "f.answer = ANY(%s)"
    groups = {"assisted": ai, "other": f"NOT {ai}"}
    aggregates: dict[str, str] = {}
    for name, group in groups.items():
        found = {
            "merged": f"COUNT(*) FILTER (WHERE {group})",
            "cycle_median": _percentile(0.5, f"f.{cycle_time}", group),
            "cycle_p90": _percentile(0.9, f"f.{cycle_time}", group),
            "review_median": _percentile(0.5, f"f.{review_time}", group),
            "review_p90": _percentile(0.9, f"f.{review_time}", group),
            "size_median": _percentile(0.5, "f.lines", group),
            "rounds_mean": f"AVG(f.review_rounds) FILTER (WHERE {group})",
            "reverted": f"COUNT(*) FILTER (WHERE {group} AND (f.flags & {REVERTED}) <> 0)",
            "hotfixes": f"COUNT(*) FILTER (WHERE {group} AND (f.flags & {HOTFIX}) <> 0)",
            "deployed": f"COUNT(*) FILTER (WHERE {group} AND (f.flags & {DEPLOYED}) <> 0)",
            "deploy_failed": (
                f"COUNT(*) FILTER (WHERE {group} AND (f.flags & {DEPLOY_FAILED}) <> 0)"
            ),
        }
        if tuple(found) != AI_GROUP_FIGURES:
            raise RuntimeError("the AI figures' aggregates and figures_ai.AI_GROUP_FIGURES differ")
        aggregates.update({f"{name}__{figure}": value for figure, value in found.items()})
    answered = "f.answer IS NOT NULL AND f.answer <> ''"
    aggregates.update(
        {
            "merged": "COUNT(*)",
            "answered": f"COUNT(*) FILTER (WHERE {answered})",
            "said_ai": f"COUNT(*) FILTER (WHERE {said_ai})",
            "either": f"COUNT(*) FILTER (WHERE {ai} OR {said_ai})",
            "agree": (
                f"COUNT(*) FILTER (WHERE {answered} AND "
                f"(({ai} AND {said_ai}) OR (NOT {ai} AND f.answer = 'none')))"
            ),
        }
    )
    answers = list(AI_ANSWERS)
    aggregate_params = [answers] * sum(value.count("%s") for value in aggregates.values())
    query = (
        f"SELECT {', '.join(aggregates.values())} FROM ({sql}) f "  # noqa: S608
        f"WHERE (f.flags & {CREATED_KNOWN}) <> 0 "
        f"AND (f.author IS NULL OR NOT f.author = ANY(%s) OR {ai}) AND {where}"
    )
    with connection.cursor() as cursor:
        cursor.execute(query, [*aggregate_params, *params, people.bots, *where_params])
        values = cursor.fetchone()
    return dict(zip(aggregates, values, strict=True))


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


def _percentile(fraction: float, column: str, group: str) -> str:
    """A percentile of ``column`` over the group's elements that have one."""
    return (
        f"PERCENTILE_CONT({fraction}) WITHIN GROUP (ORDER BY {column}) "
        f"FILTER (WHERE {group} AND {column} IS NOT NULL)"
    )

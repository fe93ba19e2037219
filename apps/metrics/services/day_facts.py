"""Day facts: the period figures' inputs kept ahead of time (docs/metrics.md,
"Day facts"), so that a dashboard of 90 or 365 days reads a few hundred rows of
arrays instead of every pull request and review of the period.

For each team, UTC day and kind (`DayFacts.Kind`), a `DayFacts` row holds one
element per pull request (or review) whose moment of that kind falls on the
day, with what the figures read of it: the moment itself, the author and
repository (so any scope filters the elements), flags, size and durations.

Exactness, whatever writes the rows:

- PostgreSQL's triggers (migration 0023) mark a team's day stale
  (`DayFactsStale`) in the same transaction as any insert, update or delete of
  a pull request or review with a moment on that day: the write path, the
  recompute, a bulk load, a cascade, a test's factory alike.
- `facts_sql` gives a kind's facts over a time range as one relation: the
  arrays of the days that are not stale, and the rows themselves for the days
  that are, in one statement (one snapshot). A day is never read from both.
- `day_facts_refresh` rebuilds stale days from the rows (the same
  expressions, `KINDS`), removing their markers in the same transaction.
  Celery beat runs it (`refresh_day_facts`); `manage.py metrics_day_facts`
  runs it by hand.

Who counts (bots, deleted accounts, the author's own reviews) is not baked in:
the figures filter the elements by the team's people as they are now.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db import connection, transaction

from apps.metrics.models import DayFacts

logger = logging.getLogger(__name__)

# Bits of DayFacts.flags.
CREATED_KNOWN = 1  # merged: the pull request's opening time is known
REVERT = 2  # merged: a revert
HOTFIX = 4  # merged: a hotfix
APPROVED = 8  # review: an approval
AI_ASSISTED = 16  # merged: AI-assisted (services/ai_signals.py)
REVERTED = 32  # merged: a merged revert reverts it
DEPLOYED = 64  # merged: shipped to production by a deployment
DEPLOY_FAILED = 128  # merged: in a production deployment that failed

# The size buckets' order (figures.SIZE_BUCKETS): the index is stored.
SIZE_CODES = ("under_20", "20_100", "100_250", "250_500", "over_500", "unknown")
# Lines changed, as a bigint: two int columns' sum can pass int's range, and
# one such row would fail every refresh of its day.
_LINES_SQL = "(p.additions::bigint + p.deletions)"
_SIZE_SQL = (
    "CASE WHEN p.additions IS NULL OR p.deletions IS NULL THEN 5 "
    f"WHEN {_LINES_SQL} <= 19 THEN 0 "
    f"WHEN {_LINES_SQL} <= 99 THEN 1 "
    f"WHEN {_LINES_SQL} <= 249 THEN 2 "
    f"WHEN {_LINES_SQL} <= 500 THEN 3 ELSE 4 END"
)
_MERGED_DURATIONS = ("cycle_time", "coding", "pickup", "review", "merge")
_SLOTS = ("hours", "working_hours")
# Review states the review load counts (figures.REVIEW_STATES).
REVIEW_STATES = ("approved", "changes_requested", "commented", "dismissed")


@dataclass(frozen=True)
class FactKind:
    """One kind of fact: the rows it comes from, the moment that places it on a
    day, which rows are facts, and each element's columns (name, SQL type, the
    expression over the rows)."""

    source: str
    team: str
    moment: str
    where: str
    columns: tuple[tuple[str, str, str], ...]
    order: str


_COMMON = (
    ("pull_request", "bigint", "p.id"),
    ("author", "bigint", "p.author_id"),
    ("repository", "bigint", "p.repository_id"),
)


def _pull_request_kind(moment: str, where: str, *extra: tuple[str, str, str]) -> FactKind:
    return FactKind(
        source="metrics_pullrequest p",
        team="p.team_id",
        moment=f"p.{moment}",
        where=where,
        columns=(("at", "timestamptz", f"p.{moment}"), *_COMMON, *extra),
        order="p.id",
    )


KINDS: dict[str, FactKind] = {
    DayFacts.Kind.CREATED: _pull_request_kind("pr_created_at", "TRUE"),
    DayFacts.Kind.CLOSED: _pull_request_kind("closed_at", "p.state = 'closed'"),
    DayFacts.Kind.MERGED: _pull_request_kind(
        "merged_at",
        "TRUE",
        (
            "flags",
            "smallint",
            f"((CASE WHEN p.pr_created_at IS NOT NULL THEN {CREATED_KNOWN} ELSE 0 END) "  # noqa: S608
            f"| (CASE WHEN p.is_revert THEN {REVERT} ELSE 0 END) "
            f"| (CASE WHEN p.is_hotfix THEN {HOTFIX} ELSE 0 END) "
            f"| (CASE WHEN p.is_ai_assisted THEN {AI_ASSISTED} ELSE 0 END) "
            "| (CASE WHEN EXISTS (SELECT 1 FROM metrics_pullrequest u "
            "WHERE u.reverts_id = p.id AND u.merged_at IS NOT NULL) "
            f"THEN {REVERTED} ELSE 0 END) "
            f"| (CASE WHEN p.deployment_id IS NOT NULL THEN {DEPLOYED} ELSE 0 END) "
            "| (CASE WHEN EXISTS (SELECT 1 FROM metrics_deployment g "
            f"WHERE g.id = p.deployment_id AND g.failed) THEN {DEPLOY_FAILED} ELSE 0 END))"
            "::smallint",
        ),
        ("size", "smallint", f"({_SIZE_SQL})::smallint"),
        ("lines", "bigint", _LINES_SQL),
        ("review_rounds", "integer", "p.review_rounds"),
        (
            "answer",
            "text",
            "(SELECT q.answer FROM metrics_mergequestion q WHERE q.pull_request_id = p.id)",
        ),
        *((f"review_time_{slot}", "float8", f"p.review_time_{slot}") for slot in _SLOTS),
        *(
            (f"{name}_{slot}", "float8", f"p.{name}_{slot}")
            for slot in _SLOTS
            for name in _MERGED_DURATIONS
        ),
    ),
    DayFacts.Kind.FIRST_REVIEW: _pull_request_kind(
        "first_review_at",
        "TRUE",
        *((f"review_time_{slot}", "float8", f"p.review_time_{slot}") for slot in _SLOTS),
    ),
    DayFacts.Kind.REVIEW: FactKind(
        source="metrics_prreview r JOIN metrics_pullrequest p ON p.id = r.pull_request_id",
        # The review's own team (a pull request's reviews are its team's).
        team="r.team_id",
        moment="r.submitted_at",
        where=(
            "r.reviewer_id IS NOT NULL AND r.state IN ("
            + ", ".join(f"'{state}'" for state in REVIEW_STATES)
            + ")"
        ),
        columns=(
            ("at", "timestamptz", "r.submitted_at"),
            ("pull_request", "bigint", "r.pull_request_id"),
            ("author", "bigint", "p.author_id"),
            ("repository", "bigint", "p.repository_id"),
            ("reviewer", "bigint", "r.reviewer_id"),
            (
                "flags",
                "smallint",
                f"(CASE WHEN r.state = 'approved' THEN {APPROVED} ELSE 0 END)::smallint",
            ),
        ),
        order="r.id",
    ),
}


# The merged facts again, packed as records (`DayFacts.packed_keys`,
# `packed_hours`, `packed_working_hours`), which `figures_packed.py` reads
# whole: an array reaches a client element by element (array_send calls its
# element type's output for each, which cost more than the figures), a bytea
# as it is stored. One fixed-size big-endian record per element, in the
# arrays' order, made from the element's columns (``e``, `_elements_sql`). A
# null is a value no real one takes: 0 for an author or a repository (ids
# start at 1), -1 for lines, NaN for a duration.
# The merge question's answer as a code: its index here, or the length of this
# for an answer not listed.
PACKED_ANSWERS: tuple[str | None, ...] = (None, "", "none", "little", "half", "most", "all")
_ANSWER_CODE = (
    "CASE WHEN e.answer IS NULL THEN 0 "
    + " ".join(
        f"WHEN e.answer = '{answer}' THEN {code}"
        for code, answer in enumerate(PACKED_ANSWERS)
        if answer is not None
    )
    + f" ELSE {len(PACKED_ANSWERS)} END"
)
# Each packed kind's keys record: (name, numpy's type, the element's bytes).
PACKED_KEYS: dict[str, tuple[tuple[str, str, str], ...]] = {
    DayFacts.Kind.MERGED: (
        ("at", ">i8", "timestamptz_send(e.at)"),  # microseconds since 2000-01-01 UTC
        ("author", ">i8", "int8send(COALESCE(e.author, 0))"),
        ("repository", ">i8", "int8send(COALESCE(e.repository, 0))"),
        ("flags", ">i2", "int2send(e.flags)"),
        ("size", ">i2", "int2send(e.size)"),
        ("lines", ">i8", "int8send(COALESCE(e.lines, -1))"),
        ("review_rounds", ">i4", "int4send(e.review_rounds)"),
        ("answer", ">i2", f"int2send(({_ANSWER_CODE})::smallint)"),
    ),
    DayFacts.Kind.FIRST_REVIEW: (
        ("at", ">i8", "timestamptz_send(e.at)"),
        ("author", ">i8", "int8send(COALESCE(e.author, 0))"),
        ("repository", ">i8", "int8send(COALESCE(e.repository, 0))"),
    ),
    DayFacts.Kind.REVIEW: (
        ("at", ">i8", "timestamptz_send(e.at)"),
        ("pull_request", ">i8", "int8send(e.pull_request)"),
        ("author", ">i8", "int8send(COALESCE(e.author, 0))"),
        ("repository", ">i8", "int8send(COALESCE(e.repository, 0))"),
        ("reviewer", ">i8", "int8send(e.reviewer)"),  # never null (KINDS' where)
        ("flags", ">i2", "int2send(e.flags)"),
    ),
}
# The durations of a kind that has any, each hours' in a record of its own: these, float8.
PACKED_DURATIONS: dict[str, tuple[str, ...]] = {
    DayFacts.Kind.MERGED: ("cycle_time", "coding", "pickup", "review", "merge", "review_time"),
    DayFacts.Kind.FIRST_REVIEW: ("review_time",),
}


def _packed_slot(kind: str, slot: str) -> str:
    return " || ".join(
        f"float8send(COALESCE(e.{name}_{slot}, 'NaN'::float8))" for name in PACKED_DURATIONS[kind]
    )


def _packed(kind: str) -> dict[str, str]:
    """The kind's packed columns, each with its record of an element ``e``
    (none for a kind not packed)."""
    if kind not in PACKED_KEYS:
        return {}
    found = {
        "packed_keys": " || ".join(expression for _name, _type, expression in PACKED_KEYS[kind])
    }
    if kind in PACKED_DURATIONS:
        found.update({f"packed_{slot}": _packed_slot(kind, slot) for slot in _SLOTS})
    return found


def _packed_aggregate(kind: str, column: str) -> str:
    """A day's records of one of the kind's packed columns, from its elements ``e``."""
    return f"string_agg({_packed(kind)[column]}, ''::bytea ORDER BY e.o)"


def _elements_sql(fact: FactKind, *, where: str, days: str = "", extra: str = "") -> str:
    """The kind's elements ``e`` as rows: each column once, named, ``o`` the
    order of the arrays; ``extra`` columns before them, of the relation
    ``days`` read beside the rows."""
    columns = ", ".join(f"{expression} AS {name}" for name, _type, expression in fact.columns)
    source = f"{days}, {fact.source}" if days else fact.source
    return f"(SELECT {extra}{fact.order} AS o, {columns} FROM {source} WHERE {where}) e"  # noqa: S608


def available() -> bool:
    """Whether day facts are kept here: PostgreSQL (arrays and triggers)."""
    return connection.vendor == "postgresql"


def _utc_day_start(day: str) -> str:
    return f"({day}::timestamp AT TIME ZONE 'UTC')"


# The team's stale days from one day to another: read from the rows, never
# from their arrays.
_STALE_DAYS = (
    "SELECT DISTINCT s.day FROM metrics_dayfactsstale s "
    "WHERE s.team_id = %s AND s.day BETWEEN %s AND %s"
)


def _kept_days(
    kind: str, team_id: int, first_day: date, last_day: date
) -> tuple[str, list[object]]:
    """Which of the kind's day rows ``d`` are read from their arrays: the
    team's, from one day to another, not stale."""
    return (
        f"d.team_id = %s AND d.kind = %s AND d.day BETWEEN %s AND %s "
        f"AND d.day NOT IN ({_STALE_DAYS})",
        [team_id, kind, first_day, last_day, team_id, first_day, last_day],
    )


def _on_stale_day(fact: FactKind) -> str:
    """The rows of the kind's facts on the stale day ``stale.day`` (the
    team's id as the parameter)."""
    return (
        f"{fact.team} = %s AND {fact.moment} >= {_utc_day_start('stale.day')} "
        f"AND {fact.moment} < {_utc_day_start('(stale.day + 1)')} AND {fact.where}"
    )


def facts_sql(
    kind: str,
    *,
    team_id: int,
    start_at: datetime,
    end_at: datetime,
    columns: tuple[str, ...] = (),
) -> tuple[str, list[object]]:
    """A SELECT of the kind's facts of the team whose moment is in
    [start_at, end_at), one row per fact with ``at`` and the ``columns`` asked
    for (every column of the kind when none is): the arrays of the days that
    are not stale, and the rows of the days that are. Each array read costs:
    ask only for what is used."""
    fact = KINDS[kind]
    wanted = {"at", *columns} if columns else None
    chosen = [column for column in fact.columns if wanted is None or column[0] in wanted]
    names = [name for name, _type, _expression in chosen]
    if wanted is not None and len(names) != len(wanted):
        raise ValueError(f"{kind} facts have no {sorted(wanted - set(names))}")
    first_day, last_day = _utc_date(start_at), _utc_date(end_at, end=True)
    # The arrays unnested side by side in the select list (PostgreSQL's
    # ProjectSet zips arrays of one length) rather than as a function in FROM,
    # which copies every element into a tuplestore first: the merged read of
    # 90 days at 1,000,000 pull requests, 230 ms before, 185 ms after.
    arrays = ", ".join(f"unnest(d.{name}) AS {name}" for name in names)
    kept_where, kept_params = _kept_days(kind, team_id, first_day, last_day)
    kept = (
        f"SELECT f.* FROM (SELECT {arrays} FROM metrics_dayfacts d "  # noqa: S608 (no user text in it)
        f"WHERE {kept_where}) f WHERE f.at >= %s AND f.at < %s"
    )
    expressions = ", ".join(f"{expression} AS {name}" for name, _type, expression in chosen)
    # LATERAL with OFFSET 0 (which keeps PostgreSQL from folding it into a
    # join): the stale days drive the read, each through the moment's index.
    # As a join, the planner, misjudging a small stale table, read every row of
    # the period first (merged, 365 days, 100,000 pull requests: 106 ms of
    # 281 for no stale day).
    names_sql = ", ".join(f"x.{name}" for name in names)
    rows = (
        f"SELECT {names_sql} FROM ({_STALE_DAYS}) stale "  # noqa: S608
        f"CROSS JOIN LATERAL (SELECT {expressions} FROM {fact.source} "
        f"WHERE {_on_stale_day(fact)} "
        f"AND {fact.moment} >= %s AND {fact.moment} < %s OFFSET 0) x"
    )
    params: list[object] = [
        *kept_params,
        start_at,
        end_at,
        team_id,
        first_day,
        last_day,
        team_id,
        start_at,
        end_at,
    ]
    return f"({kept}) UNION ALL ({rows})", params


def facts_days_sql(
    kind: str, *, team_id: int, first_day: date, last_day: date, columns: tuple[str, ...]
) -> tuple[str, list[object]]:
    """A SELECT of the kind's facts of the team on the UTC days from
    ``first_day`` to ``last_day``, one row per day that has any, with each of
    ``columns`` as the day's array (in the same order in each): the kept
    arrays of the days that are not stale, the rows gathered for the days that
    are (`facts_sql`'s rule). For figures a day's arrays give without reading
    each element (how many, how many of some authors)."""
    fact = KINDS[kind]
    chosen = [column for column in fact.columns if column[0] in columns]
    if len(chosen) != len(set(columns)):
        raise ValueError(f"{kind} facts have no {sorted(set(columns) - {c[0] for c in chosen})}")
    kept_where, kept_params = _kept_days(kind, team_id, first_day, last_day)
    kept = (
        f"SELECT {', '.join(f'd.{name}' for name, _type, _expression in chosen)} "  # noqa: S608
        f"FROM metrics_dayfacts d WHERE {kept_where}"
    )
    gathered = ", ".join(
        f"array_agg({expression} ORDER BY {fact.order}) AS {name}"
        for name, _type, expression in chosen
    )
    rows = (
        f"SELECT {', '.join(f'x.{name}' for name, _type, _expression in chosen)} "  # noqa: S608
        f"FROM ({_STALE_DAYS}) stale CROSS JOIN LATERAL (SELECT {gathered} "
        f"FROM {fact.source} WHERE {_on_stale_day(fact)} HAVING COUNT(*) > 0) x"
    )
    params: list[object] = [*kept_params, team_id, first_day, last_day, team_id]
    return f"({kept}) UNION ALL ({rows})", params


def packed_days_sql(
    kind: str, *, team_id: int, start_at: datetime, end_at: datetime, slot: str = ""
) -> tuple[str, list[object]]:
    """A SELECT of the team's facts of a packed kind (`PACKED_KEYS`), one row
    per UTC day that [start_at, end_at) touches and that has any, in order:
    the day, the keys' records, and with ``slot`` (``hours`` or
    ``working_hours``) its durations' records (`PACKED_DURATIONS`); kept for
    the days that are not stale, made from the rows for the days that are,
    and for days built before the records (`facts_sql`'s rule). The elements
    of a day's part outside the range are in it: the reader keeps those in
    the range by their ``at``."""
    columns = ["packed_keys"]
    if slot:
        if kind not in PACKED_DURATIONS or slot not in _SLOTS:
            raise ValueError(f"{kind} facts have no packed durations of {slot!r}")
        columns.append(f"packed_{slot}")
    if kind not in PACKED_KEYS:
        raise ValueError(f"{kind} facts are not packed")
    fact = KINDS[kind]
    first_day, last_day = _utc_date(start_at), _utc_date(end_at, end=True)
    kept_where, kept_params = _kept_days(kind, team_id, first_day, last_day)
    # A day row holds at least one element, so empty records are a day built
    # by a release before the records (its refresh running between this
    # release's migration and its own upgrade): read from the rows, as a
    # stale day is (octet_length reads a stored value's size, not the value).
    unpacked = (
        "SELECT d.day FROM metrics_dayfacts d WHERE d.team_id = %s AND d.kind = %s "
        "AND d.day BETWEEN %s AND %s AND octet_length(d.packed_keys) = 0"
    )
    kept = (
        f"SELECT d.day, {', '.join(f'd.{column}' for column in columns)} "  # noqa: S608
        f"FROM metrics_dayfacts d WHERE {kept_where} AND octet_length(d.packed_keys) > 0"
    )
    made = ", ".join(f"{_packed_aggregate(kind, column)} AS {column}" for column in columns)
    rows = (
        f"SELECT stale.day, x.* FROM ({_STALE_DAYS} UNION {unpacked}) stale "  # noqa: S608
        f"CROSS JOIN LATERAL (SELECT {made} FROM {_elements_sql(fact, where=_on_stale_day(fact))} "
        "HAVING COUNT(*) > 0) x"
    )
    params: list[object] = [
        *kept_params,
        *(team_id, first_day, last_day),
        *(team_id, kind, first_day, last_day),
        team_id,
    ]
    # In the order of days (each day's elements in the arrays' order): the
    # order in which the reader sums.
    return f"SELECT * FROM (({kept}) UNION ALL ({rows})) packed ORDER BY 1", params  # noqa: S608


def _utc_date(moment: datetime, *, end: bool = False) -> date:
    """The UTC day of ``moment``; with ``end``, of the last instant before it."""
    if end:
        moment = moment - timedelta(microseconds=1)
    return moment.astimezone(UTC).date()


# One refresher at a time (two would rebuild the same days); any number of readers.
_REFRESH_LOCK = 0x7F0DA75


def day_facts_refresh(*, days: int = 200) -> int:
    """Rebuild up to ``days`` stale team days from their rows, every kind, and
    remove their markers, in one transaction; how many were rebuilt (0 when
    none is stale, another refresher is at work, or the database keeps none)."""
    if not available():
        return 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_REFRESH_LOCK])
        if not cursor.fetchone()[0]:
            return 0
        cursor.execute(
            "SELECT DISTINCT team_id, day FROM metrics_dayfactsstale "
            "ORDER BY team_id, day LIMIT %s",
            [days],
        )
        chosen = cursor.fetchall()
        if not chosen:
            return 0
        teams = [team_id for team_id, _day in chosen]
        chosen_days = [day for _team_id, day in chosen]
        # Markers written after this point (a writer committing meanwhile) stay,
        # and their days are rebuilt again by the next refresh.
        cursor.execute(
            "DELETE FROM metrics_dayfactsstale s USING unnest(%s::bigint[], %s::date[]) "
            "AS c(team_id, day) WHERE s.team_id = c.team_id AND s.day = c.day",
            [teams, chosen_days],
        )
        cursor.execute(
            "DELETE FROM metrics_dayfacts d USING unnest(%s::bigint[], %s::date[]) "
            "AS c(team_id, day) WHERE d.team_id = c.team_id AND d.day = c.day",
            [teams, chosen_days],
        )
        for kind, fact in KINDS.items():
            names = ", ".join(name for name, _type, _expression in fact.columns)
            empty = "".join(", '{}'" for _name in _unused(fact))
            # Each column computed once per element (`_elements_sql`), for its
            # array and its packed record alike.
            arrays = ", ".join(
                f"array_agg(e.{name} ORDER BY e.o)" for name, _type, _expression in fact.columns
            )
            names += "".join(f", {column}" for column in _packed(kind))
            arrays += "".join(f", {_packed_aggregate(kind, column)}" for column in _packed(kind))
            elements = _elements_sql(
                fact,
                days=(
                    "unnest(%s::bigint[], %s::date[]) AS c(team_id, day) "
                    "JOIN teams_team t ON t.id = c.team_id"
                ),
                extra="c.team_id AS c_team, c.day AS c_day, ",
                where=(
                    f"{fact.team} = c.team_id AND {fact.moment} >= {_utc_day_start('c.day')} "
                    f"AND {fact.moment} < {_utc_day_start('(c.day + 1)')} AND {fact.where}"
                ),
            )
            cursor.execute(
                f"INSERT INTO metrics_dayfacts (team_id, kind, day, {names}, "  # noqa: S608
                f"{', '.join(_unused(fact))}) "
                f"SELECT e.c_team, %s, e.c_day, {arrays}{empty} FROM {elements} "
                "GROUP BY e.c_team, e.c_day",
                [kind, teams, chosen_days],
            )
    return len(chosen)


_ARRAYS = (
    "at",
    "pull_request",
    "author",
    "repository",
    "reviewer",
    "flags",
    "size",
    "lines",
    "review_rounds",
    "answer",
    *(f"{name}_{slot}" for slot in _SLOTS for name in (*_MERGED_DURATIONS, "review_time")),
)


def _unused(fact: FactKind) -> list[str]:
    """The arrays a kind has no elements for (stored empty)."""
    used = {name for name, _type, _expression in fact.columns}
    return [name for name in _ARRAYS if name not in used]


def day_facts_refresh_all(*, days: int = 200, on_batch: Callable[[int], None] | None = None) -> int:
    """Refresh until no day is stale; how many team days were rebuilt
    (``on_batch`` is told each batch's count)."""
    total = 0
    while True:
        done = day_facts_refresh(days=days)
        if not done:
            return total
        total += done
        if on_batch is not None:
            on_batch(done)


def day_facts_refresh_for(*, seconds: float, days: int = 200) -> int:
    """Refresh batches until none is stale or ``seconds`` have passed (the
    batch under way finishes); how many team days were rebuilt."""
    deadline = time.monotonic() + seconds
    total = 0
    while time.monotonic() < deadline:
        done = day_facts_refresh(days=days)
        if not done:
            break
        total += done
    if total:
        logger.info("day facts: %s team days rebuilt", total)
    return total


def day_facts_stale_count() -> int:
    """Team days waiting to be rebuilt."""
    if not available():
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM (SELECT DISTINCT team_id, day FROM metrics_dayfactsstale) s"
        )
        return int(cursor.fetchone()[0])

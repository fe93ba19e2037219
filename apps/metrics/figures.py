"""Selectors for the dashboard and the JSON API: every figure of a period,
aggregated in the database with a fixed number of queries whatever the number
of pull requests (see docs/metrics.md for each definition).

Every duration is a stored column, computed in Python by the durations engine
(`services/durations.py`) when the row is written: the figures aggregate those
columns and never compute a duration in SQL. Figures about merged pull requests
read the merged rows once (size, week, which period) and aggregate them.
"""

from __future__ import annotations

import operator
from datetime import date, datetime, timedelta
from functools import reduce
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    Count,
    DateField,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Trunc
from django.db.models.lookups import LessThanOrEqual

from apps.common.side_by_side import side_by_side
from apps.metrics import figures_ai, figures_facts, figures_packed
from apps.metrics.dbfunctions import PercentileCont, percentile_sql
from apps.metrics.figures_deployments import deployment_figures
from apps.metrics.figures_targets import pull_requests_outside_target, target_figures
from apps.metrics.models import MergeQuestion, PRReview, PullRequest
from apps.metrics.periods import EARLIEST, LATEST, BadParameter, Period, Request
from apps.metrics.repositories import repository_directory
from apps.metrics.rules import counted_reviewer_q
from apps.metrics.scope import FigureScope
from apps.metrics.services import day_facts
from apps.metrics.services.ai_rules import team_ai_rules
from apps.metrics.services.durations import team_calendars
from apps.teams.models import Team

# A pull request by a person: bots' pull requests are counted apart.
HUMAN = Q(author__isnull=True) | Q(author__is_bot=False)
SIZE_BUCKETS = (
    ("under_20", "under 20 lines"),
    ("20_100", "20 to 99 lines"),
    ("100_250", "100 to 249 lines"),
    ("250_500", "250 to 500 lines"),
    ("over_500", "over 500 lines"),
    ("unknown", "size not known"),
)
REVIEW_STATES = ("approved", "changes_requested", "commented", "dismissed")
WAITING_LIMIT = 10
REVIEWERS_LIMIT = 50
DIGITS = 3


def _round(value: float | None, digits: int = DIGITS) -> float | None:
    return None if value is None else round(float(value), digits)


def repositories_for_team(*, team: Team) -> list[str]:
    """Full names of the repositories the filter offers, sorted, each once: the
    team's tracked ones, and any other that has pull requests of the team
    (tracked once); one granted but never tracked would only show zeros."""
    return repository_directory().names_for_team(team=team)


def repository_ids_for_team(*, team: Team, full_name: str) -> list[int] | None:
    """Ids of the team's repository named ``full_name`` (None for every
    repository when the name is empty); BadParameter for one the team lacks."""
    if not full_name:
        return None
    ids = repository_directory().ids_named(team=team, full_name=full_name)
    if not ids:
        raise BadParameter(f"Unknown repository '{full_name}' for this team.")
    return ids


def _scoped(scope: FigureScope) -> QuerySet[PullRequest]:
    """The team's pull requests in the scope (repositories, squad, person)."""
    return PullRequest.objects.filter(scope.pull_requests_q(), team=scope.team)


def _default_scope(
    team: Team, period: Period, repository_ids: list[int] | None, scope: FigureScope | None
) -> FigureScope:
    """The scope given, or every person's pull requests in calendar hours."""
    return scope or FigureScope(team=team, period=period, repository_ids=repository_ids)


def _in(field: str, period: Period) -> Q:
    return Q(**{f"{field}__gte": period.start_at, f"{field}__lt": period.end_at})


def _size_bucket() -> Case:
    # As a bigint: two int columns' sum can pass int's range (a 500 on PostgreSQL).
    size = Cast("additions", BigIntegerField()) + F("deletions")
    return Case(
        When(Q(additions__isnull=True) | Q(deletions__isnull=True), then=Value("unknown")),
        When(LessThanOrEqual(size, 19), then=Value("under_20")),
        When(LessThanOrEqual(size, 99), then=Value("20_100")),
        When(LessThanOrEqual(size, 249), then=Value("100_250")),
        When(LessThanOrEqual(size, 500), then=Value("250_500")),
        default=Value("over_500"),
        output_field=CharField(),
    )


def _merged_rows(scope: FigureScope) -> QuerySet[PullRequest]:
    """One row per person's pull request merged in the period or the previous
    one (``current`` says which), with its phases (in the scope's hours, named
    as the calendar-hour columns), week and size."""
    period = scope.period
    previous = period.previous()
    queryset = _scoped(scope).filter(
        HUMAN,
        merged_at__gte=previous.start_at,
        merged_at__lt=period.end_at,
        pr_created_at__isnull=False,
    )
    return queryset.annotate(
        **{_AS[name]: F(scope.column(name)) for name in _MERGED_DURATIONS},
        week=Trunc("merged_at", "week", output_field=DateField(), tzinfo=period.tzinfo),
        size_bucket=_size_bucket(),
        current=Case(
            When(merged_at__gte=period.start_at, then=Value(1)),
            default=Value(0),
            output_field=IntegerField(),
        ),
    ).values("current", *_AS.values(), "is_revert", "is_hotfix", "week", "size_bucket")


_PHASES = ("coding_hours", "pickup_hours", "review_hours", "merge_hours")
# The merged rows' durations, read from the scope's slot under these names
# (a column's own name cannot be an annotation's).
_MERGED_DURATIONS = ("cycle_time", "coding", "pickup", "review", "merge")
_AS = {name: f"shown_{name}_hours" for name in _MERGED_DURATIONS}
_MERGED_KEYS = (
    "merged",
    "cycle_mean",
    "cycle_median",
    "cycle_p90",
    *_PHASES,
    "reverts",
    "hotfixes",
)


def _merged_aggregates(connection: BaseDatabaseWrapper) -> str:
    """The aggregates of `_MERGED_KEYS` over the merged rows (named ``merged``)."""
    quote = connection.ops.quote_name
    cycle = f"merged.{quote(_AS['cycle_time'])}"
    return ", ".join(
        [
            "COUNT(*)",
            f"AVG({cycle})",
            percentile_sql(vendor=connection.vendor, column=cycle, fraction=0.5),
            percentile_sql(vendor=connection.vendor, column=cycle, fraction=0.9),
            *(f"AVG(merged.{quote('shown_' + name)})" for name in _PHASES),
            f"SUM(CASE WHEN merged.{quote('is_revert')} THEN 1 ELSE 0 END)",
            f"SUM(CASE WHEN merged.{quote('is_hotfix')} THEN 1 ELSE 0 END)",
        ]
    )


def _merged_figures(scope: FigureScope) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Counts, mean phases and cycle-time percentiles of the merged rows for the
    period, the previous period, each week and each size; and the AI figures'
    aggregates (`figures_ai`): on PostgreSQL both from one read of the day
    facts' packed records (`figures_packed.py`); elsewhere the first in one
    query of the rows, the second None (`figures_ai` reads the rows)."""
    if day_facts.available():
        found, ai_found = figures_packed.packed_merged_figures(scope)
    else:
        found, ai_found = _aggregate_merged_rows(scope), None
    rows = [
        {"kind": row[0], "key": row[1], **dict(zip(_MERGED_KEYS, row[2:], strict=True))}
        for row in found
    ]
    return rows, ai_found


def _aggregate_merged_rows(scope: FigureScope) -> list[tuple[Any, ...]]:
    """`_merged_figures`' rows (kind, key, *figures) from the pull requests,
    read once (a materialized CTE)."""
    rows = _merged_rows(scope)
    try:
        inner_sql, params = rows.query.get_compiler(using=rows.db).as_sql()
    except EmptyResultSet:
        return []  # a squad with no one in it
    connection = connections[rows.db]
    quote = connection.ops.quote_name
    aggregates = _merged_aggregates(connection)
    current = f"merged.{quote('current')}"
    week = f"merged.{quote('week')}"
    size = f"merged.{quote('size_bucket')}"
    sql = (
        f"WITH merged AS MATERIALIZED ({inner_sql}) "  # noqa: S608 (no user text in it)
        f"SELECT 'current', '', {aggregates} FROM merged WHERE {current} = 1 "
        f"UNION ALL SELECT 'previous', '', {aggregates} FROM merged WHERE {current} = 0 "
        f"UNION ALL SELECT 'week', CAST({week} AS TEXT), {aggregates} FROM merged "
        f"WHERE {current} = 1 GROUP BY {week} "
        f"UNION ALL SELECT 'size', {size}, {aggregates} FROM merged "
        f"WHERE {current} = 1 GROUP BY {size}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        return cursor.fetchall()


def _share(count: int, total: int) -> float | None:
    return round(count / total, 4) if total else None


def _counts(scope: FigureScope, periods: dict[str, Period]) -> dict[str, dict[str, Any]]:
    """Counts and time to first review of each named period, in one query (of
    the day facts on PostgreSQL)."""
    if day_facts.available():
        found = figures_facts.facts_counts(scope, periods)
        for name, first_reviews in figures_packed.packed_first_reviews(scope, periods).items():
            found[name].update(first_reviews)
        return _with_open_now(scope, found)
    aggregates: dict[str, Any] = {}
    review_time = scope.column("review_time")
    for name, period in periods.items():
        reviewed = HUMAN & _in("first_review_at", period) & Q(**{f"{review_time}__isnull": False})
        aggregates.update(
            {
                f"{name}__opened": Count("id", filter=HUMAN & _in("pr_created_at", period)),
                f"{name}__closed_unmerged": Count(
                    "id",
                    filter=HUMAN & Q(state=PullRequest.State.CLOSED) & _in("closed_at", period),
                ),
                f"{name}__first_reviewed": Count("id", filter=reviewed),
                f"{name}__first_review_median": PercentileCont(review_time, 0.5, filter=reviewed),
                f"{name}__first_review_p90": PercentileCont(review_time, 0.9, filter=reviewed),
                f"{name}__bots_opened": Count(
                    "id", filter=Q(author__is_bot=True) & _in("pr_created_at", period)
                ),
                f"{name}__bots_merged": Count(
                    "id", filter=Q(author__is_bot=True) & _in("merged_at", period)
                ),
            }
        )
    # The rows any of these counts can take: those with a moment in a period,
    # each read through its index. Without it, every request read every pull
    # request the team ever had (1,000,000 of them in bench/bench_dashboard.py),
    # whatever the period.
    counted = reduce(
        operator.or_,
        (
            _in(moment, period)
            for period in periods.values()
            for moment in ("pr_created_at", "closed_at", "first_review_at", "merged_at")
        ),
    )
    values = _scoped(scope).filter(counted).aggregate(**aggregates)
    found: dict[str, dict[str, Any]] = {name: {} for name in periods}
    for key, value in values.items():
        if "__" in key:
            name, figure = key.split("__", 1)
            found[name][figure] = value
    return _with_open_now(scope, found)


def _with_open_now(
    scope: FigureScope, found: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    open_now = _open_now(scope)
    for figures in found.values():
        figures["open_now"] = open_now
    return found


def _open_now(scope: FigureScope) -> int:
    """People's pull requests open now, whenever they were opened: counted from
    the open ones' index alone (`pr_team_open`: team, author, repository), not
    from their rows, which a team with many left open made the dashboard read
    (120,000 in bench/bench_dashboard.py). The bots are left out by their ids,
    not by joining every open pull request to its author (22 -> 10 ms there)."""
    bots, _ = scope.uncounted_people
    return (
        _scoped(scope)
        .filter(state=PullRequest.State.OPEN)
        .exclude(author_id__in=sorted(bots))
        .count()
    )


def _summary(period: Period, counts: dict[str, Any], merged: dict[str, Any]) -> dict[str, Any]:
    merged_count = int(merged.get("merged") or 0)
    reverts = int(merged.get("reverts") or 0)
    hotfixes = int(merged.get("hotfixes") or 0)
    return {
        "period": {
            "from": period.start.isoformat(),
            "to": period.end.isoformat(),
            "time_zone": period.time_zone,
        },
        "pull_requests": {
            "opened": counts["opened"],
            "merged": merged_count,
            "closed_unmerged": counts["closed_unmerged"],
            "open_now": counts["open_now"],
        },
        "cycle_time_hours": {
            "median": _round(merged.get("cycle_median")),
            "p90": _round(merged.get("cycle_p90")),
            "mean": _round(merged.get("cycle_mean")),
        },
        "time_to_first_review_hours": {
            "median": _round(counts["first_review_median"]),
            "p90": _round(counts["first_review_p90"]),
            "count": counts["first_reviewed"],
        },
        "phases_hours": {name.removesuffix("_hours"): _round(merged.get(name)) for name in _PHASES},
        "reverts": {"count": reverts, "share": _share(reverts, merged_count)},
        "hotfixes": {"count": hotfixes, "share": _share(hotfixes, merged_count)},
        "bots": {"opened": counts["bots_opened"], "merged": counts["bots_merged"]},
    }


def _weekly(period: Period, found: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Every week (from Monday) the period touches, empty ones included."""
    by_week = {date.fromisoformat(str(key)[:10]): row for key, row in found.items()}
    week = period.start - timedelta(days=period.start.weekday())
    weeks = []
    while week <= period.end:
        row = by_week.get(week, {})
        weeks.append(
            {
                "week": week.isoformat(),
                "merged": int(row.get("merged") or 0),
                "cycle_time_median_hours": _round(row.get("cycle_median")),
                "cycle_time_p90_hours": _round(row.get("cycle_p90")),
                "phases_hours": {
                    name.removesuffix("_hours"): _round(row.get(name)) for name in _PHASES
                },
            }
        )
        week += timedelta(days=7)
    return weeks


def _sizes(found: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "size": key,
            "label": label,
            "merged": int(found.get(key, {}).get("merged") or 0),
            "cycle_time_median_hours": _round(found.get(key, {}).get("cycle_median")),
            "cycle_time_p90_hours": _round(found.get(key, {}).get("cycle_p90")),
        }
        for key, label in SIZE_BUCKETS
    ]


def _reviews_in(scope: FigureScope, period: Period) -> QuerySet[PRReview]:
    """People's reviews submitted in the period (dismissed ones too: the review
    load is work done), on people's pull requests, by counted reviewers
    (`rules.counted_reviewer`: not bots, deleted accounts or the author), in
    the scope (`FigureScope.reviews_q`)."""
    return PRReview.objects.filter(
        scope.reviews_q(),
        _in("submitted_at", period),
        Q(pull_request__author__isnull=True) | Q(pull_request__author__is_bot=False),
        counted_reviewer_q(reviewer="reviewer", author="pull_request__author"),
        team=scope.team,
        state__in=REVIEW_STATES,
        reviewer__isnull=False,
    )


def _review_load(
    scope: FigureScope,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int, int]:
    """Reviews per reviewer, and per reviewer and author (the busiest
    REVIEWERS_LIMIT of each), and how many there are in all, from one query
    grouped by the pair (a pull request has one author, so pairs add up per
    reviewer). With a squad, each reviewer says whether they are in it
    (``in_squad``): who outside the squad reviews it."""
    pairs = (
        figures_packed.packed_review_pairs(scope)
        if day_facts.available()
        else list(
            _reviews_in(scope, scope.period)
            .values("reviewer_id", "reviewer__login", "pull_request__author__login")
            .annotate(
                reviews=Count("id"),
                approvals=Count("id", filter=Q(state=PRReview.State.APPROVED)),
                pull_requests=Count("pull_request_id", distinct=True),
            )
            .order_by()
        )
    )
    reviewers: dict[int, dict[str, Any]] = {}
    for pair in pairs:
        reviewer = reviewers.setdefault(
            pair["reviewer_id"],
            {"login": pair["reviewer__login"], "reviews": 0, "approvals": 0, "pull_requests": 0},
        )
        if scope.member_ids is not None:
            reviewer["in_squad"] = pair["reviewer_id"] in scope.member_ids
        for key in ("reviews", "approvals", "pull_requests"):
            reviewer[key] += pair[key]
    by_load = sorted(reviewers.values(), key=lambda r: (-r["reviews"], r["login"]))
    pair_rows = sorted(
        (
            {
                "reviewer": pair["reviewer__login"],
                "author": pair["pull_request__author__login"],
                "reviews": pair["reviews"],
                **(
                    {"reviewer_in_squad": pair["reviewer_id"] in scope.member_ids}
                    if scope.member_ids is not None
                    else {}
                ),
            }
            for pair in pairs
        ),
        key=lambda p: (-p["reviews"], p["reviewer"], p["author"] or ""),
    )
    return (
        by_load[:REVIEWERS_LIMIT],
        pair_rows[:REVIEWERS_LIMIT],
        len(by_load),
        len(pair_rows),
    )


def people_activity(*, team: Team, period: Period) -> dict[int, dict[str, int]]:
    """Per GitHub person (TeamMember id): pull requests opened and pull requests
    reviewed in the period, counted as the drill-down's ``author`` and
    ``reviewer`` lists count them. Two queries, whatever the number of people."""
    activity: dict[int, dict[str, int]] = {}
    opened = (
        PullRequest.objects.filter(_in("pr_created_at", period), team=team, author__isnull=False)
        .values("author_id")
        .annotate(count=Count("id"))
        .order_by()
    )
    for row in opened:
        activity.setdefault(row["author_id"], {"opened": 0, "reviewed": 0})["opened"] = row["count"]
    reviewed = (
        _reviews_in(FigureScope(team=team, period=period), period)
        .values("reviewer_id")
        .annotate(count=Count("pull_request_id", distinct=True))
        .order_by()
    )
    for row in reviewed:
        activity.setdefault(row["reviewer_id"], {"opened": 0, "reviewed": 0})["reviewed"] = row[
            "count"
        ]
    return activity


def waiting_for_review(*, scope: FigureScope) -> QuerySet[PullRequest]:
    """People's open, ready pull requests with no first review yet, longest
    waiting first (waiting since they were opened, or left draft)."""
    return (
        _scoped(scope)
        .filter(HUMAN, state=PullRequest.State.OPEN, is_draft=False, first_review_at__isnull=True)
        .annotate(waiting_since=Coalesce("ready_for_review_at", "pr_created_at"))
        .filter(waiting_since__isnull=False)
        .select_related("repository", "author")
        .order_by("waiting_since", "id")
    )


def team_figures(
    *,
    team: Team,
    request: Request,
    repository_ids: list[int] | None,
    now: datetime,
    scope: FigureScope | None = None,
) -> dict[str, Any]:
    """Every figure of the request's period (the JSON API's document), and the
    headline figures of the previous period of the same length.
    ``scope`` (squad, person, hours) narrows them all; None for everyone's, in
    calendar hours."""
    period = request.period
    scope = _default_scope(team, period, repository_ids, scope)
    repository_ids = scope.repository_ids
    # Read here, once, before the reads side by side ask for it.
    scope.uncounted_people  # noqa: B018
    # The heaviest reads, independent of each other: side by side on
    # PostgreSQL (apps/common/side_by_side.py), the longest first, in the
    # pool. The light ones run here meanwhile, on this thread's connection:
    # mostly Python (building and compiling queries), they kept one core busy
    # and the other idle when they came after (the 90-day dashboard at
    # 1,000,000 pull requests, p50: 161-181 ms against 172-218).
    heavy = side_by_side(
        {
            "light": lambda: _light_figures(scope, now=now),
            "merged": lambda: _merged_figures(scope),
            "counts": lambda: _counts(scope, {"current": period, "previous": period.previous()}),
            "review_load": lambda: _review_load(scope),
        }
    )
    light = heavy["light"]
    counts = heavy["counts"]
    merged: dict[str, dict[str, dict[str, Any]]] = {
        "current": {},
        "previous": {},
        "week": {},
        "size": {},
    }
    merged_rows, ai_found = heavy["merged"]
    for row in merged_rows:
        merged[row["kind"]][row["key"]] = row
    figures = _summary(period, counts["current"], merged["current"].get("", {}))
    figures["period"]["days"] = period.days
    figures["period"]["repository"] = request.repository or None
    figures.update(scope.echo())
    figures["weekly"] = _weekly(period, merged["week"])
    figures["sizes"] = _sizes(merged["size"])
    (
        figures["reviewers"],
        figures["review_pairs"],
        figures["reviewers_count"],
        figures["review_pairs_count"],
    ) = heavy["review_load"]
    figures["waiting_for_review"] = light["waiting_for_review"]
    figures["previous"] = _summary(
        period.previous(), counts["previous"], merged["previous"].get("", {})
    )
    figures["targets"] = light["targets"]
    figures["ai"] = {"survey": light["survey"]}
    # AI-assisted pull requests beside the others (figures_ai.py, docs/ai.md).
    figures["ai"].update(
        figures_ai.ai_pull_request_figures(
            _scoped(scope),
            period=period,
            survey_shown=light["survey"].get("answers") is not None,
            cycle_time=scope.column("cycle_time"),
            review_time=scope.column("review_time"),
            found=ai_found,
        )
    )
    figures["ai"]["ai_reviews"] = light["ai_reviews"]
    figures["deployments"] = light["deployments"]
    return figures


def _light_figures(scope: FigureScope, *, now: datetime) -> dict[str, Any]:
    """`team_figures`' figures of few rows each: the pull requests waiting for
    a first review, the targets, the merge question's answers, the AI
    reviewers' reviews and the deployments."""
    team, period = scope.team, scope.period
    # How long each has waited so far, in the hours asked for (the team's
    # working hours, or every hour).
    waiting_calendar = team_calendars(team)[scope.slot]
    waiting = [
        {
            "repository": pull_request.repository.full_name if pull_request.repository else None,
            "number": pull_request.number,
            "title": pull_request.title,
            "author": pull_request.author.login if pull_request.author else None,
            "html_url": pull_request.html_url,
            "hours_waiting": _round(
                max(waiting_calendar.hours_between(pull_request.waiting_since, now), 0.0), 1
            ),
        }
        for pull_request in waiting_for_review(scope=scope)[:WAITING_LIMIT]
    ]
    return {
        "waiting_for_review": waiting,
        "targets": target_figures(scope=scope),
        "survey": ai_survey_figures(
            team=team, period=period, repository_ids=scope.repository_ids, scope=scope
        ),
        "ai_reviews": figures_ai.ai_reviews_count(
            _scoped(scope), team=team, period=period, rules=team_ai_rules(team)
        ),
        "deployments": deployment_figures(
            team=team,
            period=period,
            repository_ids=scope.repository_ids,
            slot=scope.slot,
            scope=scope,
        ),
    }


# Answers are shown only where at least this many people answered: fewer, and
# a teammate could tell who answered what (docs/merge-question.md).
SURVEY_MIN_PEOPLE = 3


def ai_survey_figures(
    *,
    team: Team,
    period: Period,
    repository_ids: list[int] | None = None,
    scope: FigureScope | None = None,
) -> dict[str, Any]:
    """The merge question over the pull requests merged in the period: how many
    authors were asked (and not asked: sampled out by the weekly cap), how many
    answered, the response rate, and the answers by option, which are None
    unless at least SURVEY_MIN_PEOPLE distinct people answered. One query."""
    questions = MergeQuestion.objects.filter(team=team).filter(
        _in("pull_request__merged_at", period)
    )
    scope = _default_scope(team, period, repository_ids, scope)
    questions = questions.filter(scope.pull_requests_q("pull_request__"))
    answered = ~Q(answer="")
    keys = MergeQuestion.Answer.values
    found = questions.aggregate(
        asked=Count("pk", filter=Q(status=MergeQuestion.Status.ASKED)),
        not_asked=Count("pk", filter=Q(status=MergeQuestion.Status.NOT_ASKED)),
        answered=Count("pk", filter=answered),
        people=Count("user", filter=answered, distinct=True),
        **{f"answer_{key}": Count("pk", filter=Q(answer=key)) for key in keys},
    )
    shown = found["people"] >= SURVEY_MIN_PEOPLE
    return {
        "asked": found["asked"],
        "answered": found["answered"],
        "response_rate": _share(found["answered"], found["asked"]),
        "answers": {key: found[f"answer_{key}"] for key in keys} if shown else None,
        "people_answered": found["people"],
        "min_people": SURVEY_MIN_PEOPLE,
        "not_asked": found["not_asked"],
    }


# --- drill-down --------------------------------------------------------------

FIGURES = {
    "opened": "opened in the period",
    "merged": "merged in the period",
    "closed_unmerged": "closed without merging in the period",
    "open_now": "open now",
    "first_review": "first reviewed in the period",
    "reverts": "reverts merged in the period",
    "hotfixes": "hotfixes merged in the period",
    "waiting": "waiting for a first review",
    "bots": "by bots, merged in the period",
    "size": "merged in the period, of one size",
    "week": "merged in one week",
    "reviewer": "reviewed by one person in the period",
    "author": "opened by one person in the period",
    "outside_target": "outside the team's target in the period",
    "ai_assisted": "AI-assisted, merged in the period",
}

# What each list's rows are, so the page shows the columns they have: merged
# ones their phases, open ones how long they have been open or waiting.
FIGURE_ROWS = {
    "opened": "mixed",
    "closed_unmerged": "closed",
    "open_now": "open",
    "first_review": "mixed",
    "waiting": "waiting",
    "reviewer": "mixed",
    "author": "mixed",
    "outside_target": "mixed",
}
# The order of each list (the field, newest first unless it says otherwise),
# and how the page says it.
_ORDERS = {
    "-merged_at": "latest merged first",
    "-pr_created_at": "latest opened first",
    "-closed_at": "latest closed first",
    "-first_review_at": "latest first review first",
    "waiting_since": "longest waiting first",
}


def figure_rows(figure: str) -> str:
    """ "merged", "mixed", "closed", "open" or "waiting": what the rows of a list are."""
    return FIGURE_ROWS.get(figure, "merged")


def pull_requests_behind(
    *,
    team: Team,
    period: Period,
    repository_ids: list[int] | None,
    figure: str,
    value: str = "",
    scope: FigureScope | None = None,
) -> tuple[QuerySet[PullRequest], str]:
    """The pull requests a figure counts, in the list's order (``with_details``
    adds their phases and reviews), and that order in words. BadParameter for an
    unknown figure or value."""
    scope = _default_scope(team, period, repository_ids, scope)
    queryset = _scoped(scope)
    merged_in = _in("merged_at", period) & Q(pr_created_at__isnull=False)
    order = "-merged_at"
    if figure == "opened":
        queryset, order = queryset.filter(HUMAN, _in("pr_created_at", period)), "-pr_created_at"
    elif figure == "merged":
        queryset = queryset.filter(HUMAN, merged_in)
    elif figure == "closed_unmerged":
        queryset = queryset.filter(HUMAN, _in("closed_at", period), state=PullRequest.State.CLOSED)
        order = "-closed_at"
    elif figure == "open_now":
        queryset = queryset.filter(HUMAN, state=PullRequest.State.OPEN)
        order = "-pr_created_at"
    elif figure == "first_review":
        queryset = queryset.filter(HUMAN, _in("first_review_at", period))
        order = "-first_review_at"
    elif figure in ("reverts", "hotfixes"):
        flag = "is_revert" if figure == "reverts" else "is_hotfix"
        queryset = queryset.filter(HUMAN, merged_in, **{flag: True})
    elif figure == "waiting":
        ids = waiting_for_review(scope=scope).values("id")
        queryset = queryset.filter(id__in=ids).annotate(
            waiting_since=Coalesce("ready_for_review_at", "pr_created_at")
        )
        order = "waiting_since"
    elif figure == "bots":
        queryset = queryset.filter(merged_in, author__is_bot=True)
    elif figure == "ai_assisted":
        queryset = figures_ai.ai_population(queryset, period=period).filter(is_ai_assisted=True)
    elif figure == "size":
        if value not in dict(SIZE_BUCKETS):
            raise BadParameter("'value' must be one of " + ", ".join(dict(SIZE_BUCKETS)) + ".")
        queryset = queryset.filter(HUMAN, merged_in).alias(size_bucket=_size_bucket())
        queryset = queryset.filter(size_bucket=value)
    elif figure == "week":
        week = _parse_week(value)
        start = datetime.combine(week, datetime.min.time(), tzinfo=period.tzinfo)
        queryset = queryset.filter(
            HUMAN,
            merged_in,
            merged_at__gte=start,
            merged_at__lt=datetime.combine(
                week + timedelta(days=7), datetime.min.time(), tzinfo=period.tzinfo
            ),
        )
    elif figure == "reviewer":
        if not value or len(value) > 100 or "\x00" in value:
            raise BadParameter("'value' must be a reviewer's login.")
        reviewed = _reviews_in(scope, period).filter(
            pull_request=OuterRef("pk"), reviewer__login=value
        )
        queryset, order = queryset.filter(Exists(reviewed)), "-pr_created_at"
    elif figure == "author":
        if not value or len(value) > 100 or "\x00" in value:
            raise BadParameter("'value' must be an author's login.")
        queryset = queryset.filter(_in("pr_created_at", period), author__login=value)
        order = "-pr_created_at"
    elif figure == "outside_target":
        queryset, order = pull_requests_outside_target(scope=scope, metric=value)
    else:
        raise BadParameter("Unknown figure; one of " + ", ".join(FIGURES) + ".")
    ordered = queryset.order_by(
        F(order.lstrip("-")).desc(nulls_last=True) if order.startswith("-") else order, "-id"
    )
    return ordered, _ORDERS[order]


def with_details(queryset: QuerySet[PullRequest]) -> QuerySet[PullRequest]:
    """The pull requests with their repository, author, reviews and how many
    reviews were submitted (``review_count``). The count groups by pull request,
    so a page applies this to its own rows only."""
    reviews = PRReview.objects.select_related("reviewer").order_by("submitted_at")
    return (
        queryset.annotate(
            review_count=Count(
                "reviews",
                filter=Q(reviews__submitted_at__isnull=False)
                & ~Q(reviews__state=PRReview.State.PENDING),
            )
        )
        .select_related("repository", "author__user", "reverts")
        .prefetch_related(Prefetch("reviews", queryset=reviews))
    )


def _parse_week(value: str) -> date:
    try:
        if len(value) != 10 or not value.isascii():
            raise ValueError
        week = date.fromisoformat(value)
    except ValueError:
        raise BadParameter("'value' must be a week's Monday, YYYY-MM-DD.") from None
    if week.weekday() != 0:
        raise BadParameter("'value' must be a week's Monday, YYYY-MM-DD.")
    # The week's end must be a date too (9999-12-27 + 7 days is not).
    if not EARLIEST <= week <= LATEST:
        raise BadParameter(f"'value' must be a week between {EARLIEST} and {LATEST}.")
    return week

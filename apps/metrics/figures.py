"""Selectors for the dashboard and the JSON API: every figure of a period,
aggregated in the database with a fixed number of queries whatever the number
of pull requests (see docs/metrics.md for each definition).

Figures about merged pull requests come from one per-pull-request query (its
phases, size, week), wrapped in an outer aggregate: the first approval is a
MIN over the reviews, grouped by pull request, so each phase is computed once.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.db import connections
from django.db.models import (
    Case,
    CharField,
    Count,
    DateField,
    Exists,
    F,
    FloatField,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Greatest, Least, Trunc
from django.db.models.lookups import LessThanOrEqual

from apps.metrics.dbfunctions import EpochSeconds, PercentileCont, percentile_sql
from apps.metrics.models import PRReview, PullRequest
from apps.metrics.periods import BadParameter, Period, Request
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
    """Full names of the team's repositories (its installations' and its pull
    requests'), sorted, each once."""
    repository_model = PullRequest._meta.get_field("repository").related_model
    names = (
        repository_model.objects.filter(Q(installation__team=team) | Q(pull_requests__team=team))
        .values_list("full_name", flat=True)
        .distinct()
    )
    return sorted(set(names))


def repository_ids_for_team(*, team: Team, full_name: str) -> list[int] | None:
    """Ids of the team's repository named ``full_name`` (None for every
    repository when the name is empty); BadParameter for one the team lacks."""
    if not full_name:
        return None
    repository_model = PullRequest._meta.get_field("repository").related_model
    ids = list(
        repository_model.objects.filter(
            Q(installation__team=team) | Q(pull_requests__team=team), full_name=full_name
        )
        .values_list("id", flat=True)
        .distinct()
    )
    if not ids:
        raise BadParameter(f"Unknown repository '{full_name}' for this team.")
    return ids


def _scoped(team: Team, repository_ids: list[int] | None) -> QuerySet[PullRequest]:
    queryset = PullRequest.objects.filter(team=team)
    if repository_ids is not None:
        queryset = queryset.filter(repository_id__in=repository_ids)
    return queryset


def _in(field: str, period: Period) -> Q:
    return Q(**{f"{field}__gte": period.start_at, f"{field}__lt": period.end_at})


def with_phases(queryset: QuerySet[PullRequest]) -> QuerySet[PullRequest]:
    """Annotates each pull request with its first approval and, when merged,
    its four phases in hours (``coding_hours``, ``pickup_hours``,
    ``review_hours``, ``merge_hours``) that sum to ``cycle_hours``.

    Boundaries: ready (or opened, if never a draft), first review, first
    approval, merged. One that did not happen before the merge is skipped and
    its time goes to the next phase that did; one out of order is moved up to
    the boundary before it, so the four always sum to merged - opened."""
    approval = (
        Q(reviews__state=PRReview.State.APPROVED, reviews__submitted_at__isnull=False)
        & (Q(reviews__reviewer__isnull=True) | Q(reviews__reviewer__is_bot=False))
        & (
            Q(author__isnull=True)
            | Q(reviews__reviewer__isnull=True)
            | Q(reviews__reviewer_id__lt=F("author_id"))
            | Q(reviews__reviewer_id__gt=F("author_id"))
        )
    )
    queryset = queryset.annotate(
        first_approved_at=Min("reviews__submitted_at", filter=approval),
        review_count=Count(
            "reviews",
            distinct=True,
            filter=Q(reviews__submitted_at__isnull=False) & ~Q(reviews__state="pending"),
        ),
    )
    opened = EpochSeconds(F("pr_created_at"))
    merged = EpochSeconds(F("merged_at"))
    ready = EpochSeconds(F("ready_for_review_at"))
    reviewed = EpochSeconds(F("first_review_at"))
    approved = EpochSeconds(F("first_approved_at"))
    zero = Value(0.0, output_field=FloatField())

    ready_at = Least(Greatest(Coalesce(ready, opened), opened), merged)
    review_happened = LessThanOrEqual(reviewed, merged)
    reviewed_at = Greatest(reviewed, ready_at)
    before_approval = Case(
        When(review_happened, then=reviewed_at), default=ready_at, output_field=FloatField()
    )
    approval_happened = LessThanOrEqual(approved, merged)
    approved_at = Greatest(approved, before_approval)
    before_merge = Case(
        When(approval_happened, then=approved_at),
        default=before_approval,
        output_field=FloatField(),
    )
    phases = {
        "coding_hours": ready_at - opened,
        "pickup_hours": Case(
            When(review_happened, then=reviewed_at - ready_at),
            default=zero,
            output_field=FloatField(),
        ),
        "review_hours": Case(
            When(approval_happened, then=approved_at - before_approval),
            default=zero,
            output_field=FloatField(),
        ),
        "merge_hours": merged - before_merge,
        "cycle_hours": merged - opened,
    }
    is_merged = Q(merged_at__isnull=False, pr_created_at__isnull=False)
    return queryset.annotate(
        **{
            name: Case(
                When(is_merged, then=expression / Value(3600.0)),
                default=None,
                output_field=FloatField(),
            )
            for name, expression in phases.items()
        }
    )


def _size_bucket() -> Case:
    size = F("additions") + F("deletions")
    return Case(
        When(Q(additions__isnull=True) | Q(deletions__isnull=True), then=Value("unknown")),
        When(LessThanOrEqual(size, 19), then=Value("under_20")),
        When(LessThanOrEqual(size, 99), then=Value("20_100")),
        When(LessThanOrEqual(size, 249), then=Value("100_250")),
        When(LessThanOrEqual(size, 500), then=Value("250_500")),
        default=Value("over_500"),
        output_field=CharField(),
    )


def _merged_rows(
    team: Team, period: Period, repository_ids: list[int] | None
) -> QuerySet[PullRequest]:
    """One row per person's pull request merged in the period, with its phases."""
    queryset = _scoped(team, repository_ids).filter(
        HUMAN, _in("merged_at", period), pr_created_at__isnull=False
    )
    return (
        with_phases(queryset)
        .annotate(
            week=Trunc("merged_at", "week", output_field=DateField(), tzinfo=period.tzinfo),
            size_bucket=_size_bucket(),
        )
        .values(
            "cycle_hours",
            "coding_hours",
            "pickup_hours",
            "review_hours",
            "merge_hours",
            "is_revert",
            "is_hotfix",
            "week",
            "size_bucket",
        )
    )


def _aggregate_merged(
    rows: QuerySet[Any], *, group_by: str | None, using: str
) -> list[dict[str, Any]]:
    """Counts, mean phases and cycle-time percentiles of the rows, per group."""
    connection = connections[using]
    vendor = connection.vendor
    quote = connection.ops.quote_name
    inner_sql, params = rows.query.get_compiler(using=using).as_sql()
    cycle = f"merged.{quote('cycle_hours')}"
    select = [
        "COUNT(*)",
        f"AVG({cycle})",
        percentile_sql(vendor=vendor, column=cycle, fraction=0.5),
        percentile_sql(vendor=vendor, column=cycle, fraction=0.9),
        *(f"AVG(merged.{quote(name)})" for name in _PHASES),
        f"SUM(CASE WHEN merged.{quote('is_revert')} THEN 1 ELSE 0 END)",
        f"SUM(CASE WHEN merged.{quote('is_hotfix')} THEN 1 ELSE 0 END)",
    ]
    keys = ["merged", "cycle_mean", "cycle_median", "cycle_p90", *_PHASES, "reverts", "hotfixes"]
    group = ""
    if group_by is not None:
        column = f"merged.{quote(group_by)}"
        select.insert(0, column)
        keys.insert(0, group_by)
        group = f" GROUP BY {column} ORDER BY {column}"
    sql = f"SELECT {', '.join(select)} FROM ({inner_sql}) merged{group}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [dict(zip(keys, row, strict=True)) for row in cursor.fetchall()]


_PHASES = ("coding_hours", "pickup_hours", "review_hours", "merge_hours")


def _share(count: int, total: int) -> float | None:
    return round(count / total, 4) if total else None


def period_summary(
    *, team: Team, period: Period, repository_ids: list[int] | None
) -> dict[str, Any]:
    """The period's headline figures (what the dashboard compares with the
    previous period): three queries."""
    counts = _scoped(team, repository_ids).aggregate(
        opened=Count("id", filter=HUMAN & _in("pr_created_at", period)),
        closed_unmerged=Count(
            "id", filter=HUMAN & Q(state=PullRequest.State.CLOSED) & _in("closed_at", period)
        ),
        open_now=Count("id", filter=HUMAN & Q(state=PullRequest.State.OPEN)),
        first_reviewed=Count(
            "id", filter=HUMAN & _in("first_review_at", period) & Q(review_time_hours__isnull=False)
        ),
        first_review_median=PercentileCont(
            "review_time_hours", 0.5, filter=HUMAN & _in("first_review_at", period)
        ),
        first_review_p90=PercentileCont(
            "review_time_hours", 0.9, filter=HUMAN & _in("first_review_at", period)
        ),
        bots_opened=Count("id", filter=Q(author__is_bot=True) & _in("pr_created_at", period)),
        bots_merged=Count("id", filter=Q(author__is_bot=True) & _in("merged_at", period)),
    )
    rows = _merged_rows(team, period, repository_ids)
    merged = _aggregate_merged(rows, group_by=None, using=rows.db)[0]
    merged_count = int(merged["merged"] or 0)
    reverts = int(merged["reverts"] or 0)
    hotfixes = int(merged["hotfixes"] or 0)
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
            "median": _round(merged["cycle_median"]),
            "p90": _round(merged["cycle_p90"]),
            "mean": _round(merged["cycle_mean"]),
        },
        "time_to_first_review_hours": {
            "median": _round(counts["first_review_median"]),
            "p90": _round(counts["first_review_p90"]),
            "count": counts["first_reviewed"],
        },
        "phases_hours": {name.removesuffix("_hours"): _round(merged[name]) for name in _PHASES},
        "reverts": {"count": reverts, "share": _share(reverts, merged_count)},
        "hotfixes": {"count": hotfixes, "share": _share(hotfixes, merged_count)},
        "bots": {"opened": counts["bots_opened"], "merged": counts["bots_merged"]},
    }


def _week_start(value: Any) -> date:
    """The week's Monday as the raw query gives it: a date or a timestamp on
    PostgreSQL, text on SQLite."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _weekly(team: Team, period: Period, repository_ids: list[int] | None) -> list[dict[str, Any]]:
    rows = _merged_rows(team, period, repository_ids)
    found = {
        _week_start(row["week"]): row
        for row in _aggregate_merged(rows, group_by="week", using=rows.db)
    }
    week = period.start - timedelta(days=period.start.weekday())
    weeks = []
    while week <= period.end:
        row = found.get(week, {})
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


def _sizes(team: Team, period: Period, repository_ids: list[int] | None) -> list[dict[str, Any]]:
    rows = _merged_rows(team, period, repository_ids)
    found = {
        row["size_bucket"]: row
        for row in _aggregate_merged(rows, group_by="size_bucket", using=rows.db)
    }
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


def _reviews_in(team: Team, period: Period, repository_ids: list[int] | None) -> QuerySet[PRReview]:
    """People's reviews submitted in the period, on people's pull requests, not
    their own."""
    reviews = PRReview.objects.filter(
        _in("submitted_at", period),
        team=team,
        state__in=REVIEW_STATES,
        reviewer__isnull=False,
        reviewer__is_bot=False,
    ).filter(
        Q(pull_request__author__isnull=True)
        | (
            Q(pull_request__author__is_bot=False)
            & (
                Q(reviewer_id__lt=F("pull_request__author_id"))
                | Q(reviewer_id__gt=F("pull_request__author_id"))
            )
        )
    )
    if repository_ids is not None:
        reviews = reviews.filter(pull_request__repository_id__in=repository_ids)
    return reviews


def _reviewers(
    team: Team, period: Period, repository_ids: list[int] | None
) -> list[dict[str, Any]]:
    rows = (
        _reviews_in(team, period, repository_ids)
        .values("reviewer_id", "reviewer__login")
        .annotate(
            reviews=Count("id"),
            approvals=Count("id", filter=Q(state=PRReview.State.APPROVED)),
            pull_requests=Count("pull_request_id", distinct=True),
        )
        .order_by("-reviews", "reviewer__login")[:REVIEWERS_LIMIT]
    )
    return [
        {
            "login": row["reviewer__login"],
            "reviews": row["reviews"],
            "approvals": row["approvals"],
            "pull_requests": row["pull_requests"],
        }
        for row in rows
    ]


def _review_pairs(
    team: Team, period: Period, repository_ids: list[int] | None
) -> list[dict[str, Any]]:
    rows = (
        _reviews_in(team, period, repository_ids)
        .values("reviewer__login", "pull_request__author__login")
        .annotate(reviews=Count("id"))
        .order_by("-reviews", "reviewer__login", "pull_request__author__login")[:REVIEWERS_LIMIT]
    )
    return [
        {
            "reviewer": row["reviewer__login"],
            "author": row["pull_request__author__login"],
            "reviews": row["reviews"],
        }
        for row in rows
    ]


def waiting_for_review(*, team: Team, repository_ids: list[int] | None) -> QuerySet[PullRequest]:
    """People's open, ready pull requests with no first review yet, longest
    waiting first (waiting since they were opened, or left draft)."""
    return (
        _scoped(team, repository_ids)
        .filter(HUMAN, state=PullRequest.State.OPEN, is_draft=False, first_review_at__isnull=True)
        .annotate(waiting_since=Coalesce("ready_for_review_at", "pr_created_at"))
        .filter(waiting_since__isnull=False)
        .select_related("repository", "author")
        .order_by("waiting_since", "id")
    )


def team_figures(
    *, team: Team, request: Request, repository_ids: list[int] | None, now: datetime
) -> dict[str, Any]:
    """Every figure of the request's period (the JSON API's document), and the
    headline figures of the previous period of the same length."""
    period = request.period
    figures = period_summary(team=team, period=period, repository_ids=repository_ids)
    figures["period"]["days"] = period.days
    figures["period"]["repository"] = request.repository or None
    figures["weekly"] = _weekly(team, period, repository_ids)
    figures["sizes"] = _sizes(team, period, repository_ids)
    figures["reviewers"] = _reviewers(team, period, repository_ids)
    figures["review_pairs"] = _review_pairs(team, period, repository_ids)
    figures["waiting_for_review"] = [
        {
            "repository": pull_request.repository.full_name if pull_request.repository else None,
            "number": pull_request.number,
            "title": pull_request.title,
            "author": pull_request.author.login if pull_request.author else None,
            "html_url": pull_request.html_url,
            "hours_waiting": _round(
                max((now - pull_request.waiting_since).total_seconds(), 0.0) / 3600, 1
            ),
        }
        for pull_request in waiting_for_review(team=team, repository_ids=repository_ids)[
            :WAITING_LIMIT
        ]
    ]
    figures["previous"] = period_summary(
        team=team, period=period.previous(), repository_ids=repository_ids
    )
    return figures


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
}


def pull_requests_behind(
    *,
    team: Team,
    period: Period,
    repository_ids: list[int] | None,
    figure: str,
    value: str = "",
) -> QuerySet[PullRequest]:
    """The pull requests a figure counts, with phases and reviews loaded.
    BadParameter for an unknown figure or value."""
    queryset = _scoped(team, repository_ids)
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
        ids = waiting_for_review(team=team, repository_ids=repository_ids).values("id")
        queryset, order = queryset.filter(id__in=ids), "pr_created_at"
    elif figure == "bots":
        queryset = queryset.filter(merged_in, author__is_bot=True)
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
        reviewed = _reviews_in(team, period, repository_ids).filter(
            pull_request=OuterRef("pk"), reviewer__login=value
        )
        queryset, order = queryset.filter(Exists(reviewed)), "-pr_created_at"
    else:
        raise BadParameter("Unknown figure; one of " + ", ".join(FIGURES) + ".")
    reviews = PRReview.objects.filter(team=team).select_related("reviewer").order_by("submitted_at")
    return (
        with_phases(queryset)
        .select_related("repository", "author")
        .prefetch_related(Prefetch("reviews", queryset=reviews))
        .order_by(
            F(order.lstrip("-")).desc(nulls_last=True) if order.startswith("-") else order, "-id"
        )
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
    return week

"""The AI figures of a period: AI-assisted pull requests beside the others
(docs/ai.md, docs/metrics.md "AI-assisted pull requests (`ai`)").

Over the pull requests merged in the period whose author is a person or an
AI agent (other bots, dependabot and the like, are left out as everywhere),
grouped by the stored `is_ai_assisted` (`services/ai_signals.py`): counts,
share, cycle time and time to first review (median, p90 of stored columns),
size, review rounds, revert and hotfix rates, the change failure rate of
those a production deployment shipped; the AI reviews of the period;
and, only where the merge question's privacy threshold lets answers show
(`figures.ai_survey_figures`), the share self-reported, the share detected or
self-reported, and how often detection and the author's answer agree.

Each function takes the pull requests already scoped (a team, its
repositories, and any further filter: a squad, a person), so filters are the
caller's. Three queries, whatever the number of pull requests."""

from __future__ import annotations

from typing import Any

from django.db.models import Avg, BigIntegerField, Count, Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Cast, Lower

from apps.metrics.dbfunctions import PercentileCont
from apps.metrics.models import PRReview, PullRequest, TeamMember
from apps.metrics.periods import Period
from apps.metrics.services.ai_rules import AIRules
from apps.teams.models import Team

DIGITS = 3
# The answers that say some of it was written with AI.
AI_ANSWERS = ("little", "half", "most", "all")
GROUPS = ("assisted", "other")


def _round(value: float | None, digits: int = DIGITS) -> float | None:
    return None if value is None else round(float(value), digits)


def _share(count: int, total: int) -> float | None:
    return round(count / total, 4) if total else None


def _in(field: str, period: Period) -> Q:
    return Q(**{f"{field}__gte": period.start_at, f"{field}__lt": period.end_at})


def ai_population(pull_requests: QuerySet[PullRequest], *, period: Period) -> QuerySet[PullRequest]:
    """The pull requests the AI figures compare: merged in the period, opened
    by a person or an AI agent (a bot's pull request counts only when it has
    a signal: an agent's account is one)."""
    author = Q(author__isnull=True) | Q(author__is_bot=False) | Q(is_ai_assisted=True)
    return pull_requests.filter(author, _in("merged_at", period), pr_created_at__isnull=False)


def ai_pull_request_figures(
    pull_requests: QuerySet[PullRequest],
    *,
    period: Period,
    survey_shown: bool,
    cycle_time: str = "cycle_time_hours",
    review_time: str = "review_time_hours",
    found: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The figures of the period's merged pull requests, assisted and other, in
    one query. ``survey_shown``: whether the merge question's answers may show
    (its privacy threshold, `figures.ai_survey_figures`); ``cycle_time`` and
    ``review_time``: the stored columns in the hours asked for (calendar or
    working, `scope.FigureScope.column`). ``found``: the aggregates, already
    read from the day facts (`figures_packed.packed_merged_figures`), or None to read
    them from the rows."""
    if found is None:
        found = _ai_found(
            pull_requests, period=period, cycle_time=cycle_time, review_time=review_time
        )
    return _ai_document(found, survey_shown=survey_shown)


# The aggregates of `_ai_found`, for each group, named `<group>__<figure>`.
AI_GROUP_FIGURES = (
    "merged",
    "cycle_median",
    "cycle_p90",
    "review_median",
    "review_p90",
    "size_median",
    "rounds_mean",
    "reverted",
    "hotfixes",
    "deployed",
    "deploy_failed",
)


def _ai_found(
    pull_requests: QuerySet[PullRequest], *, period: Period, cycle_time: str, review_time: str
) -> dict[str, Any]:
    reverted = PullRequest.objects.filter(reverts=OuterRef("pk"), merged_at__isnull=False)
    rows = ai_population(pull_requests, period=period).annotate(
        reverted=Exists(reverted),
        # As a bigint: two int columns' sum can pass int's range.
        lines=Cast("additions", BigIntegerField()) + F("deletions"),
        # A join, not a subquery per aggregate that reads it: at most one
        # question per pull request (a database constraint).
        answer=F("merge_questions__answer"),
    )
    groups = {"assisted": Q(is_ai_assisted=True), "other": Q(is_ai_assisted=False)}
    aggregates: dict[str, Any] = {"merged": Count("pk")}
    for name, group in groups.items():
        reviewed = group & Q(**{f"{review_time}__isnull": False})
        sized = group & Q(additions__isnull=False, deletions__isnull=False)
        aggregates.update(
            {
                f"{name}__merged": Count("pk", filter=group),
                f"{name}__cycle_median": PercentileCont(cycle_time, 0.5, filter=group),
                f"{name}__cycle_p90": PercentileCont(cycle_time, 0.9, filter=group),
                f"{name}__review_median": PercentileCont(review_time, 0.5, filter=reviewed),
                f"{name}__review_p90": PercentileCont(review_time, 0.9, filter=reviewed),
                f"{name}__size_median": PercentileCont("lines", 0.5, filter=sized),
                # Stored on the row by the write path (`formulas.py`): a subquery
                # per pull request here cost 186 ms in 90 days at 1,000,000.
                f"{name}__rounds_mean": Avg("review_rounds", filter=group),
                f"{name}__reverted": Count("pk", filter=group & Q(reverted=True)),
                f"{name}__hotfixes": Count("pk", filter=group & Q(is_hotfix=True)),
                # Shipped to production, and in a deployment that failed.
                f"{name}__deployed": Count("pk", filter=group & Q(deployment__isnull=False)),
                f"{name}__deploy_failed": Count("pk", filter=group & Q(deployment__failed=True)),
            }
        )
    answered = ~Q(answer="") & Q(answer__isnull=False)
    said_ai = Q(answer__in=AI_ANSWERS)
    aggregates.update(
        answered=Count("pk", filter=answered),
        said_ai=Count("pk", filter=said_ai),
        either=Count("pk", filter=Q(is_ai_assisted=True) | said_ai),
        agree=Count(
            "pk",
            filter=answered
            & ((Q(is_ai_assisted=True) & said_ai) | (Q(is_ai_assisted=False) & Q(answer="none"))),
        ),
    )
    return rows.aggregate(**aggregates)


def _ai_document(found: dict[str, Any], *, survey_shown: bool) -> dict[str, Any]:
    merged = found["merged"]
    assisted = found["assisted__merged"]

    def by_group(figure: str, *, digits: int = DIGITS) -> dict[str, Any]:
        return {name: _round(found[f"{name}__{figure}"], digits) for name in GROUPS}

    def rate(figure: str) -> dict[str, float | None]:
        return {
            name: _share(found[f"{name}__{figure}"], found[f"{name}__merged"]) for name in GROUPS
        }

    return {
        "merged": merged,
        "assisted": assisted,
        "share": _share(assisted, merged),
        "cycle_time_hours": {
            name: {
                "median": _round(found[f"{name}__cycle_median"]),
                "p90": _round(found[f"{name}__cycle_p90"]),
            }
            for name in GROUPS
        },
        "first_review_hours": {
            name: {
                "median": _round(found[f"{name}__review_median"]),
                "p90": _round(found[f"{name}__review_p90"]),
            }
            for name in GROUPS
        },
        "size_lines_median": by_group("size_median", digits=1),
        "review_rounds_mean": by_group("rounds_mean", digits=2),
        "revert_rate": rate("reverted"),
        "hotfix_rate": rate("hotfixes"),
        "change_failure_rate": {
            name: _share(found[f"{name}__deploy_failed"], found[f"{name}__deployed"])
            for name in GROUPS
        },
        "self_reported": {
            "shown": survey_shown,
            # Each null unless the merge question's answers may show.
            "answered": found["answered"] if survey_shown else None,
            "share": _share(found["said_ai"], merged) if survey_shown else None,
            "either_share": _share(found["either"], merged) if survey_shown else None,
            "agreement": _share(found["agree"], found["answered"]) if survey_shown else None,
        },
    }


def ai_reviews_count(
    pull_requests: QuerySet[PullRequest], *, team: Team, period: Period, rules: AIRules
) -> int:
    """Reviews submitted in the period on these pull requests (of ``team``) by
    an AI reviewer's account (the rules' `reviewer_logins`): the team's AI
    reviewers first, then their reviews through the team's index of reviews by
    time. Counted apart: an AI reviewer is a bot, so its review is never a
    first review nor review load (`rules.py`)."""
    reviewers = list(
        TeamMember.objects.filter(team=team)
        .alias(login_lower=Lower("login"))
        .filter(login_lower__in=sorted(rules.reviewer_logins))
        .values_list("pk", flat=True)
    )
    if not reviewers:
        # Most teams: no review to count. (Joined to every review of the
        # period instead, the planner read every team's reviews.)
        return 0
    return (
        PRReview.objects.filter(
            _in("submitted_at", period),
            team=team,
            reviewer_id__in=reviewers,
            pull_request__in=pull_requests.values("pk"),
        )
        .exclude(state=PRReview.State.PENDING)
        .count()
    )

"""The dashboard's delivery section (DORA's five keys, the weekly trend and
the latest deployments): one tag, `{% delivery_section %}`, so the dashboard
includes it in one line and its view stays as it is."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django import template

from apps.metrics.figures import repository_ids_for_team
from apps.metrics.figures_deployments import DORA_BANDS, LIST_LIMIT, deployments_in_period
from apps.metrics.periods import Period

register = template.Library()


def _change(current: float | None, previous: float | None) -> dict[str, Any] | None:
    """As the dashboard's other tiles: the change from the previous period."""
    if current is None or previous is None:
        return None
    difference = current - previous
    percent = round(100 * difference / previous) if previous else None
    return {"previous": previous, "difference": round(difference, 4), "percent": percent}


def delivery_tiles(deployments: dict[str, Any]) -> list[dict[str, Any]]:
    """The five keys as tiles: value, small print, change, DORA's levels."""
    previous = deployments["previous"]
    lead, recovery = deployments["lead_time_hours"], deployments["recovery_time_hours"]
    return [
        {
            "key": "deployment_frequency",
            "label": "Deployments · per week",
            "value": f"{deployments['per_week']:g}",
            "sub": f"{deployments['count']} in the period",
            "change": _change(deployments["count"], previous["count"]),
            "lower_is_better": False,
        },
        {
            "key": "lead_time",
            "label": "Change lead time · median",
            "hours": lead["median"],
            "sub_hours": lead["p90"],
            "sub": f"{lead['count']} pull requests"
            + (f", {lead['from_opening']} from their opening" if lead["from_opening"] else ""),
            "change": _change(lead["median"], previous["lead_time_hours"]["median"]),
            "lower_is_better": True,
        },
        {
            "key": "change_failure_rate",
            "label": "Change fail rate",
            "percent": deployments["change_failure_rate"],
            "sub": f"{deployments['failed']} failed of {deployments['attempts']}",
            "change": _change(deployments["change_failure_rate"], previous["change_failure_rate"]),
            "lower_is_better": True,
        },
        {
            "key": "recovery_time",
            "label": "Recovery time · median",
            "hours": recovery["median"],
            "sub_hours": recovery["p90"],
            "sub": f"{recovery['count']} recovered",
            "change": _change(recovery["median"], previous["recovery_time_hours"]["median"]),
            "lower_is_better": True,
        },
        {
            "key": "rework_rate",
            "label": "Rework rate",
            "percent": deployments["rework_rate"],
            "sub": f"{deployments['rework']} reverts, hotfixes or rollbacks",
            "change": _change(deployments["rework_rate"], previous["rework_rate"]),
            "lower_is_better": True,
        },
    ]


@register.filter
def moment(value: str | None) -> str:
    """An ISO 8601 time of the API's rows, as the pages write one: 2025-01-06 14:05."""
    if not value:
        return "—"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return "—"
    return parsed.strftime("%Y-%m-%d %H:%M")


@register.inclusion_tag("metrics/_delivery.html", takes_context=True)
def delivery_section(context: template.Context) -> dict[str, Any]:
    team, figures = context["team"], context["figures"]
    shown = figures["period"]
    period = Period(
        start=date.fromisoformat(shown["from"]),
        end=date.fromisoformat(shown["to"]),
        time_zone=shown["time_zone"],
    )
    repository_ids = repository_ids_for_team(team=team, full_name=shown["repository"] or "")
    deployments = figures["deployments"]
    weekly = deployments["weekly"]
    most = max([week["deployments"] for week in weekly] + [1])
    return {
        "team": team,
        "query": context.get("query", ""),
        "deployments": deployments,
        "tiles": delivery_tiles(deployments),
        "bands": [(key, DORA_BANDS.get(key, [])) for key in DORA_BANDS],
        "weekly": [{**week, "share": week["deployments"] / most} for week in weekly],
        "rows": deployments_in_period(
            team=team, period=period, repository_ids=repository_ids, limit=LIST_LIMIT // 2
        ),
    }

"""``{% next_step_for team %}``: the next-step panel on any team page."""

from __future__ import annotations

from typing import Any

from django import template

from apps.teams.models import Team
from apps.web.selectors import team_next_step

register = template.Library()


@register.inclusion_tag("web/next_step.html", takes_context=True)
def next_step_for(context: dict[str, Any], team: Team) -> dict[str, Any]:
    return {
        "next_step": team_next_step(team=team),
        "membership": context.get("membership"),
        "team": team,
        # An inclusion tag's template sees only what it is given.
        "local_trial": context.get("local_trial", False),
    }

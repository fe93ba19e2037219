from __future__ import annotations

from typing import Any

from django import template

from apps.metrics.models import MergeQuestion
from apps.metrics.services.ai_signals import ai_signals_describe

register = template.Library()


@register.filter
def hours(value: float | None, kind: str = "calendar") -> str:
    """A duration in hours, readable: 45 min, 5.2 h, 3.1 d; an em dash for none.
    Working hours (``kind`` "working") stay in hours: a day of them is not 24."""
    if value is None:
        return "—"
    value = float(value)
    if value < 1:
        return f"{round(value * 60)} min"
    if value < 48 or kind == "working":
        return f"{value:.1f} h"
    return f"{value / 24:.1f} d"


@register.filter
def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


@register.inclusion_tag("metrics/change.html")
def change(value: dict[str, Any] | None, lower_is_better: bool = False) -> dict[str, Any]:
    """The small print under a figure: its change from the previous period."""
    if value is None:
        return {"text": "no previous figure", "tone": ""}
    difference = value["difference"]
    if difference == 0:
        return {"text": "same as previous period", "tone": ""}
    arrow = "▲" if difference > 0 else "▼"
    better = (difference < 0) if lower_is_better else (difference > 0)
    amount = f"{value['percent']:+d}%" if value["percent"] is not None else f"{difference:+g}"
    return {"text": f"{arrow} {amount} vs previous", "tone": "ok" if better else "bad"}


@register.filter
def answer_rows(answers: dict[str, int] | None) -> list[dict[str, Any]]:
    """The merge question's answers by option (``figures.ai.survey.answers``),
    in the order they are offered, with their labels and share of the answers."""
    if not answers:
        return []
    total = sum(answers.values())
    return [
        {
            "key": key,
            "label": label,
            "count": answers.get(key, 0),
            "share": answers.get(key, 0) / total if total else 0.0,
        }
        for key, label in MergeQuestion.Answer.choices
    ]


@register.filter
def ai_signals_text(signals: list[dict[str, str]]) -> str:
    """A pull request's AI signals in one line, as the CSV's `ai_assisted` column."""
    return ai_signals_describe(signals)

"""A team admin's additions to the AI rules (`ai_rules.py`), saved and then
reaching every pull request the team has: changing them starts (or joins) a
recompute run for the team, which derives the signals again from what is
stored (docs/ai.md)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

from django.db import transaction

from apps.metrics.models import RecomputeRun, TeamAIRules
from apps.metrics.services.ai_rules import MAX_EXTRA, MAX_LENGTH
from apps.metrics.services.recompute import recompute_queue
from apps.teams.models import Team

# The rules a team extends, each with how a value must look.
RULE_FIELDS = ("agent_logins", "reviewer_logins", "co_author_names", "markers", "labels")
# A GitHub login (an app's account with its "[bot]").
_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?", re.ASCII)
LABELS = {
    "agent_logins": "AI agent accounts",
    "reviewer_logins": "AI reviewers",
    "co_author_names": "co-author names",
    "markers": "marker lines",
    "labels": "labels",
}


class AIRulesRefused(ValueError):
    """A value that cannot be a rule; str(error) says which and why."""


def _values(field: str, raw: object) -> list[str]:
    if isinstance(raw, str):
        raw = raw.splitlines()
    if not isinstance(raw, Sequence) or any(not isinstance(v, str) for v in raw):
        raise AIRulesRefused(f"{LABELS[field]}: give one value a line.")
    values: dict[str, None] = {}
    for value in (v.strip() for v in raw):
        if not value:
            continue
        if len(value) > MAX_LENGTH:
            raise AIRulesRefused(f"{LABELS[field]}: at most {MAX_LENGTH} characters a value.")
        if any(unicodedata.category(c).startswith("C") for c in value):
            raise AIRulesRefused(f"{LABELS[field]}: no control characters.")
        if field.endswith("_logins") and not _LOGIN.fullmatch(value):
            raise AIRulesRefused(
                f"{LABELS[field]}: {value!r} is no GitHub login (letters, digits and dashes, "
                "an app's ending in [bot])."
            )
        if field == "reviewer_logins" and not value.endswith("[bot]"):
            # An AI reviewer is a GitHub App, so a bot: that is what keeps its
            # reviews out of first reviews and review load (apps/metrics/rules.py).
            raise AIRulesRefused(
                f"{LABELS[field]}: {value!r} is a person's login; an AI reviewer is a "
                "GitHub App, whose login ends in [bot]."
            )
        values.setdefault(value, None)
    if len(values) > MAX_EXTRA:
        raise AIRulesRefused(f"{LABELS[field]}: at most {MAX_EXTRA} values.")
    return list(values)


def team_ai_rules_update(
    *, team: Team, rules: Mapping[str, object]
) -> tuple[TeamAIRules, RecomputeRun | None]:
    """Save the team's additions (each field a list of strings, or text with one
    value a line); a change starts a recompute run for the team once this
    commits. Raises AIRulesRefused, saving nothing, for a value that cannot be
    a rule."""
    cleaned = {field: _values(field, rules.get(field, [])) for field in RULE_FIELDS}
    with transaction.atomic():
        row, _ = TeamAIRules.objects.select_for_update().get_or_create(team=team)
        if all(getattr(row, field) == cleaned[field] for field in RULE_FIELDS):
            return row, None
        for field, values in cleaned.items():
            setattr(row, field, values)
        row.save()
        run = recompute_queue(team=team, reason="the team's AI rules changed")
    return row, run

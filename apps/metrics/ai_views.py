"""The team's AI rules page (`/teams/<slug>/ai-rules/`, admins): the defaults,
and what the team adds to them (docs/ai.md)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from apps.metrics.models import TeamAIRules
from apps.metrics.services import ai_rules
from apps.metrics.services.ai_rules_update import (
    LABELS,
    RULE_FIELDS,
    AIRulesRefused,
    team_ai_rules_update,
)
from apps.teams.access import team_admin

ADMINS_ONLY = "Only the team's admins change which pull requests count as made with AI."
DEFAULTS = {
    "agent_logins": ai_rules.DEFAULT_AGENT_LOGINS,
    "reviewer_logins": ai_rules.DEFAULT_REVIEWER_LOGINS,
    "co_author_names": ai_rules.DEFAULT_CO_AUTHOR_NAMES,
    "markers": ai_rules.DEFAULT_MARKERS,
    "labels": ai_rules.DEFAULT_LABELS,
}
HELP = {
    "agent_logins": "Pull requests they open, and commits they author, are AI-assisted.",
    "reviewer_logins": "Their reviews are AI reviews, counted apart.",
    "co_author_names": "A commit's Co-authored-by: trailer naming one (or one and more words).",
    "markers": "A line of a commit message or a description containing one.",
    "labels": "A pull request with one of these labels.",
}


@login_required
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def team_ai_rules(request: HttpRequest, team_slug: str) -> HttpResponse:
    membership = team_admin(user=request.user, team_slug=team_slug, reason=ADMINS_ONLY)
    team = membership.team
    row = TeamAIRules.objects.filter(team=team).first()
    submitted = None
    if request.method == "POST":
        submitted = {field: request.POST.get(field, "") for field in RULE_FIELDS}
        try:
            _row, run = team_ai_rules_update(team=team, rules=submitted)
        except AIRulesRefused as refused:
            messages.error(request, str(refused))
        else:
            if run is None:
                messages.info(request, "Nothing changed.")
            else:
                messages.success(
                    request,
                    "Saved. The team's pull requests are being classified again "
                    "under the new rules.",
                )
            return redirect("team_ai_rules", team_slug=team_slug)
    rules = [
        {
            "field": field,
            "label": LABELS[field],
            "help": HELP[field],
            "defaults": DEFAULTS[field],
            "added": submitted[field]
            if submitted is not None
            else "\n".join(getattr(row, field) if row is not None else []),
        }
        for field in RULE_FIELDS
    ]
    return render(
        request,
        "metrics/ai_rules.html",
        {"team": team, "membership": membership, "rules": rules},
    )

"""Sign in with GitHub: link the signed-in account to its GitHub identity
(apps/integrations/services/github_sign_in.py)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from apps.integrations.services.github_sign_in import (
    SignInRefused,
    github_sign_in_complete,
    github_sign_in_start,
)
from apps.teams.access import team_member
from github_app.errors import NotConfigured


def _callback_url(request: HttpRequest) -> str:
    """The callback GitHub sends the person back to: one of the manifest's
    ``callback_urls``, on this deployment's public URL."""
    base = settings.PUBLIC_BASE_URL or request.build_absolute_uri("/").rstrip("/")
    return base + reverse("github_sign_in_callback")


@login_required
@require_POST
def github_sign_in(request: HttpRequest, team_slug: str) -> HttpResponse:
    membership = team_member(user=request.user, team_slug=team_slug)
    try:
        url = github_sign_in_start(
            session=request.session, team=membership.team, redirect_uri=_callback_url(request)
        )
    except NotConfigured:
        messages.error(
            request,
            "Signing in with GitHub needs the site's GitHub App (its client id and secret), "
            "which is not set up yet. A team admin can link you on GitHub accounts instead.",
        )
        return redirect("your_pull_requests", team_slug=team_slug)
    return redirect(url)


def _refused(request: HttpRequest, refusal: SignInRefused) -> HttpResponse:
    return render(
        request,
        "integrations/flow_refused.html",
        {
            "title": refusal.title,
            "message": refusal.message,
            "outcome": "Your account was not linked to GitHub.",
        },
        status=refusal.status,
    )


@require_GET
@never_cache
def github_sign_in_callback(request: HttpRequest) -> HttpResponse:
    # Not login_required: its redirect would carry GitHub's code into the
    # login page's ?next=. A session gone since the start is refused instead.
    if not request.user.is_authenticated:
        return _refused(
            request,
            SignInRefused(
                "Log in first",
                "Your session ended while you were on GitHub. Log in, then sign in with "
                "GitHub again from \u201cYour pull requests\u201d.",
                status=401,
            ),
        )
    params = request.GET
    try:
        result = github_sign_in_complete(
            session=request.session,
            user=request.user,
            state=params.get("state", "")[:300],
            code=params.get("code", "")[:300],
            error=params.get("error", "")[:100],
            redirect_uri=_callback_url(request),
        )
    except SignInRefused as refusal:
        return _refused(request, refusal)
    waiting = result.open_questions
    messages.success(
        request,
        f"Your account is linked to {result.member.login} on GitHub."
        + (
            f" {waiting} question{'s' if waiting != 1 else ''} about your recent merges "
            f"{'wait' if waiting != 1 else 'waits'} below."
            if waiting
            else ""
        ),
    )
    return redirect("your_pull_requests", team_slug=result.team.slug)

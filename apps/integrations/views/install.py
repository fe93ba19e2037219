"""Where GitHub sends the admin back after installing (or reconfiguring) the app."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from apps.integrations.services.install_flow import (
    InstallRefused,
    InstallResult,
    install_complete,
    install_updated,
)


@login_required
@require_GET
def github_install_callback(request: HttpRequest) -> HttpResponse:
    params = request.GET
    installation_id = params.get("installation_id", "")
    try:
        if params.get("setup_action") == "update" and not params.get("state"):
            result = install_updated(user=request.user, installation_id=installation_id)
        else:
            result = install_complete(
                session=request.session,
                user=request.user,
                state=params.get("state", ""),
                code=params.get("code", ""),
                installation_id=installation_id,
            )
    except InstallRefused as refusal:
        return render(
            request,
            "integrations/flow_refused.html",
            {
                "title": refusal.title,
                "message": refusal.message,
                "outcome": "Nothing was connected.",
            },
            status=refusal.status,
        )
    _report(request, result)
    return redirect("github_settings", team_slug=result.team.slug)


def _report(request: HttpRequest, result: InstallResult) -> None:
    account = result.installation.account_login or "the installation"
    messages.success(request, f"Connected {account} to {result.team.name}.")
    if result.repositories_synced:
        messages.info(request, "Choose the repositories to track below.")
    else:
        messages.warning(
            request,
            "The repository list could not be read from GitHub just now: press "
            "\u201cRe-sync from GitHub\u201d in a moment.",
        )

"""A team's GitHub page: its installations, their repositories, what is tracked."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.integrations import selectors
from apps.integrations.services.app_config import github_app_config
from apps.integrations.services.history import history_run_retry
from apps.integrations.services.install_flow import install_start
from apps.integrations.services.repository_access import (
    RepositoryNotTrackable,
    installation_disconnect,
    repositories_resync,
    repository_set_tracked,
)
from apps.teams.access import team_admin, team_member
from apps.teams.models import Team
from github_app.errors import GitHubError, NotConfigured

ADMINS_ONLY = "Only team admins can change the GitHub connection."


AdminAction = Callable[[HttpRequest, Team, int], None]


def _admin_action(action: AdminAction) -> Callable[[HttpRequest, str, int], HttpResponse]:
    """A POST that only team admins may make, answered by the settings page."""

    @login_required
    @require_POST
    @functools.wraps(action)
    def view(request: HttpRequest, team_slug: str, pk: int) -> HttpResponse:
        membership = team_admin(user=request.user, team_slug=team_slug, reason=ADMINS_ONLY)
        action(request, membership.team, pk)
        return redirect("github_settings", team_slug=team_slug)

    return view


def _app_ready() -> bool:
    try:
        return bool(github_app_config().slug)
    except NotConfigured:
        return False


@login_required
@require_GET
def github_settings(request: HttpRequest, team_slug: str) -> HttpResponse:
    membership = team_member(user=request.user, team_slug=team_slug)
    installations = selectors.team_installations(team=membership.team)
    return render(
        request,
        "integrations/github_settings.html",
        {
            "team": membership.team,
            "membership": membership,
            "installations": installations,
            "app_ready": _app_ready(),
            # The page refreshes itself while a tracked repository's history loads.
            "history_active": any(
                repo.tracked and repo.history and repo.history.active
                for installation in installations
                for repo, _status in installation.repository_rows
            ),
        },
    )


@login_required
@require_POST
def install(request: HttpRequest, team_slug: str) -> HttpResponse:
    membership = team_admin(user=request.user, team_slug=team_slug, reason=ADMINS_ONLY)
    try:
        url = install_start(session=request.session, team=membership.team)
    except NotConfigured:
        messages.error(
            request, "The GitHub App is not set up yet: ask a site operator to create it."
        )
        return redirect("github_settings", team_slug=team_slug)
    return redirect(url)


@_admin_action
def resync(request: HttpRequest, team: Team, pk: int) -> None:
    installation = selectors.team_installation_or_404(team=team, pk=pk)
    try:
        repositories = repositories_resync(installation=installation)
    except GitHubError as exc:
        messages.error(request, f"Re-sync failed: {exc}.")
    else:
        messages.success(
            request,
            f"Re-synced {installation.account_login}: {len(repositories)} repositories "
            "granted on GitHub.",
        )


@_admin_action
def track(request: HttpRequest, team: Team, pk: int) -> None:
    repository = selectors.team_repository_or_404(team=team, pk=pk)
    tracked = request.POST.get("tracked") == "1"
    try:
        repository_set_tracked(repository=repository, tracked=tracked)
    except RepositoryNotTrackable as exc:
        messages.error(request, str(exc))
    else:
        verb = "Now tracking" if tracked else "Stopped tracking"
        messages.success(request, f"{verb} {repository.full_name}.")


@_admin_action
def disconnect(request: HttpRequest, team: Team, pk: int) -> None:
    installation = selectors.team_installation_or_404(team=team, pk=pk)
    installation_disconnect(installation=installation)
    messages.success(
        request,
        f"Disconnected {installation.account_login} from {team.name}. Its data is kept and "
        "its events are no longer processed. To remove the app from GitHub too, uninstall "
        "it on the installation's GitHub settings page.",
    )


@_admin_action
def history_retry(request: HttpRequest, team: Team, pk: int) -> None:
    run = selectors.team_history_run_or_404(team=team, pk=pk)
    if not run.repository.tracked:
        messages.error(request, f"Track {run.repository.full_name} first.")
        return
    history_run_retry(run=run)
    messages.success(request, f"Loading the history of {run.repository.full_name} again.")

"""A team's GitHub page: its installations, their repositories, what is tracked."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from apps.integrations import selectors
from apps.integrations.models import HistoryRun
from apps.integrations.services import deployment_history
from apps.integrations.services.app_config import github_app_config
from apps.integrations.services.history import HistoryRetryRefused, history_run_retry
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


def _app_problem() -> str:
    """Why teams cannot install the GitHub App yet ("" once they can): what the
    site's staff must do, naming settings, so shown to admins and staff only."""
    try:
        config = github_app_config()
    except NotConfigured as exc:
        return str(exc)
    if not config.slug:
        return "the GitHub App's slug is not set (GITHUB_APP_SLUG)"
    return ""


@login_required
@require_safe
def github_settings(request: HttpRequest, team_slug: str) -> HttpResponse:
    membership = team_member(user=request.user, team_slug=team_slug)
    installations = selectors.team_installations(team=membership.team)
    problem = _app_problem()
    return render(
        request,
        "integrations/github_settings.html",
        {
            "team": membership.team,
            "membership": membership,
            "installations": installations,
            "app_ready": not problem,
            "app_problem": problem,
            # The page refreshes itself while a tracked repository's history
            # (its pull requests', or its deployments') loads.
            "history_active": any(
                repo.tracked
                and (
                    (repo.history and repo.history.active)
                    or (repo.deployment_history and repo.deployment_history.active)
                )
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
    except NotConfigured as exc:
        messages.error(
            request,
            f"The GitHub App is not set up yet ({exc}): this page says who sets it up, and how.",
        )
        return redirect("github_settings", team_slug=team_slug)
    return redirect(url)


@_admin_action
def resync(request: HttpRequest, team: Team, pk: int) -> None:
    installation = selectors.team_installation_or_404(team=team, pk=pk)
    if installation.demo:
        messages.error(
            request,
            f"{installation.account_login} is the demo's installation: GitHub has nothing to "
            "re-sync for it.",
        )
        return
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
    name = run.repository.full_name
    try:
        new_run = history_run_retry(run=run)
    except HistoryRetryRefused as refusal:
        messages.error(request, str(refusal))
        return
    # With in-process tasks the run has already gone as far as it can: say
    # what became of it, never "loading" over a row that failed again.
    new_run.refresh_from_db()
    progress = selectors.history_progress(run=new_run)
    said = f"History of {name}: {progress.text}"
    if progress.reason:
        said += f" ({progress.reason})"
    if new_run.status in (HistoryRun.Status.FAILED, HistoryRun.Status.STOPPED):
        messages.error(request, f"{said}.")
    else:
        messages.success(request, f"{said}.")


@_admin_action
def deployment_history_retry(request: HttpRequest, team: Team, pk: int) -> None:
    repository = selectors.team_repository_or_404(team=team, pk=pk)
    try:
        deployment_history.deployment_history_retry(repository=repository)
    except deployment_history.DeploymentHistoryRetryRefused as refusal:
        messages.error(request, str(refusal))
        return
    # With in-process tasks the read has already gone as far as it can: say
    # what became of it.
    progress = selectors.repository_deployment_histories(repository_ids=[repository.pk]).get(
        repository.pk
    )
    said = f"{repository.full_name}: {progress.text if progress else 'deployments queued'}"
    if progress and progress.reason:
        said += f" ({progress.reason})"
    if progress and progress.css == "bad":
        messages.error(request, f"{said}.")
    else:
        messages.success(request, f"{said}.")

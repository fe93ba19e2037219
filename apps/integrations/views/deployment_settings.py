"""A team's deployment settings page: where each tracked repository's
deployments come from (with the automatic choice explained), which
environments are production, the failure window, and the installations that
still have to accept the permissions deployments need."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from apps.integrations import selectors
from apps.integrations.models import Repository
from apps.metrics.figures_deployments import deployment_sources
from apps.metrics.models import RepositoryDeploymentSource
from apps.metrics.services.deployment_settings import (
    BadSetting,
    deployment_settings_read,
    deployment_settings_update,
    repository_deployment_source_set,
    team_deployment_settings,
)
from apps.teams.access import team_admin, team_member
from apps.teams.models import Team

ADMINS_ONLY = "Only team admins can change the deployment settings."
Choice = RepositoryDeploymentSource.Choice


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def deployment_settings(request: HttpRequest, team_slug: str) -> HttpResponse:
    if request.method == "POST":
        membership = team_admin(user=request.user, team_slug=team_slug, reason=ADMINS_ONLY)
        try:
            _save(request, membership.team)
        except BadSetting as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, "Deployment settings saved.")
        return redirect("deployment_settings", team_slug=team_slug)
    membership = team_member(user=request.user, team_slug=team_slug)
    team = membership.team
    settings = team_deployment_settings(team=team)
    sources = deployment_sources(team=team)
    chosen = {
        row.repository_github_id: row
        for row in RepositoryDeploymentSource.objects.filter(team=team)
    }
    repositories = [
        {
            "repository": repository,
            "choice": chosen[repository.github_id].choice
            if repository.github_id in chosen
            else Choice.AUTO,
            "workflow_path": chosen[repository.github_id].workflow_path
            if repository.github_id in chosen
            else "",
            "resolved": Choice(
                sources.get(repository.github_id, (Choice.AUTO, Choice.MERGE))[1]
            ).label,
        }
        for repository in selectors.team_tracked_repositories(team=team)
    ]
    return render(
        request,
        "integrations/deployment_settings.html",
        {
            "team": team,
            "membership": membership,
            "settings": settings,
            "environments": ", ".join(settings.production_environments),
            "repositories": repositories,
            "choices": Choice.choices,
            "missing": selectors.installations_missing_permissions(team=team),
        },
    )


def _save(request: HttpRequest, team: Team) -> None:
    post = request.POST
    if post.get("form") == "environments":
        environments, days = deployment_settings_read(
            environments=post.get("environments", "")[:2000],
            failure_window_days=post.get("failure_window_days", "")[:10],
        )
        deployment_settings_update(team=team, environments=environments, failure_window_days=days)
        return
    if post.get("form") == "source":
        repository = Repository.objects.filter(
            pk=_int(post.get("repository", "")), installation__team=team, tracked=True
        ).first()
        if repository is None:
            raise BadSetting("Unknown repository.")
        repository_deployment_source_set(
            team=team,
            repository_github_id=repository.github_id,
            choice=post.get("choice", "")[:20],
            workflow_path=post.get("workflow_path", "")[:300],
        )
        return
    raise BadSetting("Unknown form.")


def _int(value: str) -> int:
    return int(value) if value.isascii() and value.isdigit() and len(value) < 18 else 0

"""Creating the GitHub App from its manifest: a page for staff, and the
callback GitHub sends them back to."""

from __future__ import annotations

import logging

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from apps.integrations.models import GitHubApp
from apps.integrations.services.github_api import app_install_url
from apps.integrations.services.manifest import (
    ManifestStateRefused,
    complete_manifest_flow,
    manifest_request,
)
from apps.teams.access import staff_only
from github_app.errors import GitHubError, NotFound, ValidationFailed
from github_app.manifest import ManifestError

logger = logging.getLogger(__name__)


class ManifestForm(forms.Form):
    base_url = forms.URLField(
        label="Public URL of this deployment",
        help_text=(
            "GitHub sends people back here after each step, and its webhooks. For a trial "
            "on this machine http://127.0.0.1:8000 works: webhooks cannot reach it, and "
            "manage.py github_poll reads them from the app's delivery log instead "
            "(docs/development.md)."
        ),
        assume_scheme="https",
    )
    organization = forms.CharField(
        label="GitHub organisation (optional)",
        required=False,
        max_length=39,
        help_text="Leave empty to create the app on your personal account.",
    )
    name = forms.CharField(
        label="App name",
        max_length=34,
        initial="tformance",
        help_text="App names are unique across GitHub; you can change it on GitHub's page.",
    )


def _require_staff(request: HttpRequest) -> None:
    staff_only(
        user=request.user,
        reason="The GitHub App is created once for the whole site, by a staff account of it.",
    )


@login_required
def github_manifest(request: HttpRequest) -> HttpResponse:
    _require_staff(request)
    if request.method == "POST":
        form = ManifestForm(request.POST)
        if form.is_valid():
            try:
                to_github = manifest_request(session=request.session, **form.cleaned_data)
            except ManifestError as exc:
                form.add_error(None, str(exc))
            else:
                return render(
                    request, "integrations/github_manifest_post.html", {"to_github": to_github}
                )
    else:
        base_url = settings.PUBLIC_BASE_URL or request.build_absolute_uri("/").rstrip("/")
        form = ManifestForm(initial={"base_url": base_url})
    return render(
        request,
        "integrations/github_manifest.html",
        {
            "form": form,
            "environment_app_id": settings.GITHUB_APP_ID,
            "stored_apps": GitHubApp.objects.order_by("-created_at"),
        },
    )


@login_required
def github_manifest_callback(request: HttpRequest) -> HttpResponse:
    _require_staff(request)
    try:
        app = complete_manifest_flow(
            session=request.session,
            state=request.GET.get("state", ""),
            code=request.GET.get("code", ""),
            user=request.user,
        )
    except (ManifestStateRefused, ManifestError) as exc:
        return _failed(request, str(exc), status=400)
    except (NotFound, ValidationFailed) as exc:
        return _failed(
            request,
            "GitHub no longer accepts this code: it is used once and expires after an hour. "
            f"Start again from the manifest page. ({exc})",
            status=400,
        )
    except GitHubError as exc:
        logger.warning("GitHub App manifest conversion failed: %s", exc)
        return _failed(request, f"GitHub could not complete the app's creation: {exc}", status=502)
    return render(
        request,
        "integrations/github_manifest_done.html",
        {
            "app": app,
            "install_url": app_install_url(slug=app.slug),
            "environment_app_id": settings.GITHUB_APP_ID,
        },
    )


def _failed(request: HttpRequest, reason: str, *, status: int) -> HttpResponse:
    return render(
        request, "integrations/github_manifest_failed.html", {"reason": reason}, status=status
    )

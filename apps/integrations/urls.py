from django.urls import path

from apps.integrations.views import (
    deliveries,
    deployment_settings,
    github_settings,
    install,
    sign_in,
    webhooks,
)
from apps.integrations.views import manifest as manifest_views

urlpatterns: list = [
    path("webhooks/github/", webhooks.github_webhook, name="github_webhook"),
    path(
        "teams/<slug:team_slug>/github/deliveries/",
        deliveries.team_deliveries,
        name="github_deliveries",
    ),
    path(
        "teams/<slug:team_slug>/github/deliveries/<int:pk>/retry/",
        deliveries.retry,
        name="github_delivery_retry",
    ),
    path("github/deliveries/", deliveries.all_deliveries, name="github_deliveries_all"),
    path("github/manifest/", manifest_views.github_manifest, name="github_manifest"),
    path(
        "github/manifest/callback/",
        manifest_views.github_manifest_callback,
        name="github_manifest_callback",
    ),
    path("teams/<slug:team_slug>/github/", github_settings.github_settings, name="github_settings"),
    path(
        "teams/<slug:team_slug>/github/install/",
        github_settings.install,
        name="github_install",
    ),
    path(
        "teams/<slug:team_slug>/github/installations/<int:pk>/resync/",
        github_settings.resync,
        name="github_resync",
    ),
    path(
        "teams/<slug:team_slug>/github/installations/<int:pk>/disconnect/",
        github_settings.disconnect,
        name="github_disconnect",
    ),
    path(
        "teams/<slug:team_slug>/github/repositories/<int:pk>/track/",
        github_settings.track,
        name="github_repository_track",
    ),
    path(
        "teams/<slug:team_slug>/github/history/<int:pk>/retry/",
        github_settings.history_retry,
        name="github_history_retry",
    ),
    path(
        "teams/<slug:team_slug>/github/repositories/<int:pk>/deployments/retry/",
        github_settings.deployment_history_retry,
        name="github_deployment_history_retry",
    ),
    path(
        "github/install/callback/", install.github_install_callback, name="github_install_callback"
    ),
    path("teams/<slug:team_slug>/github/sign-in/", sign_in.github_sign_in, name="github_sign_in"),
    # In app-manifest.json's callback_urls: GitHub sends the person back here.
    path(
        "github/sign-in/callback/", sign_in.github_sign_in_callback, name="github_sign_in_callback"
    ),
    path(
        "teams/<slug:team_slug>/deployments/settings/",
        deployment_settings.deployment_settings,
        name="deployment_settings",
    ),
]

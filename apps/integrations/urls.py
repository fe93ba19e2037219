from django.urls import path

from apps.integrations.views import deliveries, webhooks
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
]

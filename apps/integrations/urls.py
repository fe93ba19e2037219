from django.urls import path

from apps.integrations.views import webhooks

urlpatterns: list = [
    path("webhooks/github/", webhooks.github_webhook, name="github_webhook"),
]

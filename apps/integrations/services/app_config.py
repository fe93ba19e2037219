"""The GitHub App's configuration: the environment first, then the app stored
by the manifest flow."""

from django.conf import settings


def webhook_secrets() -> list[str]:
    return list(settings.GITHUB_WEBHOOK_SECRETS)

"""The GitHub App's configuration: the environment first, then the app stored
by the manifest flow.

``webhook_secrets()`` runs on every webhook delivery, so the stored app is read
and decrypted once and kept in this process. Saving or deleting the app clears
that copy in the process that did it; other processes pick the change up
within STORED_APP_TTL."""

from __future__ import annotations

import functools
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from apps.integrations.models import GitHubApp
from apps.integrations.services.encryption import StoredSecretUnreadable, decrypt_secret
from github_app.auth import load_private_key
from github_app.client import AppCredentials
from github_app.errors import NotConfigured

logger = logging.getLogger(__name__)

STORED_APP_TTL = 60.0  # seconds


@dataclass(frozen=True)
class GitHubAppConfig:
    """The app's identity and secrets. ``repr`` leaves the secrets out."""

    source: str  # "environment" or "stored app"
    app_id: str
    slug: str
    client_id: str
    client_secret: str = field(repr=False)
    private_key: str = field(repr=False)
    webhook_secret: str = field(default="", repr=False)

    @property
    def credentials(self) -> AppCredentials:
        return AppCredentials(
            app_id=self.app_id,
            private_key=self.private_key,
            client_id=self.client_id,
            client_secret=self.client_secret,
        )


@dataclass
class _StoredAppCache:
    config: GitHubAppConfig | None = None
    unreadable: str = ""
    loaded_at: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


_stored = _StoredAppCache()


def webhook_secrets() -> list[str]:
    """Every secret a delivery may be signed with: GITHUB_WEBHOOK_SECRET's
    (several while rotating), then the stored app's."""
    secrets = list(settings.GITHUB_WEBHOOK_SECRETS)
    stored = _stored_app_config()
    if stored is not None and stored.webhook_secret and stored.webhook_secret not in secrets:
        secrets.append(stored.webhook_secret)
    return secrets


def github_app_config() -> GitHubAppConfig:
    """The app to act as: from the environment when GITHUB_APP_ID is set, else
    the stored app. Raises NotConfigured, with what to do, when there is none."""
    if settings.GITHUB_APP_ID:
        return _environment_config()
    stored = _stored_app_config()
    if stored is not None:
        return stored
    if _stored.unreadable:
        raise NotConfigured(_stored.unreadable)
    raise NotConfigured(
        "no GitHub App is configured: create it from the manifest (/github/manifest/) "
        "or set GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY"
    )


def forget_stored_app() -> None:
    """Drop this process's copy of the stored app (it changed, or tests)."""
    with _stored.lock:
        _stored.config = None
        _stored.unreadable = ""
        _stored.loaded_at = None


@receiver([post_save, post_delete], sender=GitHubApp, dispatch_uid="app_config_forget")
def _stored_app_changed(**kwargs: Any) -> None:
    forget_stored_app()
    # Again once committed: a read between the save and the commit would have
    # cached the old row.
    transaction.on_commit(forget_stored_app)


def _environment_config() -> GitHubAppConfig:
    return GitHubAppConfig(
        source="environment",
        app_id=settings.GITHUB_APP_ID,
        slug=settings.GITHUB_APP_SLUG,
        client_id=settings.GITHUB_APP_CLIENT_ID,
        client_secret=settings.GITHUB_APP_CLIENT_SECRET,
        private_key=_environment_private_key(
            settings.GITHUB_APP_PRIVATE_KEY, settings.GITHUB_APP_PRIVATE_KEY_PATH
        ),
    )


@functools.lru_cache(maxsize=4)
def _environment_private_key(pem: str, path: str) -> str:
    return load_private_key(pem=pem, path=path)


def _stored_app_config() -> GitHubAppConfig | None:
    now = time.monotonic()
    with _stored.lock:
        if _stored.loaded_at is not None and now - _stored.loaded_at < STORED_APP_TTL:
            return _stored.config
        app = GitHubApp.objects.order_by("-created_at", "-pk").first()
        _stored.config, _stored.unreadable = None, ""
        if app is not None:
            try:
                _stored.config = _decrypted(app)
            except StoredSecretUnreadable as exc:
                _stored.unreadable = str(exc)
                logger.error("GitHub App %s: %s", app.app_id, exc)
        _stored.loaded_at = now
        return _stored.config


def _decrypted(app: GitHubApp) -> GitHubAppConfig:
    return GitHubAppConfig(
        source="stored app",
        app_id=str(app.app_id),
        slug=app.slug,
        client_id=app.client_id,
        client_secret=decrypt_secret(app.client_secret_encrypted),
        private_key=decrypt_secret(app.private_key_encrypted),
        webhook_secret=decrypt_secret(app.webhook_secret_encrypted),
    )

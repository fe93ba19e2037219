"""Creating the GitHub App from its manifest (GitHub's manifest flow).

The operator posts the filled manifest to GitHub, names the app there, and
GitHub sends them back to the manifest callback with a one-time code; the code
is exchanged for the app's id and secrets, which are stored encrypted."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction

from apps.integrations.models import GitHubApp
from apps.integrations.services.encryption import encrypt_secret
from apps.integrations.services.flow_state import consume_state, issue_state
from github_app.manifest import CreatedApp, convert_manifest_code, creation_url, fill_manifest

logger = logging.getLogger(__name__)

MANIFEST_TEMPLATE = settings.BASE_DIR / "app-manifest.json"
_STATE_PURPOSE = "github_manifest"


class ManifestStateRefused(Exception):
    """The callback's ``state`` is missing, forged, replayed or expired."""


@dataclass(frozen=True)
class ManifestRequest:
    """What the operator's browser posts to GitHub: ``manifest`` (JSON) as a
    form field, to ``action_url``."""

    action_url: str
    manifest: str


def app_manifest(*, base_url: str, name: str = "") -> dict[str, Any]:
    """app-manifest.json with this deployment's public URL filled in."""
    template = json.loads(MANIFEST_TEMPLATE.read_text())
    return fill_manifest(template=template, base_url=base_url, name=name)


def manifest_request(
    *, session: SessionBase, base_url: str, organization: str = "", name: str = ""
) -> ManifestRequest:
    """Start the flow: the filled manifest and where to post it, with a state
    bound to this session. Raises ManifestError for a bad URL or organisation."""
    manifest = app_manifest(base_url=base_url, name=name)
    action_url = creation_url(
        web_url=settings.GITHUB_WEB_URL,
        organization=organization,
        state=issue_state(session=session, purpose=_STATE_PURPOSE),
    )
    return ManifestRequest(action_url=action_url, manifest=json.dumps(manifest))


def complete_manifest_flow(
    *, session: SessionBase, state: str, code: str, user: AbstractBaseUser | None
) -> GitHubApp:
    """Finish the flow: check the state, exchange the code, store the app.

    Raises ManifestStateRefused, ManifestError (malformed code) or GitHubError."""
    if not consume_state(session=session, purpose=_STATE_PURPOSE, state=state):
        raise ManifestStateRefused(
            "this link from GitHub does not belong to a manifest sent from this browser "
            "session, or it was already used; start again from the manifest page"
        )
    created = convert_manifest_code(code=code, api_url=settings.GITHUB_API_URL)
    app = store_created_app(created=created, user=user)
    logger.info("GitHub App %s (%s) created from the manifest", app.app_id, app.slug)
    return app


@transaction.atomic
def store_created_app(*, created: CreatedApp, user: AbstractBaseUser | None) -> GitHubApp:
    """Store the app GitHub created, its secrets encrypted."""
    app, _ = GitHubApp.objects.update_or_create(
        app_id=created.app_id,
        defaults={
            "slug": created.slug,
            "name": created.name,
            "owner_login": created.owner_login,
            "html_url": created.html_url,
            "client_id": created.client_id,
            "client_secret_encrypted": encrypt_secret(created.client_secret),
            "webhook_secret_encrypted": encrypt_secret(created.webhook_secret),
            "private_key_encrypted": encrypt_secret(created.private_key),
            "created_by": user,
        },
    )
    return app


class NoStoredApp(Exception):
    """There is no app created from the manifest to change."""


def stored_app_replace_webhook_secret(*, secret: str) -> GitHubApp:
    """Store a new webhook secret for the app created from the manifest: the old
    one is no longer accepted once this commits (the last step of a rotation)."""
    secret = secret.strip()
    if len(secret) < 16:
        raise ValueError("a webhook secret must be at least 16 characters")
    app = GitHubApp.objects.order_by("-created_at").first()
    if app is None:
        raise NoStoredApp("no GitHub App was created from the manifest")
    app.webhook_secret_encrypted = encrypt_secret(secret)
    # save() (not update()) so the cached copy of the stored app is dropped.
    app.save(update_fields=["webhook_secret_encrypted"])
    return app

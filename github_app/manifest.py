"""GitHub's manifest flow: fill the app manifest, send the operator to GitHub
with it, and exchange the one-time code GitHub sends back for the new app's
id and secrets."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode, urlsplit

from github_app.auth import load_private_key
from github_app.client import anonymous_client
from github_app.errors import GitHubError, PrivateKeyError, ValidationFailed

BASE_URL_PLACEHOLDER = "{BASE_URL}"
# GitHub logins: letters, digits and single hyphens, at most 39 characters.
_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?")
# The code goes into the URL path, so nothing but its own alphabet may pass.
_CODE = re.compile(r"[A-Za-z0-9_-]{1,100}")


class ManifestError(ValueError):
    """The manifest cannot be filled or sent as asked; the message says why."""


@dataclass(frozen=True)
class CreatedApp:
    """What GitHub answers once the app exists. ``repr`` leaves the secrets out."""

    app_id: int
    slug: str
    name: str
    owner_login: str
    html_url: str
    client_id: str
    client_secret: str = field(repr=False)
    webhook_secret: str = field(repr=False)
    private_key: str = field(repr=False)


def fill_manifest(*, template: Mapping[str, Any], base_url: str, name: str = "") -> dict[str, Any]:
    """The manifest with ``{BASE_URL}`` replaced by this deployment's public
    URL (``https://metrics.example.com``), and the app's name if one is given."""
    parts = urlsplit(base_url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ManifestError(f"the base URL must be an absolute http(s) URL, not {base_url!r}")
    if parts.query or parts.fragment:
        raise ManifestError("the base URL must not have a query or a fragment")
    base = base_url.rstrip("/")

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace(BASE_URL_PLACEHOLDER, base)
        if isinstance(value, Mapping):
            return {key: fill(item) for key, item in value.items()}
        if isinstance(value, list):
            return [fill(item) for item in value]
        return value

    manifest: dict[str, Any] = fill(template)
    if name.strip():
        manifest["name"] = name.strip()
    return manifest


def creation_url(*, web_url: str, state: str, organization: str = "") -> str:
    """Where the manifest is posted: the operator's own account, or an
    organisation they administer."""
    if organization and not _LOGIN.fullmatch(organization):
        raise ManifestError(f"{organization!r} is not a GitHub organisation name")
    owner = f"/organizations/{organization}" if organization else ""
    return f"{web_url.rstrip('/')}{owner}/settings/apps/new?{urlencode({'state': state})}"


def convert_manifest_code(*, code: str, api_url: str) -> CreatedApp:
    """Exchange the one-time ``code`` (valid for an hour, usable once) at
    ``POST /app-manifests/{code}/conversions``.

    Raises ManifestError for a malformed code, and GitHubError when GitHub
    refuses (422 or 404 for a used or expired code) or fails."""
    if not _CODE.fullmatch(code):
        raise ManifestError("the code from GitHub is malformed")
    github = anonymous_client(api_url=api_url)
    answer = github.rest.apps.create_from_manifest(code).json()
    try:
        owner = answer.get("owner") or {}
        created = CreatedApp(
            app_id=int(answer["id"]),
            slug=str(answer.get("slug") or ""),
            name=str(answer["name"]),
            owner_login=str(owner.get("login") or ""),
            html_url=str(answer.get("html_url") or ""),
            client_id=str(answer["client_id"]),
            client_secret=str(answer["client_secret"]),
            # null when the manifest's webhook is inactive; ours is active.
            webhook_secret=str(answer.get("webhook_secret") or ""),
            private_key=str(answer["pem"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        raise ValidationFailed("GitHub's answer to the manifest conversion is incomplete") from None
    try:
        private_key = load_private_key(pem=created.private_key)
    except PrivateKeyError:
        raise ValidationFailed(
            "GitHub's answer to the manifest conversion holds no usable private key"
        ) from None
    created = replace(created, private_key=private_key)
    if not created.slug:
        raise GitHubError("GitHub's answer to the manifest conversion has no app slug")
    return created

"""A stored GitHub App, as the manifest flow leaves it."""

from __future__ import annotations

from apps.integrations.models import GitHubApp
from apps.integrations.services.manifest import store_created_app
from github_app.manifest import CreatedApp
from tests.github_app.keys import private_key_pem


def stored_app(*, app_id: int = 987654, webhook_secret: str = "stored-webhook-secret") -> GitHubApp:
    return store_created_app(
        created=CreatedApp(
            app_id=app_id,
            slug="tformance-acme",
            name="tformance (Acme)",
            owner_login="acme-org",
            html_url="https://github.com/apps/tformance-acme",
            client_id="Iv23stored",
            client_secret="stored-client-secret",
            webhook_secret=webhook_secret,
            private_key=private_key_pem(),
        ),
        user=None,
    )

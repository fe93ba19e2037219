"""GitHub's answer to POST /app-manifests/{code}/conversions, shaped like the
real one (trimmed of URLs nobody reads)."""

from __future__ import annotations

from typing import Any

from tests.github_app.keys import private_key_pem


def conversion_answer(
    *, app_id: int = 987654, slug: str = "tformance-acme", owner: str = "acme-org"
) -> dict[str, Any]:
    return {
        "id": app_id,
        "slug": slug,
        "node_id": "A_kwDOBXyz",
        "client_id": "Iv23liAbCdEfGh",
        "owner": {
            "login": owner,
            "id": 4242,
            "node_id": "O_kgDOAAAQkg",
            "avatar_url": "https://avatars.githubusercontent.com/u/4242?v=4",
            "gravatar_id": "",
            "url": f"https://api.github.com/users/{owner}",
            "html_url": f"https://github.com/{owner}",
            "followers_url": f"https://api.github.com/users/{owner}/followers",
            "following_url": f"https://api.github.com/users/{owner}/following{{/other_user}}",
            "gists_url": f"https://api.github.com/users/{owner}/gists{{/gist_id}}",
            "starred_url": f"https://api.github.com/users/{owner}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"https://api.github.com/users/{owner}/subscriptions",
            "organizations_url": f"https://api.github.com/users/{owner}/orgs",
            "repos_url": f"https://api.github.com/users/{owner}/repos",
            "events_url": f"https://api.github.com/users/{owner}/events{{/privacy}}",
            "received_events_url": f"https://api.github.com/users/{owner}/received_events",
            "type": "Organization",
            "site_admin": False,
        },
        "name": "tformance (Acme)",
        "description": None,
        "external_url": "https://metrics.example.com/",
        "html_url": f"https://github.com/apps/{slug}",
        "created_at": "2025-01-01T10:00:00Z",
        "updated_at": "2025-01-01T10:00:00Z",
        "permissions": {"metadata": "read", "pull_requests": "read"},
        "events": ["pull_request", "pull_request_review"],
        "client_secret": "client-secret-0123456789abcdef",
        "webhook_secret": "webhook-secret-0123456789abcdef",
        "pem": private_key_pem(),
    }

"""Payloads of the installation, installation_repositories and ping events,
shaped like GitHub's (trimmed of URL fields the code never reads)."""

from __future__ import annotations

from typing import Any

ACCOUNT_LOGIN = "acme-org"
ACCOUNT_ID = 9100


def account(*, login: str = ACCOUNT_LOGIN, account_id: int = ACCOUNT_ID) -> dict[str, Any]:
    return {
        "login": login,
        "id": account_id,
        "node_id": f"MDEyOk9yZ2FuaXphdGlvbj{account_id}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{account_id}?v=4",
        "html_url": f"https://github.com/{login}",
        "type": "Organization",
        "site_admin": False,
    }


def repository_stub(*, repository_id: int, full_name: str, private: bool = False) -> dict[str, Any]:
    """A repository as listed in installation events (the short form)."""
    return {
        "id": repository_id,
        "node_id": f"MDEwOlJlcG9zaXRvcnk{repository_id}",
        "name": full_name.split("/", 1)[1],
        "full_name": full_name,
        "private": private,
    }


def installation_block(
    *,
    installation_id: int,
    login: str = ACCOUNT_LOGIN,
    account_id: int = ACCOUNT_ID,
    repository_selection: str = "selected",
    permissions: dict[str, str] | None = None,
    events: list[str] | None = None,
    suspended_at: str | None = None,
) -> dict[str, Any]:
    return {
        "id": installation_id,
        "client_id": "Iv1.0123456789abcdef",
        "account": account(login=login, account_id=account_id),
        "repository_selection": repository_selection,
        "access_tokens_url": f"https://api.github.com/app/installations/{installation_id}/access_tokens",
        "repositories_url": "https://api.github.com/installation/repositories",
        "html_url": f"https://github.com/organizations/{login}/settings/installations/{installation_id}",
        "app_id": 424242,
        "app_slug": "tformance",
        "target_id": account_id,
        "target_type": "Organization",
        "permissions": permissions
        if permissions is not None
        else {"metadata": "read", "pull_requests": "read"},
        "events": events if events is not None else ["pull_request", "pull_request_review"],
        # GitHub sends these two as Unix seconds in installation events.
        "created_at": 1735725600,
        "updated_at": 1735725600,
        "single_file_name": None,
        "suspended_by": None,
        "suspended_at": suspended_at,
    }


def sender(*, login: str = "octo-admin", user_id: int = 5001) -> dict[str, Any]:
    return {"login": login, "id": user_id, "type": "User", "site_admin": False}


def installation_event(
    *,
    action: str,
    installation_id: int,
    repositories: list[dict[str, Any]] | None = None,
    **installation: Any,
) -> dict[str, Any]:
    """An ``installation`` event: created, deleted, suspend, unsuspend,
    new_permissions_accepted."""
    payload: dict[str, Any] = {
        "action": action,
        "installation": installation_block(installation_id=installation_id, **installation),
        "requester": None,
        "sender": sender(),
    }
    if action in {"created", "deleted"}:
        payload["repositories"] = repositories or []
    return payload


def installation_repositories_event(
    *,
    action: str,
    installation_id: int,
    added: list[dict[str, Any]] | None = None,
    removed: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An ``installation_repositories`` event: added or removed."""
    return {
        "action": action,
        "installation": installation_block(installation_id=installation_id),
        "repository_selection": "selected",
        "repositories_added": added or [],
        "repositories_removed": removed or [],
        "requester": None,
        "sender": sender(),
    }


def ping_event(*, hook_id: int = 109948940) -> dict[str, Any]:
    """GitHub's ``ping``, sent when the app's webhook is created or edited."""
    return {
        "zen": "Anything added dilutes everything else.",
        "hook_id": hook_id,
        "hook": {
            "type": "App",
            "id": hook_id,
            "name": "web",
            "active": True,
            "events": ["pull_request", "pull_request_review"],
            "config": {"content_type": "json", "url": "https://example.test/webhooks/github/"},
            "app_id": 424242,
        },
    }

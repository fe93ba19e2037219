"""Payloads of the repository and installation_target events, shaped like
GitHub's (trimmed of URL fields the code never reads)."""

from __future__ import annotations

from typing import Any

from github_app.webhook_payloads import repository, user
from tests.payloads.installations import sender


def installation_stub(installation_id: int) -> dict[str, Any]:
    """The installation block of events other than installation's own."""
    return {
        "id": installation_id,
        "node_id": f"MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u{installation_id}",
    }


def repository_block(
    *,
    repository_id: int,
    full_name: str,
    updated_at: str = "2024-05-15T15:21:14Z",
    archived: bool = False,
    private: bool = True,
) -> dict[str, Any]:
    block = repository(repository_id, full_name)
    block.update(
        updated_at=updated_at,
        archived=archived,
        private=private,
        visibility="private" if private else "public",
    )
    return block


def repository_event(
    action: str,
    *,
    installation_id: int,
    repository_id: int,
    full_name: str,
    updated_at: str = "2024-05-15T15:21:14Z",
    archived: bool = False,
    private: bool = True,
    previous_name: str = "",
    previous_owner: str = "",
) -> dict[str, Any]:
    """A ``repository`` event: renamed (``previous_name``), transferred
    (``previous_owner``), archived, unarchived, privatized, publicized, edited,
    deleted. GitHub's block shows the repository as it is after the change."""
    block = repository_block(
        repository_id=repository_id,
        full_name=full_name,
        updated_at=updated_at,
        archived=archived,
        private=private,
    )
    payload: dict[str, Any] = {"action": action, "repository": block}
    if action == "renamed":
        payload["changes"] = {"repository": {"name": {"from": previous_name}}}
    elif action == "transferred":
        payload["changes"] = {
            "owner": {
                "from": {"organization": user(previous_owner, 38302900, user_type="Organization")}
            }
        }
    elif action == "edited":
        payload["changes"] = {"description": {"from": None}}
    payload["organization"] = {"login": full_name.split("/")[0], "id": 38302899}
    payload["installation"] = installation_stub(installation_id)
    payload["sender"] = sender()
    return payload


def installation_target_event(
    *, installation_id: int, account_id: int, login: str, previous_login: str
) -> dict[str, Any]:
    """``installation_target.renamed``: the account the app is installed on was renamed."""
    return {
        "action": "renamed",
        "account": {
            "login": login,
            "id": account_id,
            "node_id": f"MDEyOk9yZ2FuaXphdGlvbj{account_id}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{account_id}?v=4",
            "html_url": f"https://github.com/{login}",
            "slug": login,
            "name": login,
            "description": None,
            "created_at": "2020-01-01T00:00:00Z",
            "updated_at": "2025-03-01T00:00:00Z",
        },
        "changes": {"login": {"from": previous_login}, "slug": {"from": previous_login}},
        "installation": installation_stub(installation_id),
        "sender": sender(),
        "target_type": "Organization",
    }

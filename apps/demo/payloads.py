"""The demo's webhook payloads: GitHub's objects built by the one builder
(`github_app/webhook_payloads.py`, which the tests use too) from the story's
values, and the installation and ping events only the demo sends."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from github_app import webhook_payloads as github
from github_app.webhook_payloads import installation_ref, iso, review_copy

API = "https://api.github.com"
WEB = "https://github.com"
APP_ID = 190019
APP_SLUG = "tformance-demo"

__all__ = ["installation_ref", "iso", "review_copy"]


def user(login: str, github_id: int, *, kind: str = "User") -> dict[str, Any]:
    return github.user(login, github_id, user_type=kind)


def organization(login: str, github_id: int) -> dict[str, Any]:
    return user(login, github_id, kind="Organization")


def repository(*, github_id: int, full_name: str, owner: dict[str, Any]) -> dict[str, Any]:
    return github.repository(github_id, full_name, owner=owner)


def repository_stub(*, github_id: int, full_name: str) -> dict[str, Any]:
    """A repository as installation events list it (the short form)."""
    return {
        "id": github_id,
        "node_id": f"R_demo{github_id}",
        "name": full_name.split("/", 1)[1],
        "full_name": full_name,
        "private": True,
    }


def installation_block(
    *, installation_id: int, account: dict[str, Any], created: datetime
) -> dict[str, Any]:
    return {
        "id": installation_id,
        "client_id": "Iv1.demo0000000000",
        "account": account,
        "repository_selection": "selected",
        "access_tokens_url": f"{API}/app/installations/{installation_id}/access_tokens",
        "repositories_url": f"{API}/installation/repositories",
        "html_url": (
            f"{WEB}/organizations/{account['login']}/settings/installations/{installation_id}"
        ),
        "app_id": APP_ID,
        "app_slug": APP_SLUG,
        "target_id": account["id"],
        "target_type": account["type"],
        "permissions": {"members": "read", "metadata": "read", "pull_requests": "read"},
        "events": ["pull_request", "pull_request_review"],
        # Unix seconds, as installation events send them.
        "created_at": int(created.timestamp()),
        "updated_at": int(created.timestamp()),
        "single_file_name": None,
        "suspended_by": None,
        "suspended_at": None,
    }


def installation_created(
    *,
    installation_id: int,
    account: dict[str, Any],
    repositories: list[dict[str, Any]],
    sender: dict[str, Any],
    created: datetime,
) -> dict[str, Any]:
    return {
        "action": "created",
        "installation": installation_block(
            installation_id=installation_id, account=account, created=created
        ),
        "repositories": repositories,
        "requester": None,
        "sender": sender,
    }


def ping(*, installation_id: int, sender: dict[str, Any], created: datetime) -> dict[str, Any]:
    return {
        "zen": "Design for failure.",
        "hook_id": 4190019,
        "hook": {
            "type": "App",
            "id": 4190019,
            "name": "web",
            "active": True,
            "events": ["pull_request", "pull_request_review"],
            "config": {
                "content_type": "json",
                "insecure_ssl": "0",
                "url": "https://example.invalid/webhooks/github/",
            },
            "updated_at": iso(created),
            "created_at": iso(created),
            "app_id": APP_ID,
            "deliveries_url": f"{API}/app/hook/deliveries",
        },
        "installation": installation_ref(installation_id),
        "sender": sender,
    }


def pull_request(
    *,
    github_id: int,
    number: int,
    title: str,
    body: str,
    author: dict[str, Any],
    repo: dict[str, Any],
    head_ref: str,
    created_at: datetime,
    updated_at: datetime,
    state: str,
    draft: bool,
    merged_at: datetime | None,
    closed_at: datetime | None,
    labels: list[str],
    requested_reviewers: list[dict[str, Any]],
    additions: int,
    deletions: int,
    commits: int,
) -> dict[str, Any]:
    """The pull_request object of a pull_request event (GitHub's full shape)."""
    merge_commit = {"merge_commit_sha": merge_commit_sha(github_id)} if merged_at else {}
    return github.pull_request_object(
        **merge_commit,
        pr_id=github_id,
        number=number,
        title=title,
        body=body,
        state=state,
        draft=draft,
        merged=merged_at is not None,
        created_at=iso(created_at),
        updated_at=iso(updated_at),
        closed_at=iso(closed_at) if closed_at else None,
        merged_at=iso(merged_at) if merged_at else None,
        additions=additions,
        deletions=deletions,
        labels=labels,
        head_ref=head_ref,
        author_id=author["id"],
        author_login=author["login"],
        author_type=author["type"],
        repository_id=repo["id"],
        repository_full_name=repo["full_name"],
        requested_reviewers=requested_reviewers,
        commits=commits,
        changed_files=max(1, (additions + deletions) // 40),
    )


def review(
    *,
    github_id: int,
    reviewer: dict[str, Any],
    state: str,
    submitted_at: datetime,
    pull_request_object: dict[str, Any],
    body: str | None,
) -> dict[str, Any]:
    return github.review_object(
        review_id=github_id,
        reviewer=reviewer,
        state=state,
        submitted_at=iso(submitted_at),
        pull_request=pull_request_object,
        body=body,
    )


def merge_commit_sha(pull_request_id: int) -> str:
    """The demo's merge commit of a pull request: a sha of its own (a story, no secret)."""
    return hashlib.sha1(f"tformance-demo merge {pull_request_id}".encode()).hexdigest()  # noqa: S324

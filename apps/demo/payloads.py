"""Webhook payloads shaped like GitHub's (the fields GitHub sends, the URL
fields trimmed to the ones a reader might follow), for the demo."""

from __future__ import annotations

from datetime import datetime
from typing import Any

API = "https://api.github.com"
WEB = "https://github.com"
APP_ID = 190019
APP_SLUG = "tformance-demo"


def iso(moment: datetime) -> str:
    """GitHub's time format: UTC, whole seconds, a Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def user(login: str, github_id: int, *, kind: str = "User") -> dict[str, Any]:
    return {
        "login": login,
        "id": github_id,
        "node_id": f"U_demo{github_id}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{github_id}?v=4",
        "gravatar_id": "",
        "url": f"{API}/users/{login}",
        "html_url": f"{WEB}/{login}",
        "repos_url": f"{API}/users/{login}/repos",
        "type": kind,
        "site_admin": False,
    }


def organization(login: str, github_id: int) -> dict[str, Any]:
    return user(login, github_id, kind="Organization")


def repository(*, github_id: int, full_name: str, owner: dict[str, Any]) -> dict[str, Any]:
    name = full_name.split("/", 1)[1]
    url = f"{API}/repos/{full_name}"
    return {
        "id": github_id,
        "node_id": f"R_demo{github_id}",
        "name": name,
        "full_name": full_name,
        "private": True,
        "owner": owner,
        "html_url": f"{WEB}/{full_name}",
        "description": None,
        "fork": False,
        "url": url,
        "pulls_url": f"{url}/pulls{{/number}}",
        "created_at": "2024-03-04T09:12:44Z",
        "updated_at": "2025-01-10T16:02:19Z",
        "pushed_at": "2025-01-10T16:02:17Z",
        "clone_url": f"{WEB}/{full_name}.git",
        "default_branch": "main",
        "visibility": "private",
        "archived": False,
        "disabled": False,
    }


def repository_stub(*, github_id: int, full_name: str) -> dict[str, Any]:
    """A repository as installation events list it (the short form)."""
    return {
        "id": github_id,
        "node_id": f"R_demo{github_id}",
        "name": full_name.split("/", 1)[1],
        "full_name": full_name,
        "private": True,
    }


def installation_ref(installation_id: int) -> dict[str, Any]:
    """The installation block of a repository event: GitHub sends only these two."""
    return {
        "id": installation_id,
        "node_id": f"MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u{installation_id}",
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


# Keys the copy of a pull request embedded in review events does not carry.
NOT_IN_REVIEW_COPY = (
    "merged",
    "mergeable",
    "rebaseable",
    "mergeable_state",
    "merged_by",
    "comments",
    "review_comments",
    "maintainer_can_modify",
    "commits",
    "additions",
    "deletions",
    "changed_files",
)


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
    full_name = repo["full_name"]
    url = f"{API}/repos/{full_name}"
    html = f"{WEB}/{full_name}/pull/{number}"
    head_sha = f"{github_id:040x}"[-40:]
    merged = merged_at is not None
    return {
        "url": f"{url}/pulls/{number}",
        "id": github_id,
        "node_id": f"PR_demo{github_id}",
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": f"{url}/issues/{number}",
        "number": number,
        "state": state,
        "locked": False,
        "title": title,
        "user": author,
        "body": body,
        "created_at": iso(created_at),
        "updated_at": iso(updated_at),
        "closed_at": iso(closed_at) if closed_at else None,
        "merged_at": iso(merged_at) if merged_at else None,
        "merge_commit_sha": f"{github_id * 7:040x}"[-40:] if merged else None,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": requested_reviewers,
        "requested_teams": [],
        "labels": [
            {
                "id": 5000 + sum(map(ord, name)),
                "node_id": f"LA_demo{name}",
                "url": f"{url}/labels/{name}",
                "name": name,
                "color": "d73a4a" if name == "hotfix" else "0e8a16",
                "default": False,
                "description": None,
            }
            for name in labels
        ],
        "milestone": None,
        "draft": draft,
        "commits_url": f"{url}/pulls/{number}/commits",
        "review_comments_url": f"{url}/pulls/{number}/comments",
        "comments_url": f"{url}/issues/{number}/comments",
        "statuses_url": f"{url}/statuses/{head_sha}",
        "head": {
            "label": f"{repo['owner']['login']}:{head_ref}",
            "ref": head_ref,
            "sha": head_sha,
            "user": repo["owner"],
            "repo": repo,
        },
        "base": {
            "label": f"{repo['owner']['login']}:main",
            "ref": "main",
            "sha": f"{github_id * 3:040x}"[-40:],
            "user": repo["owner"],
            "repo": repo,
        },
        "_links": {
            "self": {"href": f"{url}/pulls/{number}"},
            "html": {"href": html},
            "issue": {"href": f"{url}/issues/{number}"},
            "commits": {"href": f"{url}/pulls/{number}/commits"},
        },
        "author_association": "MEMBER",
        "auto_merge": None,
        "active_lock_reason": None,
        "merged": merged,
        "mergeable": None if state == "open" else True,
        "rebaseable": None,
        "mergeable_state": "unknown",
        "merged_by": author if merged else None,
        "comments": 0,
        "review_comments": 0,
        "maintainer_can_modify": False,
        "commits": commits,
        "additions": additions,
        "deletions": deletions,
        "changed_files": max(1, (additions + deletions) // 40),
    }


def review_copy(pull_request_object: dict[str, Any]) -> dict[str, Any]:
    """The pull request as review events embed it."""
    return {k: v for k, v in pull_request_object.items() if k not in NOT_IN_REVIEW_COPY}


def review(
    *,
    github_id: int,
    reviewer: dict[str, Any],
    state: str,
    submitted_at: datetime,
    pull_request_object: dict[str, Any],
    body: str | None,
) -> dict[str, Any]:
    html = f"{pull_request_object['html_url']}#pullrequestreview-{github_id}"
    return {
        "id": github_id,
        "node_id": f"PRR_demo{github_id}",
        "user": reviewer,
        "body": body,
        "commit_id": pull_request_object["head"]["sha"],
        "submitted_at": iso(submitted_at),
        "state": state,
        "html_url": html,
        "pull_request_url": pull_request_object["url"],
        "author_association": "MEMBER",
        "_links": {"html": {"href": html}, "pull_request": {"href": pull_request_object["url"]}},
    }

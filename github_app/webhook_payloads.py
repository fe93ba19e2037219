"""GitHub's webhook objects, built: users, repositories, pull requests, reviews
and the pull_request and pull_request_review events that carry them, in the
shape GitHub sends (the fields GitHub documents, the URL fields included).

The one builder of these objects: the demo's story (apps/demo/) posts them, and
the tests build their payloads with it. Every argument has a default (example
values: the tests' team "acme"):

    pull_request_payload(action="opened", pr_id=1, number=7, installation_id=42,
                         repository_id=100, repository_full_name="acme/api")
    review_payload(action="submitted", review_id=9, pr_id=1, number=7, review_state="approved",
                   reviewer_id=5, reviewer_login="bob", installation_id=42, ...)

Keyword arguments not named in the signature override keys of the pull_request
object as they are (e.g. merged=True, requested_reviewers=[...]); pass
`omit=("additions",)` to drop keys, the way older or partial payloads lack them.
Times are ISO 8601 strings, as GitHub sends (`iso` writes one).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

API = "https://api.github.com"
WEB = "https://github.com"

DEFAULT_INSTALLATION_ID = 42
DEFAULT_REPOSITORY_ID = 186853002
DEFAULT_REPOSITORY_FULL_NAME = "acme/api"
DEFAULT_AUTHOR_ID = 21031067
DEFAULT_AUTHOR_LOGIN = "Codertocat"
DEFAULT_CREATED_AT = "2025-01-01T10:00:00Z"


def iso(moment: datetime) -> str:
    """GitHub's time format: UTC, whole seconds, a Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


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


def user(
    login: str = DEFAULT_AUTHOR_LOGIN,
    github_id: int = DEFAULT_AUTHOR_ID,
    *,
    user_type: str = "User",
) -> dict[str, Any]:
    """A user block; user_type is "User", "Bot" or "Organization", as GitHub writes it."""
    return {
        "login": login,
        "id": github_id,
        "node_id": f"MDQ6VXNlcj{github_id}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{github_id}?v=4",
        "gravatar_id": "",
        "url": f"{API}/users/{login}",
        "html_url": f"{WEB}/{login}",
        "followers_url": f"{API}/users/{login}/followers",
        "following_url": f"{API}/users/{login}/following{{/other_user}}",
        "gists_url": f"{API}/users/{login}/gists{{/gist_id}}",
        "starred_url": f"{API}/users/{login}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{API}/users/{login}/subscriptions",
        "organizations_url": f"{API}/users/{login}/orgs",
        "repos_url": f"{API}/users/{login}/repos",
        "events_url": f"{API}/users/{login}/events{{/privacy}}",
        "received_events_url": f"{API}/users/{login}/received_events",
        "type": user_type,
        "site_admin": False,
    }


# A repository block's API links, as (key, path under the repository's API URL):
# they are most of its size, and with the copies in a pull request's head and
# base, most of a payload's (20 KB here; GitHub's are 20 to 30 KB).
REPOSITORY_LINKS = (
    ("forks_url", "/forks"),
    ("keys_url", "/keys{/key_id}"),
    ("collaborators_url", "/collaborators{/collaborator}"),
    ("teams_url", "/teams"),
    ("hooks_url", "/hooks"),
    ("issue_events_url", "/issues/events{/number}"),
    ("events_url", "/events"),
    ("assignees_url", "/assignees{/user}"),
    ("branches_url", "/branches{/branch}"),
    ("tags_url", "/tags"),
    ("blobs_url", "/git/blobs{/sha}"),
    ("git_tags_url", "/git/tags{/sha}"),
    ("git_refs_url", "/git/refs{/sha}"),
    ("trees_url", "/git/trees{/sha}"),
    ("statuses_url", "/statuses/{sha}"),
    ("languages_url", "/languages"),
    ("stargazers_url", "/stargazers"),
    ("contributors_url", "/contributors"),
    ("subscribers_url", "/subscribers"),
    ("subscription_url", "/subscription"),
    ("commits_url", "/commits{/sha}"),
    ("git_commits_url", "/git/commits{/sha}"),
    ("comments_url", "/comments{/number}"),
    ("issue_comment_url", "/issues/comments{/number}"),
    ("contents_url", "/contents/{+path}"),
    ("compare_url", "/compare/{base}...{head}"),
    ("merges_url", "/merges"),
    ("archive_url", "/{archive_format}{/ref}"),
    ("downloads_url", "/downloads"),
    ("issues_url", "/issues{/number}"),
    ("pulls_url", "/pulls{/number}"),
    ("milestones_url", "/milestones{/number}"),
    ("notifications_url", "/notifications{?since,all,participating}"),
    ("labels_url", "/labels{/name}"),
    ("releases_url", "/releases{/id}"),
    ("deployments_url", "/deployments"),
)


def repository(
    repository_id: int = DEFAULT_REPOSITORY_ID,
    full_name: str = DEFAULT_REPOSITORY_FULL_NAME,
    *,
    owner: dict[str, Any] | None = None,
) -> dict[str, Any]:
    owner_login, _, name = full_name.partition("/")
    url = f"{API}/repos/{full_name}"
    return {
        "id": repository_id,
        "node_id": f"MDEwOlJlcG9zaXRvcnk{repository_id}",
        "name": name,
        "full_name": full_name,
        "private": True,
        "owner": owner or user(owner_login, 38302899, user_type="Organization"),
        "html_url": f"{WEB}/{full_name}",
        "description": None,
        "fork": False,
        "url": url,
        **{key: url + path for key, path in REPOSITORY_LINKS},
        "created_at": "2024-05-15T15:19:25Z",
        "updated_at": "2024-05-15T15:21:14Z",
        "pushed_at": "2024-05-15T15:20:57Z",
        "git_url": f"git://github.com/{full_name}.git",
        "ssh_url": f"git@github.com:{full_name}.git",
        "clone_url": f"{WEB}/{full_name}.git",
        "svn_url": f"{WEB}/{full_name}",
        "homepage": None,
        "size": 1204,
        "stargazers_count": 0,
        "watchers_count": 0,
        "language": "Python",
        "has_issues": True,
        "has_projects": True,
        "has_downloads": True,
        "has_wiki": False,
        "has_pages": False,
        "forks_count": 0,
        "mirror_url": None,
        "archived": False,
        "disabled": False,
        "open_issues_count": 3,
        "license": None,
        "forks": 0,
        "open_issues": 3,
        "watchers": 0,
        "default_branch": "main",
        "is_template": False,
        "topics": [],
        "visibility": "private",
        "web_commit_signoff_required": False,
        "custom_properties": {},
    }


def label(name: str, full_name: str = DEFAULT_REPOSITORY_FULL_NAME) -> dict[str, Any]:
    return {
        "id": zlib.crc32(name.encode()),
        "node_id": "MDU6TGFiZWwxMzYyOTM0Mzg5",
        "url": f"{API}/repos/{full_name}/labels/{name}",
        "name": name,
        "color": "d73a4a",
        "default": False,
        "description": None,
    }


def pull_request_object(
    *,
    pr_id: int = 279147437,
    number: int = 2,
    title: str = "Update the README with new information.",
    body: str | None = "This is a pretty simple change that we need to pull into main.",
    state: str = "open",
    draft: bool = False,
    merged: bool = False,
    created_at: str = DEFAULT_CREATED_AT,
    updated_at: str | None = None,
    closed_at: str | None = None,
    merged_at: str | None = None,
    additions: int = 1,
    deletions: int = 1,
    labels: Sequence[str] = (),
    head_ref: str = "changes",
    base_ref: str = "main",
    author_id: int = DEFAULT_AUTHOR_ID,
    author_login: str = DEFAULT_AUTHOR_LOGIN,
    author_type: str = "User",
    repository_id: int = DEFAULT_REPOSITORY_ID,
    repository_full_name: str = DEFAULT_REPOSITORY_FULL_NAME,
    omit: tuple[str, ...] = (),
    **overrides: Any,
) -> dict[str, Any]:
    """The pull_request object of a pull_request event (the full shape)."""
    url = f"{API}/repos/{repository_full_name}"
    html = f"{WEB}/{repository_full_name}/pull/{number}"
    author = user(author_login, author_id, user_type=author_type)
    repo = repository(repository_id, repository_full_name)
    head_sha, base_sha = (
        "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
        "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
    )
    pull_request: dict[str, Any] = {
        "url": f"{url}/pulls/{number}",
        "id": pr_id,
        "node_id": f"MDExOlB1bGxSZXF1ZXN0{pr_id}",
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
        "created_at": created_at,
        "updated_at": updated_at or merged_at or closed_at or created_at,
        "closed_at": closed_at,
        "merged_at": merged_at,
        "merge_commit_sha": "c4295bd74fb0f4fda03689c3df3f2803b658fd85" if merged else None,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "labels": [label(name, repository_full_name) for name in labels],
        "milestone": None,
        "draft": draft,
        "commits_url": f"{url}/pulls/{number}/commits",
        "review_comments_url": f"{url}/pulls/{number}/comments",
        "review_comment_url": f"{url}/pulls/comments{{/number}}",
        "comments_url": f"{url}/issues/{number}/comments",
        "statuses_url": f"{url}/statuses/{head_sha}",
        "head": {
            "label": f"{author_login}:{head_ref}",
            "ref": head_ref,
            "sha": head_sha,
            "user": author,
            "repo": repo,
        },
        "base": {
            "label": f"{repository_full_name.partition('/')[0]}:{base_ref}",
            "ref": base_ref,
            "sha": base_sha,
            "user": repo["owner"],
            "repo": repo,
        },
        "_links": {
            "self": {"href": f"{url}/pulls/{number}"},
            "html": {"href": html},
            "issue": {"href": f"{url}/issues/{number}"},
            "comments": {"href": f"{url}/issues/{number}/comments"},
            "review_comments": {"href": f"{url}/pulls/{number}/comments"},
            "review_comment": {"href": f"{url}/pulls/comments{{/number}}"},
            "commits": {"href": f"{url}/pulls/{number}/commits"},
            "statuses": {"href": f"{url}/statuses/{head_sha}"},
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
        "commits": 1,
        "additions": additions,
        "deletions": deletions,
        "changed_files": 1,
    }
    pull_request.update(overrides)
    for key in omit:
        pull_request.pop(key, None)
    return pull_request


def pull_request_payload(
    action: str = "opened",
    *,
    installation_id: int | None = DEFAULT_INSTALLATION_ID,
    repository_id: int = DEFAULT_REPOSITORY_ID,
    repository_full_name: str = DEFAULT_REPOSITORY_FULL_NAME,
    sender_login: str = DEFAULT_AUTHOR_LOGIN,
    sender_id: int = DEFAULT_AUTHOR_ID,
    **pull_request_fields: Any,
) -> dict[str, Any]:
    """A pull_request event body; pull_request_fields go to pull_request_object."""
    pull_request = pull_request_object(
        repository_id=repository_id,
        repository_full_name=repository_full_name,
        **pull_request_fields,
    )
    payload: dict[str, Any] = {
        "action": action,
        "number": pull_request["number"],
        "pull_request": pull_request,
    }
    if action in ("labeled", "unlabeled") and pull_request["labels"]:
        payload["label"] = pull_request["labels"][-1]
    if action == "synchronize":
        payload["before"] = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
        payload["after"] = pull_request["head"]["sha"]
    payload["repository"] = repository(repository_id, repository_full_name)
    if installation_id is not None:
        payload["installation"] = installation_ref(installation_id)
    payload["sender"] = user(sender_login, sender_id)
    return payload


def installation_ref(installation_id: int) -> dict[str, Any]:
    """The installation block of a repository event: GitHub sends only these two."""
    return {
        "id": installation_id,
        "node_id": f"MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u{installation_id}",
    }


def review_copy(pull_request: dict[str, Any]) -> dict[str, Any]:
    """The pull request as review events embed it."""
    return {k: v for k, v in pull_request.items() if k not in NOT_IN_REVIEW_COPY}


def review_object(
    *,
    review_id: int,
    reviewer: dict[str, Any],
    state: str,
    submitted_at: str | None,
    pull_request: dict[str, Any],
    body: str | None = None,
) -> dict[str, Any]:
    """The review object of a pull_request_review event."""
    html = f"{pull_request['html_url']}#pullrequestreview-{review_id}"
    return {
        "id": review_id,
        "node_id": f"MDE3OlB1bGxSZXF1ZXN0UmV2aWV3{review_id}",
        "user": reviewer,
        "body": body,
        "commit_id": pull_request["head"]["sha"],
        "submitted_at": submitted_at,
        "state": state,
        "html_url": html,
        "pull_request_url": pull_request["url"],
        "author_association": "MEMBER",
        "_links": {
            "html": {"href": html},
            "pull_request": {"href": pull_request["url"]},
        },
    }


def review_payload(
    action: str = "submitted",
    *,
    review_id: int = 237895671,
    review_state: str = "approved",
    submitted_at: str | None = "2025-01-01T12:00:00Z",
    reviewer_id: int = 5346,
    reviewer_login: str = "octocat",
    reviewer_type: str = "User",
    review_body: str | None = None,
    installation_id: int | None = DEFAULT_INSTALLATION_ID,
    repository_id: int = DEFAULT_REPOSITORY_ID,
    repository_full_name: str = DEFAULT_REPOSITORY_FULL_NAME,
    **pull_request_fields: Any,
) -> dict[str, Any]:
    """A pull_request_review event body. Its pull request is GitHub's embedded copy:
    no merged, additions or deletions (pull_request_fields go to pull_request_object;
    the copy's updated_at defaults to the review's time)."""
    pull_request_fields.setdefault("updated_at", submitted_at)
    omit = (*NOT_IN_REVIEW_COPY, *pull_request_fields.pop("omit", ()))
    pull_request = pull_request_object(
        repository_id=repository_id,
        repository_full_name=repository_full_name,
        omit=omit,
        **pull_request_fields,
    )
    reviewer = user(reviewer_login, reviewer_id, user_type=reviewer_type)
    payload: dict[str, Any] = {
        "action": action,
        "review": review_object(
            review_id=review_id,
            reviewer=reviewer,
            state="dismissed" if action == "dismissed" else review_state,
            submitted_at=submitted_at,
            pull_request=pull_request,
            body=review_body,
        ),
        "pull_request": pull_request,
        "repository": repository(repository_id, repository_full_name),
    }
    if action == "edited":
        payload["changes"] = {"body": {"from": ""}}
    if installation_id is not None:
        payload["installation"] = installation_ref(installation_id)
    payload["sender"] = reviewer
    return payload


def rest_pull_request_item(**pull_request_fields: Any) -> dict[str, Any]:
    """An item of GET /repos/{owner}/{repo}/pulls, as backfill reads it: the
    list endpoint leaves out merged, additions, deletions and the counts."""
    omit = (*NOT_IN_REVIEW_COPY, *pull_request_fields.pop("omit", ()))
    return pull_request_object(omit=omit, **pull_request_fields)


# --- deployments --------------------------------------------------------------------


def deployment_object(
    *,
    deployment_id: int = 145988746,
    sha: str = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
    ref: str = "main",
    environment: str = "production",
    production_environment: bool | None = None,
    created_at: str = DEFAULT_CREATED_AT,
    updated_at: str | None = None,
    repository_full_name: str = DEFAULT_REPOSITORY_FULL_NAME,
) -> dict[str, Any]:
    """The deployment object of deployment and deployment_status events.
    ``production_environment`` None leaves the key out, as older payloads do."""
    url = f"{API}/repos/{repository_full_name}/deployments/{deployment_id}"
    owner_login = repository_full_name.partition("/")[0]
    deployment: dict[str, Any] = {
        "url": url,
        "id": deployment_id,
        "node_id": f"MDEwOkRlcGxveW1lbnQ{deployment_id}",
        "sha": sha,
        "ref": ref,
        "task": "deploy",
        "payload": {},
        "original_environment": environment,
        "environment": environment,
        "description": None,
        "creator": user(owner_login, DEFAULT_AUTHOR_ID),
        "created_at": created_at,
        "updated_at": updated_at or created_at,
        "statuses_url": f"{url}/statuses",
        "repository_url": f"{API}/repos/{repository_full_name}",
    }
    if production_environment is not None:
        deployment["production_environment"] = production_environment
    return deployment


def deployment_payload(
    action: str = "created",
    *,
    installation_id: int | None = DEFAULT_INSTALLATION_ID,
    repository_id: int = DEFAULT_REPOSITORY_ID,
    repository_full_name: str = DEFAULT_REPOSITORY_FULL_NAME,
    **deployment_fields: Any,
) -> dict[str, Any]:
    """A deployment event body; deployment_fields go to deployment_object."""
    payload: dict[str, Any] = {
        "action": action,
        "deployment": deployment_object(
            repository_full_name=repository_full_name, **deployment_fields
        ),
        "repository": repository(repository_id, repository_full_name),
        "sender": user(DEFAULT_AUTHOR_LOGIN, DEFAULT_AUTHOR_ID),
    }
    if installation_id is not None:
        payload["installation"] = installation_ref(installation_id)
    return payload


def deployment_status_payload(
    *,
    state: str = "success",
    status_id: int = 209916254,
    status_at: str = DEFAULT_CREATED_AT,
    installation_id: int | None = DEFAULT_INSTALLATION_ID,
    repository_id: int = DEFAULT_REPOSITORY_ID,
    repository_full_name: str = DEFAULT_REPOSITORY_FULL_NAME,
    **deployment_fields: Any,
) -> dict[str, Any]:
    """A deployment_status event body (action created): one status of the
    deployment that deployment_fields describe, GitHub-dated ``status_at``."""
    payload = deployment_payload(
        installation_id=installation_id,
        repository_id=repository_id,
        repository_full_name=repository_full_name,
        **deployment_fields,
    )
    deployment = payload["deployment"]
    payload["deployment_status"] = {
        "url": f"{deployment['url']}/statuses/{status_id}",
        "id": status_id,
        "node_id": f"MDE2OkRlcGxveW1lbnRTdGF0dXM{status_id}",
        "state": state,
        "creator": deployment["creator"],
        "description": "",
        "environment": deployment["environment"],
        "target_url": "",
        "log_url": "",
        "created_at": status_at,
        "updated_at": status_at,
        "deployment_url": deployment["url"],
        "repository_url": deployment["repository_url"],
    }
    return {"action": "created", **{k: v for k, v in payload.items() if k != "action"}}


def release_payload(
    action: str = "published",
    *,
    release_id: int = 17372790,
    tag_name: str = "v1.0.0",
    target_commitish: str = "main",
    draft: bool = False,
    prerelease: bool = False,
    created_at: str = DEFAULT_CREATED_AT,
    published_at: str | None = DEFAULT_CREATED_AT,
    installation_id: int | None = DEFAULT_INSTALLATION_ID,
    repository_id: int = DEFAULT_REPOSITORY_ID,
    repository_full_name: str = DEFAULT_REPOSITORY_FULL_NAME,
) -> dict[str, Any]:
    """A release event body."""
    url = f"{API}/repos/{repository_full_name}/releases/{release_id}"
    author = user(DEFAULT_AUTHOR_LOGIN, DEFAULT_AUTHOR_ID)
    payload: dict[str, Any] = {
        "action": action,
        "release": {
            "url": url,
            "assets_url": f"{url}/assets",
            "upload_url": f"{url}/assets{{?name,label}}",
            "html_url": f"{WEB}/{repository_full_name}/releases/tag/{tag_name}",
            "id": release_id,
            "node_id": f"MDc6UmVsZWFzZT{release_id}",
            "tag_name": tag_name,
            "target_commitish": target_commitish,
            "name": tag_name,
            "draft": draft,
            "author": author,
            "prerelease": prerelease,
            "created_at": created_at,
            "published_at": published_at,
            "assets": [],
            "tarball_url": f"{API}/repos/{repository_full_name}/tarball/{tag_name}",
            "zipball_url": f"{API}/repos/{repository_full_name}/zipball/{tag_name}",
            "body": None,
        },
        "repository": repository(repository_id, repository_full_name),
        "sender": author,
    }
    if installation_id is not None:
        payload["installation"] = installation_ref(installation_id)
    return payload


def workflow_run_payload(
    action: str = "completed",
    *,
    run_id: int = 1589141559,
    run_attempt: int = 1,
    path: str = ".github/workflows/deploy.yml",
    head_sha: str = "5779607b49aab1200488439f02372c57b4f75444",
    head_branch: str = "main",
    status: str = "completed",
    conclusion: str | None = "success",
    run_started_at: str = DEFAULT_CREATED_AT,
    updated_at: str = DEFAULT_CREATED_AT,
    installation_id: int | None = DEFAULT_INSTALLATION_ID,
    repository_id: int = DEFAULT_REPOSITORY_ID,
    repository_full_name: str = DEFAULT_REPOSITORY_FULL_NAME,
) -> dict[str, Any]:
    """A workflow_run event body (the fields the metrics read, and the usual ones)."""
    repo = repository(repository_id, repository_full_name)
    url = f"{API}/repos/{repository_full_name}/actions/runs/{run_id}"
    workflow_id = zlib.crc32(path.encode())
    payload: dict[str, Any] = {
        "action": action,
        "workflow": {
            "id": workflow_id,
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "state": "active",
        },
        "workflow_run": {
            "id": run_id,
            "name": path.rsplit("/", 1)[-1],
            "node_id": f"WFR_{run_id}",
            "head_branch": head_branch,
            "head_sha": head_sha,
            "path": path,
            "run_number": run_id % 1000,
            "run_attempt": run_attempt,
            "event": "push",
            "status": status,
            "conclusion": conclusion,
            "workflow_id": workflow_id,
            "url": url,
            "html_url": f"{WEB}/{repository_full_name}/actions/runs/{run_id}",
            "pull_requests": [],
            "created_at": run_started_at,
            "updated_at": updated_at,
            "run_started_at": run_started_at,
            "head_repository": repo,
            "repository": repo,
        },
        "repository": repo,
        "sender": user(DEFAULT_AUTHOR_LOGIN, DEFAULT_AUTHOR_ID),
    }
    if installation_id is not None:
        payload["installation"] = installation_ref(installation_id)
    return payload

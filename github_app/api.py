"""Every REST endpoint tformance calls, as typed functions.

Each takes a client built by `github_app.client` (acting as the app, an
installation or a user) and returns plain values; GitHub's errors arrive already
mapped to `github_app.errors` by the client. Items that are stored as GitHub
sent them (installation and repository blocks, read by the same code as the
webhooks' copies) stay mappings, read tolerantly; what the callers decide on is
checked here. GraphQL and the app's delivery log sit beside this module."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from githubkit import GitHub

from github_app.errors import Forbidden, GitHubError, NotFound
from github_app.pagination import PER_PAGE, ListPage, iter_pages, read_page
from github_app.values import github_id, timestamp_or_none


@dataclass(frozen=True, slots=True)
class AuthenticatedUser:
    github_id: int
    login: str


def user_installations(github: GitHub[Any]) -> list[dict[str, Any]]:
    """``GET /user/installations``, every page: the installations of the app
    that the user's token can access (as GitHub's installation blocks)."""
    return list(iter_pages(github, "/user/installations", items_key="installations"))


def authenticated_user(github: GitHub[Any]) -> AuthenticatedUser:
    """``GET /user``: who the user's token belongs to."""
    body = github.request("GET", "/user").json()
    github_id = body.get("id") if isinstance(body, Mapping) else None
    login = body.get("login") if isinstance(body, Mapping) else None
    if not isinstance(github_id, int) or isinstance(github_id, bool) or not isinstance(login, str):
        raise GitHubError("GitHub's answer to GET /user has no user id and login")
    return AuthenticatedUser(github_id=github_id, login=login)


def is_organisation_owner(github: GitHub[Any], *, organisation: str) -> bool:
    """``GET /user/memberships/orgs/{org}``: whether the user is an active owner
    (role admin) of the organisation. Needs the app's ``Members: read``
    permission; without it GitHub answers 403, which reads as not an owner."""
    if not organisation:
        return False
    try:
        body = github.request(
            "GET", f"/user/memberships/orgs/{quote(organisation, safe='')}"
        ).json()
    except (NotFound, Forbidden):
        return False
    if not isinstance(body, Mapping):
        return False
    return body.get("state") == "active" and body.get("role") == "admin"


def installation_repositories(github: GitHub[Any]) -> list[dict[str, Any]]:
    """``GET /installation/repositories``, every page: the repositories the
    installation's token can reach (as GitHub's repository blocks)."""
    return list(iter_pages(github, "/installation/repositories", items_key="repositories"))


def compare_commits(github: GitHub[Any], *, full_name: str, base: str, head: str) -> list[str]:
    """``GET /repos/{owner}/{repo}/compare/{base}...{head}``, every page: the
    shas of the commits reachable from ``head`` and not from ``base`` (none when
    ``head`` is behind: a rollback). GitHub pages the commits (``Link``), 250 at
    most on its first answer."""
    owner, _, name = full_name.partition("/")
    if not owner or not name:
        raise GitHubError(f"not a repository's full name: {full_name!r}")
    path = (
        f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}"
        f"/compare/{quote(base, safe='')}...{quote(head, safe='')}"
    )
    shas = []
    for commit in iter_pages(github, path, items_key="commits"):
        sha = commit.get("sha")
        if isinstance(sha, str):
            shas.append(sha)
    return shas


def commit_sha(github: GitHub[Any], *, full_name: str, ref: str) -> str:
    """``GET /repos/{owner}/{repo}/commits/{ref}``: the sha of the commit a
    tag, branch or sha names."""
    owner, _, name = full_name.partition("/")
    if not owner or not name or not ref:
        raise GitHubError(f"not a repository and ref: {full_name!r} {ref!r}")
    body = github.request(
        "GET",
        f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}/commits/{quote(ref, safe='')}",
    ).json()
    sha = body.get("sha") if isinstance(body, Mapping) else None
    if not isinstance(sha, str) or len(sha) != 40:
        raise GitHubError(f"GitHub's answer to GET commits/{ref} has no sha")
    return sha.lower()


def _repository_path(full_name: str) -> str:
    owner, _, name = full_name.partition("/")
    if not owner or not name:
        raise GitHubError(f"not a repository's full name: {full_name!r}")
    return f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}"


def deployment_latest_status(
    github: GitHub[Any], *, full_name: str, deployment_id: int
) -> dict[str, Any] | None:
    """``GET /repos/{owner}/{repo}/deployments/{id}/statuses?per_page=100``: its
    newest status by ``created_at``, then ``id``; None when it has none."""
    # GitHub's reference for "List deployment statuses" documents no order, so
    # the first status of a page is not known to be the newest: a full first
    # page is read (the most one request gives) and the newest chosen by
    # GitHub's time, then by id for two in the same second (ids only grow).
    body = github.request(
        "GET",
        f"{_repository_path(full_name)}/deployments/{int(deployment_id)}/statuses",
        params={"per_page": PER_PAGE},
    ).json()
    if not isinstance(body, list):
        raise GitHubError("GitHub's answer to GET deployments/{id}/statuses was not a list")
    statuses = [status for status in body if isinstance(status, dict)]
    return max(statuses, key=_status_order, default=None)


def _status_order(status: Mapping[str, Any]) -> tuple[datetime, int]:
    # A status without a readable time or id sorts before those with one.
    created_at = timestamp_or_none(status.get("created_at")) or datetime.min.replace(tzinfo=UTC)
    return created_at, github_id(status.get("id")) or 0


def repository_block(github: GitHub[Any], *, full_name: str) -> dict[str, Any]:
    """``GET /repos/{owner}/{repo}``: the repository, as the webhooks' block."""
    body = github.request("GET", _repository_path(full_name)).json()
    if not isinstance(body, dict):
        raise GitHubError(f"GitHub's answer to GET /repos/{full_name} was not an object")
    return body


# --- one page at a time, for a read that stores where it stands -------------------
# (the deployments' history: docs/history.md). ``next_url`` empty reads the
# first page; else the page a previous one's ``next_url`` named.


def deployments_page(github: GitHub[Any], *, full_name: str, next_url: str = "") -> ListPage:
    """A page of ``GET /repos/{owner}/{repo}/deployments`` (newest first)."""
    return read_page(github, f"{_repository_path(full_name)}/deployments", next_url=next_url)


def releases_page(github: GitHub[Any], *, full_name: str, next_url: str = "") -> ListPage:
    """A page of ``GET /repos/{owner}/{repo}/releases`` (newest first)."""
    return read_page(github, f"{_repository_path(full_name)}/releases", next_url=next_url)


# The most runs GitHub answers to one filtered query of a workflow's runs.
RUNS_PER_QUERY = 1000


def workflow_runs_page(
    github: GitHub[Any],
    *,
    full_name: str,
    workflow_file: str,
    branch: str,
    since: str,
    next_url: str = "",
) -> ListPage:
    """A page of the completed runs of one workflow on one branch created since
    ``since`` (a date, YYYY-MM-DD): ``GET .../actions/workflows/{file}/runs``."""
    path = f"{_repository_path(full_name)}/actions/workflows/{quote(workflow_file, safe='')}/runs"
    params = {"branch": branch, "status": "completed", "created": f">={since}"}
    page = read_page(github, path, next_url=next_url, items_key="workflow_runs", params=params)
    if page.next_url is not None or not page.items or (page.total_count or 0) <= RUNS_PER_QUERY:
        return page
    # GitHub answers at most 1,000 runs to a query filtered by branch, status
    # or creation (this endpoint's docs), and then gives no next page: the
    # rest are asked for as the runs created up to the oldest one read (those
    # created at that very second come twice, and are stored once).
    # Read as times, not text: a run's junk created_at must not reach the query.
    created = [timestamp_or_none(run.get("created_at")) for run in page.items]
    known = [moment for moment in created if moment is not None]
    if not known:
        return page
    oldest = min(known).strftime("%Y-%m-%dT%H:%M:%SZ")
    query = urlencode(
        {
            "branch": branch,
            "status": "completed",
            "created": f"{since}..{oldest}",
            "per_page": PER_PAGE,
        }
    )
    following = f"{path}?{query}"
    if following == next_url:  # no older run to ask for
        return page
    return ListPage(items=page.items, next_url=following, total_count=page.total_count)

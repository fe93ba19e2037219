"""A pull request's commits, from GitHub's GraphQL API, and the one adapter that
shapes them as the metrics read them (a ``pull_request_commits`` event).

Two reads, both free of Django:

- ``pull_request_commits``: every commit of one pull request, by repository
  and number, paged past 100 (the live path: one merged pull request);
- ``pull_requests_commits``: the commits of several pull requests at once, by
  their GraphQL node ids (history's pages), each pull request with more than
  100 commits then paged on by ``pull_request_commits``.

The adapter: ``commits_payload`` turns the commit nodes into the event's payload,
each commit in the shape of GitHub's REST list of a pull request's commits
(``sha``, ``commit.message``, ``commit.author.date``, ``commit.committer.date``)
with ``authors``, the commit's authors that are GitHub accounts (GraphQL lists
the co-authors GitHub matched too).

Errors are history's (``github_app.history``): ``RateLimited``,
``PageTooLarge``, ``HistoryError`` for an answer that cannot be used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from githubkit import GitHub

from github_app.history import HistoryError, RateLimit, _query, _rate_limit
from github_app.values import github_id

COMMITS_PER_PAGE = 100
# GitHub lists at most 250 commits of a pull request; past this many pages the
# answer is no list GitHub makes.
MAX_PAGES = 30
# Pull requests asked for in one query of history's (GitHub's most for
# `nodes(ids:)`: a page's merged ones in one query), each with its first 100
# commits. GitHub prices a query by the connections it opens (one per pull
# request here: a commit's `author` is not a connection), divided by 100 and
# rounded, at least 1: 100 of them is 101 requests, 1 point, where the commits'
# `authors(first: 10)` made 25 pull requests about 25 points.
PULL_REQUESTS_PER_QUERY = 100
EVENT = "pull_request_commits"

_COMMIT_FIELDS = """
        pageInfo { hasNextPage endCursor }
        nodes { commit {
          oid message authoredDate committedDate
          author { email name user { databaseId login } }
        } }"""

PULL_REQUEST_COMMITS_QUERY = f"""
query PullRequestCommits($owner: String!, $name: String!, $number: Int!, $after: String) {{
  rateLimit {{ cost remaining resetAt }}
  repository(owner: $owner, name: $name) {{
    pullRequest(number: $number) {{
      commits(first: {COMMITS_PER_PAGE}, after: $after) {{{_COMMIT_FIELDS}
      }}
    }}
  }}
}}
"""

PULL_REQUESTS_COMMITS_QUERY = f"""
query PullRequestsCommits($ids: [ID!]!) {{
  rateLimit {{ cost remaining resetAt }}
  nodes(ids: $ids) {{
    ... on PullRequest {{
      id number
      commits(first: {COMMITS_PER_PAGE}) {{{_COMMIT_FIELDS}
      }}
    }}
  }}
}}
"""


@dataclass(frozen=True, slots=True)
class CommitsAnswer:
    """One of GitHub's answers: its data, its ``rateLimit`` figures and the
    seconds it took (what a pacer reads)."""

    data: Mapping[str, Any]
    rate_limit: RateLimit
    seconds: float


# How each request is made: at once (``unpaced``), or admitted by a pacer first
# (history's, which also counts it).
Pace = Callable[[Callable[[], CommitsAnswer]], CommitsAnswer]


def unpaced(read: Callable[[], CommitsAnswer]) -> CommitsAnswer:
    return read()


def _ask(
    github: GitHub[Any], endpoint: str, query: str, variables: Mapping[str, Any], pace: Pace
) -> CommitsAnswer:
    def read() -> CommitsAnswer:
        data, seconds = _query(github, endpoint, query, variables)
        return CommitsAnswer(data=data, rate_limit=_rate_limit(data), seconds=seconds)

    return pace(read)


@dataclass(frozen=True, slots=True)
class PullRequestCommits:
    """One pull request's commit nodes (``{"commit": {...}}``), all of them."""

    node_id: str
    number: int | None
    nodes: list[dict[str, Any]]


def pull_request_commits(
    github: GitHub[Any],
    *,
    endpoint: str,
    full_name: str,
    number: int,
    after: str | None = None,
    pace: Pace = unpaced,
) -> tuple[list[dict[str, Any]], RateLimit]:
    """Every commit node of the pull request (after ``after``), paged; and the
    rate limit as the last page left it."""
    owner, _, name = full_name.partition("/")
    nodes: list[dict[str, Any]] = []
    rate_limit = RateLimit(cost=0, remaining=-1, reset_at=None)
    for _ in range(MAX_PAGES):
        answer = _ask(
            github,
            endpoint,
            PULL_REQUEST_COMMITS_QUERY,
            {"owner": owner, "name": name, "number": number, "after": after},
            pace,
        )
        data, rate_limit = answer.data, answer.rate_limit
        repository = data.get("repository")
        if not isinstance(repository, Mapping):
            raise HistoryError(f"GitHub does not show {full_name} to this installation")
        pull_request = repository.get("pullRequest")
        if not isinstance(pull_request, Mapping):
            raise HistoryError(f"GitHub has no pull request #{number} in {full_name}")
        page, after = _commit_page(pull_request.get("commits"))
        nodes.extend(page)
        if after is None:
            return nodes, rate_limit
    raise HistoryError(f"#{number} of {full_name} lists more commits than GitHub lists")


def pull_requests_commits(
    github: GitHub[Any],
    *,
    endpoint: str,
    full_name: str,
    node_ids: Sequence[str],
    pace: Pace = unpaced,
) -> tuple[list[PullRequestCommits], RateLimit]:
    """The commits of the pull requests with these node ids (of one repository),
    ``PULL_REQUESTS_PER_QUERY`` at a query; a pull request with more than a
    page of commits is paged on by number."""
    found: list[PullRequestCommits] = []
    rate_limit = RateLimit(cost=0, remaining=-1, reset_at=None)
    for start in range(0, len(node_ids), PULL_REQUESTS_PER_QUERY):
        ids = list(node_ids[start : start + PULL_REQUESTS_PER_QUERY])
        answer = _ask(github, endpoint, PULL_REQUESTS_COMMITS_QUERY, {"ids": ids}, pace)
        data, rate_limit = answer.data, answer.rate_limit
        nodes = data.get("nodes")
        if not isinstance(nodes, list):
            raise HistoryError("GitHub's GraphQL answer has no nodes")
        for node in nodes:
            if not isinstance(node, Mapping) or not isinstance(node.get("id"), str):
                continue  # a pull request deleted since its page was read
            number = node.get("number")
            number = number if isinstance(number, int) and not isinstance(number, bool) else None
            page, after = _commit_page(node.get("commits"))
            if after is not None and number is not None:
                more, rate_limit = pull_request_commits(
                    github,
                    endpoint=endpoint,
                    full_name=full_name,
                    number=number,
                    after=after,
                    pace=pace,
                )
                page.extend(more)
            found.append(PullRequestCommits(node_id=node["id"], number=number, nodes=page))
    return found, rate_limit


def _commit_page(connection: object) -> tuple[list[dict[str, Any]], str | None]:
    """A page of commit nodes, and the cursor of the next page (None: no more)."""
    if not isinstance(connection, Mapping):
        raise HistoryError("GitHub's GraphQL answer has no commits")
    page_info = connection.get("pageInfo")
    page_info = page_info if isinstance(page_info, Mapping) else {}
    nodes = connection.get("nodes")
    page = [node for node in (nodes if isinstance(nodes, list) else []) if isinstance(node, dict)]
    cursor = page_info.get("endCursor")
    more = page_info.get("hasNextPage") is True and isinstance(cursor, str)
    return page, (cursor if more and isinstance(cursor, str) else None)


# --- the adapter: GraphQL commit nodes to the event's payload ------------------------


def commit_item(node: Mapping[str, Any]) -> dict[str, Any] | None:
    """The REST-shaped item of a GraphQL commit node (``{"commit": {...}}``),
    or None for a node without a commit."""
    commit = node.get("commit")
    if not isinstance(commit, Mapping):
        return None
    # The commit's author: a GitHub account (``user``) when GitHub matched the
    # email to one. Co-authors are read from the message's trailers.
    author = commit.get("author")
    first: Mapping[str, Any] = author if isinstance(author, Mapping) else {}
    accounts: list[dict[str, Any]] = []
    user = first.get("user")
    if isinstance(user, Mapping) and (user_id := github_id(user.get("databaseId"))):
        accounts.append({"id": user_id, "login": user.get("login")})
    return {
        "sha": commit.get("oid"),
        "commit": {
            "message": commit.get("message"),
            "author": {
                "name": first.get("name"),
                "email": first.get("email"),
                "date": commit.get("authoredDate"),
            },
            "committer": {"date": commit.get("committedDate")},
        },
        "authors": accounts,
    }


def commits_payload(
    *,
    pull_request_id: int,
    number: int,
    nodes: Sequence[Mapping[str, Any]],
    repository: Mapping[str, Any],
) -> dict[str, Any]:
    """The ``pull_request_commits`` event of one pull request's commit nodes (all of them)."""
    items = [item for node in nodes if (item := commit_item(node)) is not None]
    return {
        "action": "listed",
        "pull_request": {"id": pull_request_id, "number": number},
        "repository": dict(repository),
        "commits": items,
    }
